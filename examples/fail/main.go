// Command fail is a stdio function that always fails: it writes a message to stderr and exits
// with status 3. It shows how a function's failure and its log reach the caller.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fail: this function always fails (exit status 3)")
	os.Exit(3)
}

// Command sleep is a stdio function that sleeps: stdin holds a number of seconds (default 60),
// optionally followed by the word "tick" to write "tick <n>" to stderr every second while it
// sleeps (a log that grows while the job runs). It prints {"sleptS": n} when done. Used to
// exercise deadlines and live progress.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sleep: reading stdin:", err)
		os.Exit(1)
	}
	seconds := 60.0
	fields := strings.Fields(string(raw))
	tick := len(fields) == 2 && fields[1] == "tick"
	if len(fields) > 0 {
		if seconds, err = strconv.ParseFloat(fields[0], 64); err != nil || seconds < 0 || (len(fields) > 1 && !tick) {
			fmt.Fprintln(os.Stderr, "sleep: stdin must be a non-negative number of seconds, optionally followed by \"tick\"")
			os.Exit(2)
		}
	}
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for n := 1; tick && time.Until(deadline) > time.Second; n++ {
		time.Sleep(time.Second)
		fmt.Fprintf(os.Stderr, "tick %d\n", n)
	}
	time.Sleep(time.Until(deadline))
	_ = json.NewEncoder(os.Stdout).Encode(map[string]float64{"sleptS": seconds})
}

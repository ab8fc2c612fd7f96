// Command sleep is a stdio function that sleeps: stdin holds a number of seconds (default 60).
// It prints {"sleptS": n} when done. Used to exercise deadlines.
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
	if text := strings.TrimSpace(string(raw)); text != "" {
		if seconds, err = strconv.ParseFloat(text, 64); err != nil || seconds < 0 {
			fmt.Fprintln(os.Stderr, "sleep: stdin must be a non-negative number of seconds")
			os.Exit(2)
		}
	}
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	_ = json.NewEncoder(os.Stdout).Encode(map[string]float64{"sleptS": seconds})
}

// Command hog is a stdio function that allocates memory: stdin holds a number of MiB (default
// 1024); it allocates and touches that much, one MiB at a time, then prints {"allocatedMb": n}.
// Run under a smaller memory limit, it is killed by the kernel's OOM killer.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hog: reading stdin:", err)
		os.Exit(1)
	}
	mb := 1024
	if text := strings.TrimSpace(string(raw)); text != "" {
		if mb, err = strconv.Atoi(text); err != nil || mb < 0 {
			fmt.Fprintln(os.Stderr, "hog: stdin must be a non-negative number of MiB")
			os.Exit(2)
		}
	}
	held := make([][]byte, 0, mb)
	for i := 0; i < mb; i++ {
		block := make([]byte, 1<<20)
		for j := range block {
			block[j] = byte(i + j)
		}
		held = append(held, block)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"allocatedMb": len(held)})
}

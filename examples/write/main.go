// Command write is a stdio function that tries to write files: stdin holds lines of
// "<path> <bytes>"; it writes that many bytes to each path and prints
// {"results": [{"path", "bytes", "written", "error"}]}. It exits 0 only when every write
// succeeded and 1 otherwise, naming the failures on stderr. In a ChainFaaS container the root
// file system is read-only and /tmp is a small tmpfs: writing to /etc fails (read-only file
// system) and writing more than the tmpfs holds fails (no space left on device).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

type result struct {
	Path    string `json:"path"`
	Bytes   int    `json:"bytes"`
	Written bool   `json:"written"`
	Error   string `json:"error,omitempty"`
}

func main() {
	results := []result{}
	failed := 0
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) != 2 {
			continue
		}
		size, err := strconv.Atoi(fields[1])
		if err != nil || size < 0 {
			fmt.Fprintln(os.Stderr, "write: the size must be a non-negative number:", fields[1])
			os.Exit(2)
		}
		entry := result{Path: fields[0], Bytes: size}
		if err := write(fields[0], size); err != nil {
			failed++
			entry.Error = err.Error()
			fmt.Fprintf(os.Stderr, "write: %v\n", err)
		} else {
			entry.Written = true
		}
		results = append(results, entry)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string][]result{"results": results})
	if failed > 0 {
		os.Exit(1)
	}
}

func write(path string, size int) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	block := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(block) {
		if left < len(block) {
			block = block[:left]
		}
		if _, err := file.Write(block); err != nil {
			_ = file.Close()
			return err
		}
	}
	return file.Close()
}

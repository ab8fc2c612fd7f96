// Command sha256 is a stdio function: it reads its whole input from stdin and prints one JSON
// object with the input's SHA-256 (hex), its size in bytes and its number of whitespace-separated
// words.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

type summary struct {
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	Words  int    `json:"words"`
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sha256: reading stdin:", err)
		os.Exit(1)
	}
	sum := sha256.Sum256(input)
	words := 0
	scanner := bufio.NewScanner(bytes.NewReader(input))
	scanner.Buffer(make([]byte, 64*1024), len(input)+1)
	scanner.Split(bufio.ScanWords)
	for scanner.Scan() {
		words++
	}
	out := summary{SHA256: hex.EncodeToString(sum[:]), Bytes: len(input), Words: words}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "sha256: writing stdout:", err)
		os.Exit(1)
	}
}

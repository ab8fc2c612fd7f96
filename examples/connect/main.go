// Command connect is a stdio function that tries to open network connections: stdin holds one
// TCP address (host:port) per line (default "1.1.1.1:443"); it dials each with a two-second
// timeout and prints {"results": [{"address", "connected", "error"}]}. It exits 0 only when every
// address connected and 1 otherwise, naming the failures on stderr: under network "none" every
// dial fails inside the container and the job is reported as failed with exit code 1.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

type result struct {
	Address   string `json:"address"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect: reading stdin:", err)
		os.Exit(2)
	}
	addresses := strings.Fields(string(raw))
	if len(addresses) == 0 {
		addresses = []string{"1.1.1.1:443"}
	}
	results := make([]result, 0, len(addresses))
	failed := 0
	for _, address := range addresses {
		conn, err := net.DialTimeout("tcp", address, 2*time.Second)
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "connect: %s: %v\n", address, err)
			results = append(results, result{Address: address, Error: err.Error()})
			continue
		}
		_ = conn.Close()
		results = append(results, result{Address: address, Connected: true})
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string][]result{"results": results})
	if failed > 0 {
		os.Exit(1)
	}
}

// Command netinfo is a stdio function that describes the network it can see: it prints
// {"interfaces": [{"name", "up", "addrs"}]}. A container started with network "none" sees only
// the loopback interface.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
)

type iface struct {
	Name  string   `json:"name"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs"`
}

func main() {
	list, err := net.Interfaces()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netinfo: listing interfaces:", err)
		os.Exit(1)
	}
	out := make([]iface, 0, len(list))
	for _, i := range list {
		entry := iface{Name: i.Name, Up: i.Flags&net.FlagUp != 0, Addrs: []string{}}
		if addrs, err := i.Addrs(); err == nil {
			for _, a := range addrs {
				entry.Addrs = append(entry.Addrs, a.String())
			}
		}
		out = append(out, entry)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string][]iface{"interfaces": out})
}

// Command relay lets the provider agent reach an http-protocol function that has no network.
//
// The function's container runs with network "none" (or on the egress bridge): nothing on the
// host can open a TCP connection to it, and it can open none to the host. The agent starts this
// relay in a second container that joins the function's network namespace (Docker's network
// mode "container:<id>"), so the relay sees the function's loopback interface and nothing else.
// The relay listens on a Unix socket in a directory bind-mounted from the agent's machine and
// connects every accepted connection to 127.0.0.1:<port>, copying bytes both ways. It never
// listens on TCP, so the function cannot reach the agent through it.
//
// Usage: relay <unix socket path> <port>
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: relay <unix socket path> <port>")
		os.Exit(2)
	}
	socket := os.Args[1]
	port, err := strconv.Atoi(os.Args[2])
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintln(os.Stderr, "relay: the port must be a number from 1 to 65535")
		os.Exit(2)
	}
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	_ = os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "relay: accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go relay(conn, target)
	}
}

// relay copies one connection to the function and back. When the function does not accept a
// connection yet, the agent's connection is closed without a byte: the agent's readiness probe
// sees that and tries again.
func relay(agent net.Conn, target string) {
	defer agent.Close()
	function, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return
	}
	defer function.Close()
	var once sync.Once
	done := make(chan struct{})
	finish := func() { once.Do(func() { close(done) }) }
	go func() {
		_, _ = io.Copy(function, agent)
		finish()
	}()
	go func() {
		_, _ = io.Copy(agent, function)
		finish()
	}()
	<-done
}

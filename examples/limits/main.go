// Command limits is a stdio function that runs into the container's limits and carries on, the
// way a careful program does: stdin holds one word per limit to try, and it exits 0 whatever the
// kernel refused. "processes": starts sleeping copies of itself until the kernel refuses one
// (the pids limit), then waits for them. "memory": starts one copy that allocates until the
// kernel's OOM killer stops it (the memory limit), then goes on. "scratch": writes /tmp/fill until
// the tmpfs is full (no space left on device), then deletes it. "log": writes 64 KiB to stderr.
// It prints {"tried": [...], "refused": {"<limit>": "<what the kernel said>"}}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		child(os.Args[1])
		return
	}
	tried := []string{}
	refused := map[string]string{}
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		for _, word := range strings.Fields(scanner.Text()) {
			tried = append(tried, word)
			switch word {
			case "processes":
				refused[word] = processes()
			case "memory":
				refused[word] = memory()
			case "scratch":
				refused[word] = scratch()
			case "log":
				fmt.Fprint(os.Stderr, strings.Repeat("limits: a long log line for the log cap\n", 64*1024/40))
				refused[word] = "nothing: the agent keeps what fits"
			default:
				fmt.Fprintf(os.Stderr, "limits: unknown limit %q\n", word)
				os.Exit(2)
			}
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"tried": tried, "refused": refused})
}

var attr = &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}

// processes starts sleeping children until one is refused, then waits for all of them.
func processes() string {
	var pids []int
	defer func() {
		for _, pid := range pids {
			var status syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &status, 0, nil)
		}
	}()
	for i := 0; i < 100000; i++ {
		pid, err := syscall.ForkExec("/proc/self/exe", []string{"limits", "sleep"}, attr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "limits: process %d refused: %v\n", len(pids)+1, err)
			return err.Error()
		}
		pids = append(pids, pid)
	}
	return "nothing was refused"
}

// memory starts one child that allocates until it is killed, and waits for it.
func memory() string {
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"limits", "allocate"}, attr)
	if err != nil {
		return "could not start the child: " + err.Error()
	}
	var status syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &status, 0, nil); err != nil {
		return err.Error()
	}
	if status.Signaled() {
		fmt.Fprintf(os.Stderr, "limits: the allocating child was killed by %v\n", status.Signal())
		return "child killed by " + status.Signal().String()
	}
	return fmt.Sprintf("child exited with %d", status.ExitStatus())
}

// scratch fills /tmp until the file system refuses, then removes what it wrote.
func scratch() string {
	file, err := os.Create("/tmp/fill")
	if err != nil {
		return err.Error()
	}
	defer os.Remove("/tmp/fill")
	defer file.Close()
	block := make([]byte, 1<<20)
	for {
		if _, err := file.Write(block); err != nil {
			fmt.Fprintf(os.Stderr, "limits: writing /tmp/fill: %v\n", err)
			// Held a moment full, as a program that notices and cleans up would be.
			time.Sleep(300 * time.Millisecond)
			return err.Error()
		}
	}
}

func child(role string) {
	switch role {
	case "sleep":
		time.Sleep(1500 * time.Millisecond)
	case "allocate":
		var held [][]byte
		for {
			block := make([]byte, 1<<20)
			for j := range block {
				block[j] = 1
			}
			held = append(held, block)
		}
	}
}

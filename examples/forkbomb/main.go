// Command forkbomb is a stdio function that tries to exhaust the machine's processes: every
// process it starts starts more copies of itself, for ever, retrying when the kernel refuses.
// In a ChainFaaS container the pids limit caps the whole tree; the bomb never finishes on its
// own and is killed at the job's deadline. The first refusal is written to stderr.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	self := "/proc/self/exe"
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	reported := false
	for {
		if _, err := syscall.ForkExec(self, []string{"forkbomb"}, attr); err != nil {
			if !reported && len(os.Args) > 0 {
				fmt.Fprintf(os.Stderr, "forkbomb (pid %d): cannot start another process: %v\n", os.Getpid(), err)
				reported = true
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

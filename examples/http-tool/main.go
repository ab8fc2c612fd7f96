// Command http-tool is an http-protocol function for testing providers: it serves POST /invoke
// on $PORT (default 8080) and treats the request body as a command:
//
//	count          answers {"requests": n, "pid": p}: n counts the requests this process served
//	sleep <s>      sleeps s seconds, then answers "slept"
//	alloc <MiB>    allocates and touches that much memory, then answers {"allocatedMb": n}
//	big <bytes>    answers that many bytes of "x"
//	log <text>     writes text to stderr, then answers "logged"
//	status <code>  writes "failing with <code>" to stderr and answers with that HTTP status
//	exit <code>    writes "exiting with <code>" to stderr and exits during the request
//	anything else  answers the body unchanged
//
// Before it listens it waits START_DELAY_MS milliseconds; with LISTEN=no it never listens, with
// EXIT_AT_START=<code> it exits at once with that status.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var requests int64

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if ms, err := strconv.Atoi(os.Getenv("START_DELAY_MS")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if code, err := strconv.Atoi(os.Getenv("EXIT_AT_START")); err == nil {
		fmt.Fprintln(os.Stderr, "http-tool: exiting at start with", code)
		os.Exit(code)
	}
	if os.Getenv("LISTEN") == "no" {
		fmt.Fprintln(os.Stderr, "http-tool: not listening, as asked")
		for {
			time.Sleep(time.Hour)
		}
	}
	http.HandleFunc("/invoke", invoke)
	fmt.Fprintln(os.Stderr, "http-tool: listening on", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "http-tool:", err)
		os.Exit(1)
	}
}

func invoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	served := atomic.AddInt64(&requests, 1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	command, arg, _ := strings.Cut(strings.TrimSpace(string(body)), " ")
	number, _ := strconv.Atoi(arg)
	switch command {
	case "count":
		_ = json.NewEncoder(w).Encode(map[string]int64{"requests": served, "pid": int64(os.Getpid())})
	case "sleep":
		time.Sleep(time.Duration(number) * time.Second)
		_, _ = w.Write([]byte("slept"))
	case "alloc":
		held := make([][]byte, 0, number)
		for i := 0; i < number; i++ {
			block := make([]byte, 1<<20)
			for j := range block {
				block[j] = byte(i + j)
			}
			held = append(held, block)
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"allocatedMb": len(held)})
	case "big":
		_, _ = w.Write(bytes.Repeat([]byte("x"), number))
	case "log":
		fmt.Fprintln(os.Stderr, arg)
		_, _ = w.Write([]byte("logged"))
	case "status":
		fmt.Fprintln(os.Stderr, "failing with", number)
		w.WriteHeader(number)
		_, _ = w.Write([]byte("failed on purpose"))
	case "exit":
		fmt.Fprintln(os.Stderr, "exiting with", number)
		os.Exit(number)
	default:
		_, _ = w.Write(body)
	}
}

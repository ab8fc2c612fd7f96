// Command escape is a hostile stdio function for the security tests: it tries, one after the
// other, the known ways out of a container and prints {"attempts": [{"name", "blocked", "detail"}]}.
// An attempt is "blocked" when the kernel refused it. It exits 0 only if every attempt was
// blocked. Run as "/suid-escape euid" it prints its effective user id (the setuid-root copy of
// itself: with no-new-privileges the bit is ignored).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type attempt struct {
	Name    string `json:"name"`
	Blocked bool   `json:"blocked"`
	Detail  string `json:"detail"`
}

var attempts []attempt

// try records one attempt: err == nil means the attempt succeeded (the container let it through).
func try(name string, err error, success string) {
	if err != nil {
		attempts = append(attempts, attempt{name, true, err.Error()})
		return
	}
	attempts = append(attempts, attempt{name, false, success})
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "euid" {
		fmt.Print(os.Geteuid())
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(30 * time.Second)
		return
	}
	// Line 1 of stdin: the host pid of the test process (to try to reach it across the pid namespace).
	raw, _ := io.ReadAll(os.Stdin)
	hostPid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))

	// The kernel's magic SysRq trigger (a write could crash or reboot the host).
	try("write /proc/sysrq-trigger", writeFile("/proc/sysrq-trigger", "h"), "wrote to /proc/sysrq-trigger")
	try("write /proc/sys/kernel/core_pattern", writeFile("/proc/sys/kernel/core_pattern", "|/escape"), "replaced the host's core_pattern")
	try("write /sys/kernel/uevent_helper", writeFile("/sys/kernel/uevent_helper", "/escape"), "set the host's uevent helper")

	// The host's Docker socket, by its usual paths and over TCP.
	for _, path := range []string{"/var/run/docker.sock", "/run/docker.sock"} {
		conn, err := net.DialTimeout("unix", path, time.Second)
		if conn != nil {
			conn.Close()
		}
		try("connect "+path, err, "connected to the Docker socket")
	}
	for _, addr := range []string{"172.17.0.1:2375", "127.0.0.1:2375"} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if conn != nil {
			conn.Close()
		}
		try("connect tcp "+addr, err, "connected to a Docker API port")
	}

	// Raw sockets (CAP_NET_RAW) and packet sockets.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err == nil {
		syscall.Close(fd)
	}
	try("raw ICMP socket", err, "opened a raw socket")
	fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0x0300)
	if err == nil {
		syscall.Close(fd)
	}
	try("packet socket", err, "opened a packet socket")

	// Privileges: become root directly, or through a setuid-root binary.
	try("setuid(0)", syscall.Setuid(0), "became root")
	out, err := exec.Command("/suid-escape", "euid").Output()
	if err == nil && strings.TrimSpace(string(out)) != "0" {
		err = fmt.Errorf("the setuid bit was ignored: effective uid %s", strings.TrimSpace(string(out)))
	}
	try("exec a setuid-root binary", err, "a setuid-root binary ran as root")

	// ptrace: across the pid namespace (the host's pid), and our own pid 1.
	if hostPid > 0 {
		try(fmt.Sprintf("ptrace the host's pid %d", hostPid), ptraceAttach(hostPid), "attached to a host process")
	}
	try("ptrace pid 1", ptraceAttach(1), "attached to pid 1")

	// Mounts, namespaces, chroot, device nodes, kernel modules, the kernel's memory.
	os.MkdirAll("/tmp/m", 0o700)
	try("mount proc", syscall.Mount("proc", "/tmp/m", "proc", 0, ""), "mounted a new proc")
	try("mount the host's disk", syscall.Mount("/dev/sda1", "/tmp/m", "ext4", 0, ""), "mounted a disk")
	try("unshare a user namespace", syscall.Unshare(syscall.CLONE_NEWUSER), "created a user namespace")
	try("unshare a mount namespace", syscall.Unshare(syscall.CLONE_NEWNS), "created a mount namespace")
	try("chroot", syscall.Chroot("/tmp"), "changed root")
	try("mknod a block device", syscall.Mknod("/tmp/sda", syscall.S_IFBLK|0o600, 8<<8), "created a block device")
	_, _, errno := syscall.Syscall(syscall.SYS_INIT_MODULE, 0, 0, 0)
	try("load a kernel module", errnoErr(errno), "init_module returned success")
	try("read /proc/kcore", readSome("/proc/kcore"), "read the kernel's memory")

	blocked := 0
	for _, a := range attempts {
		if a.Blocked {
			blocked++
		} else {
			fmt.Fprintf(os.Stderr, "escape: %s: NOT blocked (%s)\n", a.Name, a.Detail)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string][]attempt{"attempts": attempts})
	if blocked != len(attempts) {
		os.Exit(1)
	}
}

func writeFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}

// readSome succeeds only if it reads at least one byte (a masked file reads as empty).
func readSome(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 16)
	n, err := f.Read(buf)
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("read 0 bytes (masked)")
	}
	return err
}

func ptraceAttach(pid int) error {
	err := syscall.PtraceAttach(pid)
	if err == nil {
		_ = syscall.PtraceDetach(pid)
	}
	return err
}

func errnoErr(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

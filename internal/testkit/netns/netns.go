// Package netns is what the network-namespace tests share (the failover
// tests in gateway/failover and the stack twin in tests/twin): namespaces
// made with ip(8), sockets opened inside one, processes run inside one,
// and the client's record of answers with the fencing check.
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips the test unless it can build namespaces: root, ip(8),
// and not -short.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root (they run as root in CI)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("network namespace tests need ip (iproute2): %v", err)
	}
	if testing.Short() {
		t.Skip("network namespace tests are skipped in -short mode")
	}
}

// IP runs ip(8) with args, failing the test on error.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Add creates namespace name with its loopback up, removed when the test
// ends. A namespace of that name left by a crashed earlier run is removed
// first, so callers tag names with their pid.
func Add(t testing.TB, name string) string {
	t.Helper()
	_ = exec.Command("ip", "netns", "del", name).Run()
	IP(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	IP(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// In runs fn on a thread inside namespace ns: sockets it creates
// (listeners, connections) belong to that namespace. Each call has its own
// thread, so a slow connect does not delay the others; the thread is never
// unlocked, so it exits with its goroutine instead of going back to the
// scheduler inside a foreign namespace.
func In[T any](ns string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := fn()
		res <- result{v, err}
	}()
	r := <-res
	return r.v, r.err
}

// Dialer dials from inside namespace ns; it fits http.Transport.DialContext.
func Dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return In(ns, func() (net.Conn, error) { var d net.Dialer; return d.DialContext(ctx, network, addr) })
	}
}

// Proc is a process running inside a namespace, in its own process group
// (ip netns exec and the command), killed when the test ends.
type Proc struct {
	Cmd  *exec.Cmd
	Done chan struct{} // closed when it has exited
}

// Start runs args inside ns with env added to this process's environment.
// Its stderr goes to this process's when the variable logs is set.
func Start(t testing.TB, ns, logs string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv(logs) != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, Done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.Done) }()
	t.Cleanup(func() { p.Stop(syscall.SIGKILL) })
	return p
}

// Signal sends s to the process group.
func (p *Proc) Signal(s syscall.Signal) error { return syscall.Kill(-p.Cmd.Process.Pid, s) }

// Stop sends s to the process group and waits for the process to exit.
// Once it has exited Stop does nothing: its group id may be reused.
func (p *Proc) Stop(s syscall.Signal) {
	select {
	case <-p.Done:
		return
	default:
	}
	_ = p.Signal(s)
	<-p.Done
}

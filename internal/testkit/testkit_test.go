package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed atomic.Bool
}

func (f *fakeT) Helper()                    {}
func (f *fakeT) Fatalf(string, ...any)      { f.failed.Store(true) }
func (f *fakeT) Cleanup(fn func())          { f.TB.Cleanup(fn) }
func (f *fakeT) Fatal(args ...any)          { f.failed.Store(true) }
func (f *fakeT) Skip(args ...any)           { f.TB.Skip(args...) }
func (f *fakeT) Skipf(s string, a ...any)   { f.TB.Skipf(s, a...) }
func (f *fakeT) Logf(s string, args ...any) {}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
		}
	}()
	took := EventuallyWithin(t, Patience, "five increments", func() bool { return n.Load() == 5 })
	if took > Patience {
		t.Fatalf("took %v", took)
	}
	ft := &fakeT{TB: t}
	EventuallyWithin(ft, 20*time.Millisecond, "never", func() bool { return false })
	if !ft.failed.Load() {
		t.Fatal("a condition that never holds did not fail the test")
	}
	if Until(10*time.Millisecond, func() bool { return false }) {
		t.Fatal("Until reported a condition that never holds")
	}
}

func get(t *testing.T, url string) (int, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestHTTPBackendKillRestart(t *testing.T) {
	b := StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	if code, err := get(t, b.URL()); err != nil || code != 204 {
		t.Fatalf("GET = %d, %v", code, err)
	}
	addr := b.Addr()
	b.Kill()
	if _, err := get(t, b.URL()); err == nil {
		t.Fatal("a killed backend answered")
	}
	b.Restart(t)
	if code, err := get(t, b.URL()); err != nil || code != 204 || b.Addr() != addr {
		t.Fatalf("after restart: GET = %d, %v at %s, want 204 at %s", code, err, b.Addr(), addr)
	}
	if b.Hits() != 2 {
		t.Fatalf("hits %d, want 2", b.Hits())
	}
	demo := StartDemo(t, 2)
	if demo[1].ID != "b1" || demo[1].Demo == nil {
		t.Fatalf("demo backend %+v", demo[1])
	}
	if code, err := get(t, demo[1].URL()); err != nil || code != 200 || demo[1].Demo.Served() != 1 {
		t.Fatalf("demo GET = %d, %v, served %d", code, err, demo[1].Demo.Served())
	}
}

func TestTCPBackendKillRestart(t *testing.T) {
	b := StartTCP(t, "echo", func(b *TCPBackend, c net.Conn) { _, _ = io.Copy(c, c) })
	echo := func() error {
		c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "hi\n"); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	if err := echo(); err != nil {
		t.Fatal(err)
	}
	b.Kill()
	if err := echo(); err == nil {
		t.Fatal("a killed backend answered")
	}
	b.Restart(t)
	if err := echo(); err != nil || b.Accepted() != 2 {
		t.Fatalf("after restart: %v, accepted %d, want 2", err, b.Accepted())
	}
	if c, err := net.Dial("tcp", DeadAddr(t)); err == nil {
		c.Close()
		t.Fatal("DeadAddr accepted a connection")
	}
}

// TestBackendCommand starts this test binary as a backend process and
// stops it with SIGTERM, as `drawbridge backend` stops.
func TestBackendCommand(t *testing.T) {
	addr := DeadAddr(t)
	argv, env := BackendCommand(Serve)
	cmd := exec.Command(argv[0], append(argv[1:], "--listen", addr, "--id", "re")...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	Eventually(t, "the backend process to answer", func() bool {
		code, err := get(t, "http://"+addr+"/")
		return err == nil && code == 200
	})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the backend exited with %v on SIGTERM, want 0", err)
		}
	case <-time.After(Patience):
		t.Fatal("the backend did not stop on SIGTERM")
	}
}

func TestLog(t *testing.T) {
	var l Log[int]
	if v, n := l.Last(); v != 0 || n != 0 {
		t.Fatalf("empty Last = %d, %d", v, n)
	}
	done := make(chan struct{})
	for i := range 3 {
		go func() { l.Add(i); done <- struct{}{} }()
	}
	for range 3 {
		<-done
	}
	if l.Len() != 3 || len(l.All()) != 3 {
		t.Fatalf("Len %d, All %v; want 3 values", l.Len(), l.All())
	}
	l.Add(9)
	if v, n := l.Last(); v != 9 || n != 4 {
		t.Fatalf("Last = %d, %d; want 9, 4", v, n)
	}
}

// Kill is a crash: a request in flight loses its connection instead of
// being waited for.
func TestHTTPBackendKillCutsRequestsInFlight(t *testing.T) {
	started := make(chan struct{})
	b := StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
		case <-time.After(Patience): // a graceful Kill would wait this long
			w.WriteHeader(200)
		}
	}))
	got := make(chan error, 1)
	go func() {
		// No client timeout: only the backend may end this request.
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(b.URL())
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-started
	start := time.Now()
	b.Kill()
	if err := <-got; err == nil {
		t.Fatal("the request in flight was answered")
	}
	if d := time.Since(start); d > Patience/2 {
		t.Fatalf("Kill waited %v for the request in flight", d)
	}
}

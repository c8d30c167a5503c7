package l4

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// ioTimeout bounds every blocking read in the tests, so a bug fails the
// test instead of hanging it.
const ioTimeout = 5 * time.Second

// waitFor polls cond every millisecond for up to 5s. It waits for the
// effects of other goroutines; it never stands in for time passing (fake
// time is clock.Fake.Advance, real timeouts are waited for as conditions).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testBackend is a loopback TCP server whose handler the test chooses.
type testBackend struct {
	name     string
	addr     string
	handler  func(b *testBackend, c net.Conn)
	accepted atomic.Int64

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// nameEcho announces the backend's name on a line, then echoes until EOF.
func nameEcho(b *testBackend, c net.Conn) {
	if _, err := io.WriteString(c, b.name+"\n"); err != nil {
		return
	}
	io.Copy(c, c)
}

func startBackend(t testing.TB, name string, handler func(*testBackend, net.Conn)) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{name: name, addr: ln.Addr().String(), handler: handler, conns: make(map[net.Conn]struct{})}
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *testBackend) spec() upstream.Spec { return upstream.Spec{ID: b.name, Address: b.addr} }

func (b *testBackend) serve(ln net.Listener) {
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer func() {
					b.mu.Lock()
					delete(b.conns, c)
					b.mu.Unlock()
					c.Close()
				}()
				b.handler(b, c)
			}()
		}
	}()
}

// stop closes the listener and every connection and waits for the
// handlers. It is idempotent.
func (b *testBackend) stop() {
	b.mu.Lock()
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// restart listens again on the same address.
func (b *testBackend) restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	b.serve(ln)
}

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runningProxy is a Proxy serving on a loopback listener.
type runningProxy struct {
	*Proxy
	addr     string
	served   chan error
	stopOnce sync.Once
}

// startProxy builds a Proxy from cfg, applies setup (before serving, so
// that no connection races it) and serves it on a loopback listener.
func startProxy(t testing.TB, cfg Config, clk clock.Clock, setup ...func(*Proxy)) *runningProxy {
	t.Helper()
	if clk == nil {
		clk = clock.Real{}
	}
	p, err := New(cfg, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &runningProxy{Proxy: p, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { rp.served <- p.Serve(ln) }()
	t.Cleanup(func() { rp.stop(t) })
	return rp
}

// stop shuts the proxy down (closing what is left) and checks that Serve
// returned ErrClosed. It is idempotent.
func (rp *runningProxy) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // close whatever is still open at once
	rp.Shutdown(ctx)
	rp.stopOnce.Do(func() {
		select {
		case err := <-rp.served:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Serve returned %v, want ErrClosed", err)
			}
		case <-time.After(ioTimeout):
			t.Error("Serve did not return after Shutdown")
		}
	})
}

// client is a test connection through the proxy.
type client struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return dialFrom(t, addr, nil)
}

func dialFrom(t testing.TB, addr string, local net.Addr) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: ioTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, Conn: c, r: bufio.NewReader(c)}
}

// line reads one line (without the newline), failing the test on error.
func (c *client) line() string {
	c.t.Helper()
	s, err := c.readLine()
	if err != nil {
		c.t.Fatalf("reading a line: %v", err)
	}
	return s
}

func (c *client) readLine() (string, error) {
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// echo sends msg and expects it back.
func (c *client) echo(msg string) {
	c.t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	if got := c.line(); got != msg {
		c.t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// closedByPeer reports whether the connection ends (EOF or reset) within
// ioTimeout without delivering more data.
func (c *client) closedByPeer() bool {
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	var buf [1]byte
	_, err := c.r.Read(buf[:])
	if err == nil {
		return false
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// connectName opens a connection through the proxy and returns it with the
// name of the backend that answered.
func connectName(t testing.TB, addr string) (*client, string) {
	t.Helper()
	c := dial(t, addr)
	return c, c.line()
}

// backendStats finds id in s.
func backendStats(s Stats, id string) (BackendStats, bool) {
	for _, b := range s.Backends {
		if b.ID == id {
			return b, true
		}
	}
	return BackendStats{}, false
}

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

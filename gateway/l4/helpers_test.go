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
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// ioTimeout bounds every blocking read in the tests, so a bug fails the
// test instead of hanging it.
const ioTimeout = 5 * time.Second

// copyModes are the proxy's two copy paths: splice (the default, no
// IdleTimeout) and the user-space copy an IdleTimeout needs.
var copyModes = []struct {
	name string
	idle time.Duration
}{{"splice", 0}, {"buffered", time.Minute}}

// testBackend is a loopback TCP server whose handler the test chooses.
type testBackend = testkit.TCPBackend

// nameEcho announces the backend's name on a line, then echoes until EOF.
func nameEcho(b *testBackend, c net.Conn) {
	if _, err := io.WriteString(c, b.Name+"\n"); err != nil {
		return
	}
	io.Copy(c, c)
}

var (
	startBackend = testkit.StartTCP
	deadAddr     = testkit.DeadAddr
)

func spec(b *testBackend) upstream.Spec {
	return upstream.Spec{ID: b.Name, Address: b.Addr(), Weight: 1}
}

// config is a Config as the file gives it with only its backends written
// (SetDefaults); tests change the fields they are about.
func config(backends ...upstream.Spec) Config {
	var c Config
	c.SetDefaults()
	c.Backends = backends
	return c
}

// runningProxy is a Proxy serving on a loopback listener.
type runningProxy struct {
	*Proxy
	addr     string
	served   chan error
	stopOnce sync.Once
}

// startProxy builds a Proxy from cfg and opts (applied in New, so before
// serving: no connection races them) and serves it on a loopback listener.
func startProxy(t testing.TB, cfg Config, clk clock.Clock, opts ...Option) *runningProxy {
	t.Helper()
	if clk == nil {
		clk = clock.Real{}
	}
	p, err := New(cfg, clk, nil, opts...)
	if err != nil {
		t.Fatal(err)
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
		if err := testkit.Receive(t, rp.served, "Serve's return after Shutdown"); !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
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

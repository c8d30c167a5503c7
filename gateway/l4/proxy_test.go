package l4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func specs(bs ...*testBackend) []upstream.Spec {
	out := make([]upstream.Spec, len(bs))
	for i, b := range bs {
		out[i] = spec(b)
	}
	return out
}

func TestRoundRobinDistribution(t *testing.T) {
	a, b, c := startBackend(t, "a", nameEcho), startBackend(t, "b", nameEcho), startBackend(t, "c", nameEcho)
	cfg := config(specs(a, b, c)...)
	cfg.Strategy = "round_robin"
	p := startProxy(t, cfg, nil)

	counts := map[string]int{}
	for i := range 30 {
		cl, name := connectName(t, p.addr)
		cl.echo(fmt.Sprint("hello ", i))
		cl.Close()
		counts[name]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if counts[n] != 10 {
			t.Errorf("round_robin over 30 connections: %v, want 10 each", counts)
			break
		}
	}
	st := p.Stats()
	if st.Accepted != 30 || st.Failed != 0 || st.Refused != 0 {
		t.Errorf("stats %+v: want 30 accepted, none failed or refused", st)
	}
	testkit.Eventually(t, "connections to close", func() bool { return p.Stats().Open == 0 })
}

func TestLeastConnectionsLongLived(t *testing.T) {
	a, b := startBackend(t, "a", nameEcho), startBackend(t, "b", nameEcho)
	cfg := config(specs(a, b)...)
	cfg.Strategy = "least_connections"
	p := startProxy(t, cfg, nil)

	byName := map[string][]*client{}
	for range 4 {
		cl, name := connectName(t, p.addr)
		byName[name] = append(byName[name], cl)
	}
	if len(byName["a"]) != 2 || len(byName["b"]) != 2 {
		t.Fatalf("4 held connections split a=%d b=%d, want 2/2", len(byName["a"]), len(byName["b"]))
	}
	// Free backend a: the next two connections must both go there, since
	// b still holds two.
	for _, cl := range byName["a"] {
		cl.Close()
	}
	testkit.Eventually(t, "backend a to have no connections", func() bool {
		s, _ := backendStats(p.Stats(), "a")
		return s.Open == 0
	})
	for i := range 2 {
		cl, name := connectName(t, p.addr)
		defer cl.Close()
		if name != "a" {
			t.Fatalf("connection %d after freeing a went to %s (a has %d open, b has 2)", i, name, i)
		}
	}
	if s, _ := backendStats(p.Stats(), "b"); s.Open != 2 {
		t.Errorf("backend b open = %d, want 2", s.Open)
	}
}

func TestHashByClientIPSticky(t *testing.T) {
	for _, strategy := range []string{"ip_hash", "consistent_hash"} {
		t.Run(strategy, func(t *testing.T) {
			var bs []*testBackend
			for i := range 4 {
				bs = append(bs, startBackend(t, fmt.Sprint("b", i), nameEcho))
			}
			cfg := config(specs(bs...)...)
			cfg.Strategy = strategy
			p := startProxy(t, cfg, nil)

			// One client IP, many connections (and source ports): one backend.
			_, first := connectName(t, p.addr)
			for range 10 {
				cl, name := connectName(t, p.addr)
				cl.Close()
				if name != first {
					t.Fatalf("127.0.0.1 went to %s, then %s", first, name)
				}
			}
			// Different client IPs (all of 127/8 is loopback on Linux)
			// spread, and each stays where it went: the key is the IP.
			seen := map[string]bool{}
			for i := 2; i < 22; i++ {
				local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))}
				c1 := dialFrom(t, p.addr, local)
				n1 := c1.line()
				c2 := dialFrom(t, p.addr, local)
				n2 := c2.line()
				c1.Close()
				c2.Close()
				if n1 != n2 {
					t.Fatalf("client 127.0.0.%d went to %s, then %s", i, n1, n2)
				}
				seen[n1] = true
			}
			if len(seen) < 2 {
				t.Errorf("20 client IPs all hashed to %v: the client IP is not the key", seen)
			}
		})
	}
}

func TestDeadBackendSkippedByRetry(t *testing.T) {
	live := startBackend(t, "live", nameEcho)
	dead := upstream.Spec{ID: "dead", Address: deadAddr(t), Weight: 1}
	cfg := config(dead, spec(live))
	cfg.Strategy = "round_robin"
	p := startProxy(t, cfg, nil)

	for i := range 10 {
		cl, name := connectName(t, p.addr)
		if name != "live" {
			t.Fatalf("connection %d answered by %q", i, name)
		}
		cl.Close()
	}
	st := p.Stats()
	if st.Failed != 0 {
		t.Errorf("Failed = %d, want 0: the retry should hide the dead backend", st.Failed)
	}
	ds, _ := backendStats(st, "dead")
	if st.ConnectErrors == 0 || ds.ConnectFailures != st.ConnectErrors {
		t.Errorf("ConnectErrors = %d, dead backend failures = %d: want equal and > 0", st.ConnectErrors, ds.ConnectFailures)
	}
}

func TestAllBackendsDeadClosesClient(t *testing.T) {
	cfg := config(upstream.Spec{Address: deadAddr(t), Weight: 1}, upstream.Spec{Address: deadAddr(t), Weight: 1})
	cfg.ConnectRetries = 5 // more than there are backends: each is tried once
	p := startProxy(t, cfg, nil)
	cl := dial(t, p.addr)
	if !cl.closedByPeer() {
		t.Fatal("client connection not closed")
	}
	testkit.Eventually(t, "the failure to be counted", func() bool { return p.Stats().Failed == 1 })
	if st := p.Stats(); st.ConnectErrors != 2 {
		t.Errorf("ConnectErrors = %d, want 2 (each backend once)", st.ConnectErrors)
	}
}

func TestOutlierEjectsOnConnectFailure(t *testing.T) {
	live := startBackend(t, "live", nameEcho)
	dead := upstream.Spec{ID: "dead", Address: deadAddr(t), Weight: 1}
	clk := clock.NewFake(time.Unix(1e9, 0))
	p := startProxy(t, config(dead, spec(live)), clk,
		WithOutlier(health.OutlierConfig{ConsecutiveFailures: 1, MaxEjectionPercent: 100}))
	for range 2 { // round robin: one of the two tries the dead backend first
		cl, _ := connectName(t, p.addr)
		cl.Close()
	}
	if s, _ := backendStats(p.Stats(), "dead"); !s.Ejected || s.Available {
		t.Fatalf("dead backend after a failed connect: %+v, want ejected", s)
	}
}

func TestHealthCheckTCP(t *testing.T) {
	a, b := startBackend(t, "a", nameEcho), startBackend(t, "b", nameEcho)
	clk := clock.NewFake(time.Unix(1e9, 0))
	const interval = time.Second
	cfg := config(specs(a, b)...)
	cfg.Health = &HealthConfig{Interval: interval, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}
	p := startProxy(t, cfg, clk)
	ba := p.Backend("a")

	probes := func() uint64 {
		st, _ := p.checker.Status(ba)
		return st.Probes
	}
	// step advances time by one interval and waits for a's probe to land.
	step := func() {
		t.Helper()
		n := probes()
		clk.Advance(interval)
		testkit.Eventually(t, "a probe of a", func() bool { return probes() > n })
	}
	healthy := func() bool { s, _ := backendStats(p.Stats(), "a"); return s.Healthy && s.Available }

	step()
	if !healthy() {
		t.Fatal("a is unhealthy while up")
	}
	a.Kill()
	for i := 1; i <= 3; i++ {
		step()
		if want := i < 3; healthy() != want {
			t.Fatalf("after %d failed probes healthy = %v, want %v", i, !want, want)
		}
	}
	if s, _ := backendStats(p.Stats(), "a"); s.LastCheckError == "" {
		t.Error("no LastCheckError for a failed backend")
	}
	// While a is out, every connection goes to b.
	for range 4 {
		cl, name := connectName(t, p.addr)
		cl.Close()
		if name != "b" {
			t.Fatalf("connection went to %s while a is unhealthy", name)
		}
	}
	a.Restart(t)
	step()
	if healthy() {
		t.Fatal("a healthy after 1 passed probe, want 2")
	}
	step()
	if !healthy() {
		t.Fatal("a still unhealthy after 2 passed probes")
	}
}

// TestHalfClose: the client sends, then shuts its write side; the backend
// reads to EOF (which it only sees if the proxy passes the FIN on), then
// answers and closes; the client must read the whole answer.
func TestHalfClose(t *testing.T) {
	for _, mode := range copyModes {
		t.Run(mode.name, func(t *testing.T) {
			be := startBackend(t, "hc", func(_ *testBackend, c net.Conn) {
				data, err := io.ReadAll(c)
				if err != nil {
					return
				}
				c.Write([]byte("got:"))
				c.Write(data)
			})
			cfg := config(specs(be)...)
			cfg.IdleTimeout = mode.idle
			p := startProxy(t, cfg, nil)
			payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
			cl := dial(t, p.addr)
			go func() {
				cl.Write(payload)
				cl.Conn.(*net.TCPConn).CloseWrite()
			}()
			cl.SetReadDeadline(time.Now().Add(ioTimeout))
			got, err := io.ReadAll(cl)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if want := append([]byte("got:"), payload...); !bytes.Equal(got, want) {
				t.Fatalf("answer: %d bytes, want %d", len(got), len(want))
			}
			testkit.Eventually(t, "byte counters", func() bool {
				st := p.Stats()
				return st.BytesToBackends == uint64(len(payload)) && st.BytesToClients == uint64(len(payload)+4)
			})
		})
	}
}

// startIdleEcho starts a proxy with the given idle timeout in front of
// one echo backend, and a client connected through it.
func startIdleEcho(t *testing.T, idle time.Duration) (*runningProxy, *client) {
	be := startBackend(t, "a", nameEcho)
	cfg := config(specs(be)...)
	cfg.IdleTimeout = idle
	p := startProxy(t, cfg, nil)
	cl, _ := connectName(t, p.addr)
	return p, cl
}

func TestIdleTimeoutClosesIdleConnection(t *testing.T) {
	const idle = 100 * time.Millisecond
	p, cl := startIdleEcho(t, idle)
	cl.echo("still here")
	start := time.Now()
	if !cl.closedByPeer() {
		t.Fatal("idle connection not closed")
	}
	if el := time.Since(start); el < idle {
		t.Errorf("closed after %v of idleness, before the %v timeout", el, idle)
	}
	testkit.Eventually(t, "IdleClosed", func() bool { return p.Stats().IdleClosed == 1 })
}

func TestIdleTimeoutSparesActiveConnection(t *testing.T) {
	const idle = 400 * time.Millisecond
	p, cl := startIdleEcho(t, idle)
	// Traffic every 20ms for three idle periods: never idle, so never closed.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(3 * idle); time.Now().Before(end); <-tick.C {
		cl.echo("ping")
	}
	if n := p.Stats().IdleClosed; n != 0 {
		t.Fatalf("IdleClosed = %d on an active connection", n)
	}
}

// TestIdleTimeoutStalledReader: a client that stops reading while the
// backend keeps sending leaves the proxy blocked in a write; that counts as
// idle and must not pin the connection for ever.
func TestIdleTimeoutStalledReader(t *testing.T) {
	be := startBackend(t, "flood", func(_ *testBackend, c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	cfg := config(specs(be)...)
	cfg.IdleTimeout = 100 * time.Millisecond
	p := startProxy(t, cfg, nil)
	cl := dial(t, p.addr)
	// Half-close too, so that the client-to-backend direction ends and only
	// the blocked write is left to notice.
	cl.Conn.(*net.TCPConn).CloseWrite() // and never read
	testkit.Eventually(t, "the stalled connection to be closed", func() bool {
		st := p.Stats()
		return st.IdleClosed == 1 && st.Open == 0
	})
}

func TestShutdownWaitsForOpenConnection(t *testing.T) {
	be := startBackend(t, "a", nameEcho)
	p := startProxy(t, config(specs(be)...), nil)
	cl, _ := connectName(t, p.addr)

	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	testkit.Eventually(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// Not accepting any more, yet the open connection still works and
	// Shutdown is still waiting for it.
	cl.echo("draining")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a connection open", err)
	default:
	}
	cl.Close()
	if err := testkit.Receive(t, done, "Shutdown's return after the last connection closed"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownClosesAtDeadline(t *testing.T) {
	be := startBackend(t, "a", nameEcho)
	p := startProxy(t, config(specs(be)...), nil)
	cl, _ := connectName(t, p.addr)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	cl.echo("before the deadline")
	cancel()
	if err := testkit.Receive(t, done, "Shutdown's return when its context ended"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	if !cl.closedByPeer() {
		t.Fatal("connection still open after Shutdown's deadline")
	}
	if err := p.SetBackends(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetBackends after Shutdown = %v, want ErrClosed", err)
	}
}

func TestRemovedBackendDrains(t *testing.T) {
	a, b := startBackend(t, "a", nameEcho), startBackend(t, "b", nameEcho)
	clk := clock.NewFake(time.Unix(1e9, 0))
	const drain = 10 * time.Second
	cfg := config(specs(a, b)...)
	cfg.DrainTimeout = drain
	p := startProxy(t, cfg, clk)

	// One connection that ends on its own, one that outlives the deadline.
	var onA []*client
	for len(onA) < 2 {
		cl, name := connectName(t, p.addr)
		if name == "a" {
			onA = append(onA, cl)
		}
	}
	if err := p.SetBackends(specs(b)); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		cl, name := connectName(t, p.addr)
		cl.Close()
		if name == "a" {
			t.Fatal("a removed backend took a new connection")
		}
	}
	s, ok := backendStats(p.Stats(), "a")
	if !ok || !s.Draining || s.Open != 2 || s.Available {
		t.Fatalf("removed backend stats %+v (found %v), want draining with 2 open", s, ok)
	}
	onA[0].echo("finishing")
	onA[0].Close()
	testkit.Eventually(t, "a's first connection to end", func() bool { s, _ := backendStats(p.Stats(), "a"); return s.Open == 1 })

	clk.Advance(drain - time.Millisecond)
	onA[1].echo("still draining")
	clk.Advance(time.Millisecond)
	if !onA[1].closedByPeer() {
		t.Fatal("connection on the removed backend survived the drain deadline")
	}
	testkit.Eventually(t, "the removed backend to be forgotten", func() bool {
		_, ok := backendStats(p.Stats(), "a")
		return !ok
	})
	if n := p.Stats().DrainClosed; n != 1 {
		t.Errorf("DrainClosed = %d, want 1", n)
	}
}

func TestSetBackendsKeepsIdentity(t *testing.T) {
	p, err := New(config(upstream.Spec{ID: "a", Address: "127.0.0.1:1", Weight: 1}, upstream.Spec{ID: "b", Address: "127.0.0.1:2", Weight: 1}), clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	a, b := p.Backend("a"), p.Backend("b")
	a.Acquire() // state that must survive
	if err := p.SetBackends([]upstream.Spec{{ID: "a", Address: "127.0.0.1:1"}, {ID: "b", Address: "127.0.0.1:2", Weight: 3}}); err != nil {
		t.Fatal(err)
	}
	if p.Backend("a") != a || p.Backend("a").Inflight() != 1 {
		t.Error("unchanged backend a was replaced")
	}
	if nb := p.Backend("b"); nb != b || nb.Weight() != 3 || b.HasFlag(upstream.FlagDraining) {
		t.Error("backend b with a new weight was replaced, or kept its old weight")
	}
	if err := p.SetBackends([]upstream.Spec{{ID: "a", Address: "127.0.0.1:1"}, {ID: "b", Address: "127.0.0.1:3", Weight: 3}}); err != nil {
		t.Fatal(err)
	}
	if p.Backend("b") == b {
		t.Error("backend b with a new address was kept")
	}
	if !b.HasFlag(upstream.FlagDraining) {
		t.Error("the old version of b is not draining")
	}
	if err := p.SetBackends([]upstream.Spec{{Address: "nope"}}); err == nil {
		t.Error("SetBackends accepted a bad address")
	}
	if p.Backend("a") != a {
		t.Error("a failed SetBackends changed the membership")
	}
}

func TestMaxConnectionsRefusesExcess(t *testing.T) {
	be := startBackend(t, "a", nameEcho)
	cfg := config(specs(be)...)
	cfg.MaxConnections = 2
	p := startProxy(t, cfg, nil)
	c1, _ := connectName(t, p.addr)
	c2, _ := connectName(t, p.addr)
	defer c2.Close()

	c3 := dial(t, p.addr)
	if !c3.closedByPeer() {
		t.Fatal("third connection not refused")
	}
	testkit.Eventually(t, "the refusal to be counted", func() bool { return p.Stats().Refused == 1 })
	if n := be.Accepted(); n != 2 {
		t.Errorf("backend saw %d connections, want 2", n)
	}
	c1.Close()
	testkit.Eventually(t, "a slot to free up", func() bool { return p.Stats().Open == 1 })
	c4, _ := connectName(t, p.addr)
	c4.echo("admitted")
}

func TestProxyProtocolHeader(t *testing.T) {
	be := startBackend(t, "pp", func(_ *testBackend, c net.Conn) {
		line := make([]byte, 0, 108)
		var b [1]byte
		for !bytes.HasSuffix(line, []byte("\r\n")) && len(line) < cap(line) {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
			line = append(line, b[0])
		}
		c.Write(line)
	})
	cfg := config(specs(be)...)
	cfg.ProxyProtocol = true
	p := startProxy(t, cfg, nil)
	cl := dial(t, p.addr)
	cl.SetReadDeadline(time.Now().Add(ioTimeout))
	got, err := io.ReadAll(cl)
	if err != nil {
		t.Fatal(err)
	}
	local := cl.LocalAddr().(*net.TCPAddr)
	remote := cl.RemoteAddr().(*net.TCPAddr)
	want := fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", local.Port, remote.Port)
	if string(got) != want {
		t.Fatalf("backend saw %q, want %q", got, want)
	}
}

func TestProxyHeaderV1Families(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(mustAddrPort(t, s)) }
	for _, tc := range []struct {
		src, dst net.Addr
		want     string
	}{
		{tcp("192.0.2.1:56324"), tcp("198.51.100.1:443"), "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"},
		{tcp("[2001:db8::1]:1"), tcp("[2001:db8::2]:2"), "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"},
		{tcp("[::ffff:192.0.2.1]:5"), tcp("198.51.100.1:6"), "PROXY TCP4 192.0.2.1 198.51.100.1 5 6\r\n"},
		{tcp("192.0.2.1:5"), tcp("[2001:db8::2]:6"), "PROXY UNKNOWN\r\n"},
		{&net.UnixAddr{Name: "/x", Net: "unix"}, tcp("198.51.100.1:6"), "PROXY UNKNOWN\r\n"},
	} {
		if got := string(proxyHeaderV1(tc.src, tc.dst)); got != tc.want {
			t.Errorf("header(%v, %v) = %q, want %q", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config) // of a Config from SetDefaults
		opt  Option
		want string
	}{
		{"least_response_time", func(c *Config) { c.Strategy = "least_response_time" }, nil, "connect times"},
		{"unknown strategy", func(c *Config) { c.Strategy = "fastest" }, nil, "unknown strategy"},
		{"bad address", func(c *Config) { c.Backends = []upstream.Spec{{Address: "localhost", Weight: 1}} }, nil, "missing port"},
		{"bad port", func(c *Config) { c.Backends = []upstream.Spec{{Address: "localhost:0", Weight: 1}} }, nil, "invalid port"},
		{"duplicate", func(c *Config) {
			c.Backends = []upstream.Spec{{Address: "a:1", Weight: 1}, {Address: "a:1", Weight: 1}}
		}, nil, "duplicate"},
		{"negative idle", func(c *Config) { c.IdleTimeout = -1 }, nil, "idle"},
		{"bad health address", func(c *Config) {}, WithHealthAddress("x"), "health address"},
	} {
		cfg := config()
		tc.edit(&cfg)
		var opts []Option
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		_, err := New(cfg, clock.Real{}, nil, opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Config{Strategy: "least_response_time"}, nil, nil); !errors.Is(err, ErrUnsupportedStrategy) {
		t.Errorf("least_response_time: %v, want ErrUnsupportedStrategy", err)
	}
	var zero Config
	zero.SetDefaults()
	p, err := New(zero, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	c := p.cfg
	if c.Strategy != DefaultStrategy || c.ConnectTimeout != DefaultConnectTimeout ||
		c.ConnectRetries != DefaultConnectRetries || c.DrainTimeout != DefaultDrainTimeout {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// TestNoGoroutineLeak: after Shutdown (forced, with connections open and
// health checks running) and the backends' stop, the goroutine count
// returns to where it started.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	a, b := startBackend(t, "a", nameEcho), startBackend(t, "b", nameEcho)
	clk := clock.NewFake(time.Unix(1e9, 0))
	cfg := config(specs(a, b)...)
	cfg.IdleTimeout = time.Minute
	cfg.Health = &HealthConfig{}
	cfg.Health.SetDefaults()
	cfg.Health.Interval = time.Second
	p := startProxy(t, cfg, clk)
	clk.Advance(time.Second) // run a round of probes
	var open []*client
	for i := range 6 {
		cl, _ := connectName(t, p.addr)
		cl.echo("x")
		if i%2 == 0 {
			cl.Close()
		} else {
			open = append(open, cl)
		}
	}
	if err := p.SetBackends(specs(b)); err != nil { // leave a drain timer pending
		t.Fatal(err)
	}
	p.stop(t)
	for _, cl := range open {
		if !cl.closedByPeer() {
			t.Error("connection open after Shutdown")
		}
		cl.Close()
	}
	a.Kill()
	b.Kill()
	testkit.Eventually(t, fmt.Sprintf("goroutines to settle to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// TestConnectTimeoutRetries: a backend that never completes the handshake
// is given up on after ConnectTimeout (on the injected clock) and the
// client is served by the next one.
func TestConnectTimeoutRetries(t *testing.T) {
	live := startBackend(t, "live", nameEcho)
	hang := upstream.Spec{ID: "hang", Address: "192.0.2.1:9", Weight: 1} // TEST-NET-1, never dialled
	clk := clock.NewFake(time.Unix(1e9, 0))
	dialing := make(chan struct{}, 1)
	cfg := config(hang, spec(live))
	cfg.ConnectTimeout = 3 * time.Second
	p := startProxy(t, cfg, clk,
		func(p *Proxy) {
			real := p.dialFn
			p.dialFn = func(ctx context.Context, addr string) (net.Conn, error) {
				if addr != hang.Address {
					return real(ctx, addr)
				}
				dialing <- struct{}{}
				<-ctx.Done() // a black hole: only the timeout ends it
				return nil, ctx.Err()
			}
		})
	cl := dial(t, p.addr) // round robin picks "hang" first
	select {
	case <-dialing:
	case <-time.After(ioTimeout):
		t.Fatal("the proxy did not try the hanging backend")
	}
	testkit.Eventually(t, "the connect timer", func() bool { return clk.Waiters() > 0 })
	clk.Advance(3*time.Second - time.Millisecond)
	if p.Stats().ConnectErrors != 0 {
		t.Fatal("connect given up before ConnectTimeout")
	}
	clk.Advance(time.Millisecond)
	if name := cl.line(); name != "live" {
		t.Fatalf("answered by %q", name)
	}
	s, _ := backendStats(p.Stats(), "hang")
	if s.ConnectFailures != 1 {
		t.Errorf("hang backend failures = %d, want 1", s.ConnectFailures)
	}
}

func TestHealthProbeAddress(t *testing.T) {
	b := upstream.New(upstream.Spec{Address: "10.0.0.7:5432"})
	for _, tc := range []struct{ cfg, want string }{
		{"", "10.0.0.7:5432"},
		{":8008", "10.0.0.7:8008"},
		{"127.0.0.1:9", "127.0.0.1:9"},
	} {
		if got := probeAddr(tc.cfg, b); got != tc.want {
			t.Errorf("Address %q: probe %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

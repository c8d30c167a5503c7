// Package l4 is drawbridge's TCP (layer 4) listener mode, for MQTT,
// databases and anything else that is not HTTP: it accepts a connection,
// picks a backend with one of the balance strategies, connects (trying
// other backends when a connect fails) and splices bytes both ways until
// both sides are done. In mode mqtt it first reads and admits the client's
// CONNECT (package mqtt), picks the broker by the client id's hash, and
// copies client-to-broker traffic packet by packet (framing checked,
// publish rate applied); broker-to-client stays a plain copy.
//
// It shares the gateway's building blocks: upstream.Backend for per-backend
// state (a connection is "in flight" on its backend for its whole life, so
// least_connections balances open connections), package balance for the
// strategies, health.Outlier for passive ejection, and clock.Clock for
// every timer that decides (health probes, connect timeouts, drain
// deadlines), so tests drive them with clock.Fake. Active health checks
// are TCP connects (health.Checker speaks HTTP only), with the same
// hysteresis.
//
// Membership changes are applied in place: a kept backend keeps its state
// and its connections; a removed one takes no new connection, and its open
// connections may finish for DrainTimeout before they are closed. Shutdown
// stops accepting and waits for the open connections the same way.
package l4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// ErrClosed is returned by Serve after Shutdown, and by SetBackends and
// Serve called after it.
var ErrClosed = errors.New("l4: proxy closed")

// errConnectTimeout is the cause of a connect cut off by ConnectTimeout.
var errConnectTimeout = errors.New("connect timed out")

// errDrained marks a connect that succeeded to a backend which left the
// pool meanwhile; the connection is dropped and another backend tried.
var errDrained = errors.New("backend removed during connect")

// Proxy is one L4 listener's proxy. It is safe for concurrent use.
type Proxy struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	bal     balance.Balancer
	hashKey balance.KeyFunc // non-nil for ip_hash and consistent_hash
	opts    options
	checker *health.Checker // nil without Config.Health
	gate    *mqtt.Gate      // mode mqtt only
	outlier *health.Outlier // nil without WithOutlier
	// dial connects to a backend; tests replace it to simulate a backend
	// that never answers.
	dialFn func(ctx context.Context, addr string) (net.Conn, error)

	memMu sync.Mutex // serialises SetBackends

	mu        sync.Mutex
	members   []*upstream.Backend           // current membership, in spec order
	byID      map[string]*upstream.Backend  // current membership by ID
	tracked   map[*upstream.Backend]*member // current and draining backends
	conns     map[*conn]struct{}            // every open client connection
	listeners map[net.Listener]struct{}
	started   bool          // the first membership is in place
	closing   bool          // Shutdown has begun
	quit      chan struct{} // closed when Shutdown begins
	handlers  sync.WaitGroup

	open            atomic.Int64
	accepted        atomic.Uint64
	refused         atomic.Uint64
	failed          atomic.Uint64
	rejected        atomic.Uint64
	connectErrors   atomic.Uint64
	idleClosed      atomic.Uint64
	drainClosed     atomic.Uint64
	bytesToBackends atomic.Uint64
	bytesToClients  atomic.Uint64
}

// member is the proxy's bookkeeping for one backend: its open connections
// (so a drain deadline can close them) and its drain state.
type member struct {
	conns    map[*conn]struct{}
	draining bool
	timer    clock.Timer // drain deadline
}

// conn is one client connection and, once connected, its backend side.
type conn struct {
	p      *Proxy
	client net.Conn
	// upSrc is what the client-to-backend copy reads and downDst what the
	// backend-to-client copy writes: the client connection, or in mqtt
	// mode the session's framing wrappers around it.
	upSrc, downDst net.Conn
	start          time.Time    // monotonic base for last
	last           atomic.Int64 // last activity, nanoseconds since start (IdleTimeout only)

	idleFired atomic.Bool

	mu         sync.Mutex
	closed     bool // forced closed: no connect may complete
	up         net.Conn
	cancelDial context.CancelCauseFunc
	stop       func() // ends an mqtt session's wait for the publish rate
}

// Option sets what a Proxy takes besides its Config: the settings that are
// not keys of the gateway's file. Options run in New before the members
// are added, so one may also replace the proxy's internals in tests.
type Option func(*Proxy)

// options are the Options' settings.
type options struct {
	balance    balance.Options
	outlier    *health.OutlierConfig
	slowStart  time.Duration
	healthAddr string
}

// WithBalance tunes consistent_hash (VirtualNodes, BoundedLoad).
func WithBalance(o balance.Options) Option { return func(p *Proxy) { p.opts.balance = o } }

// WithOutlier enables passive ejection of backends whose connects fail
// (health.Outlier, shared with the HTTP gateway).
func WithOutlier(c health.OutlierConfig) Option { return func(p *Proxy) { p.opts.outlier = &c } }

// WithSlowStart ramps a backend's share of new connections over d when it
// joins after the first membership, or recovers from a failed health check
// or an ejection. Without it there is no ramp.
func WithSlowStart(d time.Duration) Option { return func(p *Proxy) { p.opts.slowStart = d } }

// WithHealthAddress has the health checks probe addr instead of a
// backend's own address (a separate health port): "host:port", or ":port"
// for the backend's host.
func WithHealthAddress(addr string) Option { return func(p *Proxy) { p.opts.healthAddr = addr } }

// New validates cfg and returns a Proxy with cfg.Backends as its members.
// cfg is taken as it is: start one built in Go from SetDefaults. clk
// drives health checks, connect timeouts and drain deadlines; log may be
// nil.
func New(cfg Config, clk clock.Clock, log *slog.Logger, opts ...Option) (*Proxy, error) {
	if cfg.Name == "" {
		cfg.Name = cfg.Listen
	}
	// First, alone, so that errors.Is finds ErrUnsupportedStrategy.
	strategy, err := lookupStrategy(cfg.Strategy)
	if err != nil {
		return nil, fmt.Errorf("l4 %q: strategy: %w", cfg.Name, err)
	}
	if err := cfg.Validate().Err(); err != nil {
		return nil, fmt.Errorf("l4 %q: %w", cfg.Name, err)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg: cfg, clk: clk, log: log.With("listener", cfg.Name),
		byID:      make(map[string]*upstream.Backend),
		tracked:   make(map[*upstream.Backend]*member),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
		quit:      make(chan struct{}),
	}
	var d net.Dialer // Go's defaults: TCP keep-alive on, Nagle off
	p.dialFn = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	for _, o := range opts {
		o(p)
	}
	if p.opts.slowStart < 0 {
		return nil, fmt.Errorf("l4 %q: negative slow start %v", cfg.Name, p.opts.slowStart)
	}
	if a := p.opts.healthAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("l4 %q: health address: %w", cfg.Name, err)
		}
	}
	if p.bal, err = balance.New(cfg.Strategy, p.opts.balance); err != nil {
		return nil, fmt.Errorf("l4 %q: %w", cfg.Name, err)
	}
	if strategy.Hashed {
		// The HTTP gateway's own "ip" key, so a client maps to the same
		// backend at L4 and at L7 (the hash is fixed-seed, so across
		// processes too).
		p.hashKey, _ = balance.ParseKey("ip")
	}
	if cfg.Mode == ModeMQTT {
		mc := cfg.MQTT
		if mc == nil {
			mc = new(mqtt.Config)
			mc.SetDefaults()
		}
		if p.gate, err = mqtt.New(*mc, clk); err != nil {
			return nil, fmt.Errorf("l4 %q: %w", cfg.Name, err)
		}
	}
	if cfg.Health != nil {
		p.checker = newChecker(cfg.Name, *cfg.Health, p.opts.healthAddr, p.gate != nil, clk, p.opts.slowStart, p.healthChanged)
	}
	if p.opts.outlier != nil {
		p.outlier = health.NewOutlier(cfg.Name, *p.opts.outlier, clk,
			health.WithSlowStart(p.opts.slowStart), health.WithOnChange(p.healthChanged))
	}
	if err := p.SetBackends(cfg.Backends); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Proxy) healthChanged(b *upstream.Backend, healthy bool, reason string) {
	if healthy {
		p.log.Info("backend healthy", "backend", b.ID(), "address", b.Addr(), "reason", reason)
	} else {
		p.log.Warn("backend unhealthy", "backend", b.ID(), "address", b.Addr(), "reason", reason)
	}
}

// ListenAndServe listens on Config.Listen and serves until Shutdown.
func (p *Proxy) ListenAndServe() error {
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return fmt.Errorf("l4 %q: %w", p.cfg.Name, err)
	}
	return p.Serve(ln)
}

// Serve accepts connections on ln until Shutdown, then returns ErrClosed.
// It closes ln on return. Several listeners may be served at once.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	p.listeners[ln] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listeners, ln)
		p.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-p.quit:
				return ErrClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, an aborted handshake: back off
			// and go on, as net/http does, instead of spinning or dying.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-p.quit:
				return ErrClosed
			}
			continue
		}
		backoff = 0
		if limit := int64(p.cfg.MaxConnections); p.open.Add(1) > limit && limit > 0 {
			// Accept and close rather than leave it in the backlog: the
			// client learns at once, and the kernel queue stays short.
			p.open.Add(-1)
			p.refused.Add(1)
			nc.Close()
			continue
		}
		c := &conn{p: p, client: nc, upSrc: nc, downDst: nc, start: time.Now()}
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			p.open.Add(-1)
			nc.Close()
			return ErrClosed
		}
		p.conns[c] = struct{}{}
		p.handlers.Add(1) // under mu with closing false: before Shutdown's Wait
		p.mu.Unlock()
		p.accepted.Add(1)
		go p.handle(c)
	}
}

// handle serves one client connection from connect to close.
func (p *Proxy) handle(c *conn) {
	defer p.handlers.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		p.open.Add(-1)
	}()
	defer c.client.Close()

	hash := p.clientHash(c)
	var session *mqtt.Session
	if p.gate != nil {
		s, err := p.gate.Admit(c.client)
		if err != nil {
			p.rejected.Add(1)
			p.log.Debug("mqtt client refused", "client", c.client.RemoteAddr().String(), "error", err)
			return
		}
		defer s.Close()
		if !c.setStop(s.Stop) { // closed while reading the CONNECT
			return
		}
		if s.HasClientID() {
			hash = balance.HashKey(s.Connect.ClientID)
		}
		c.upSrc, c.downDst = s.Uplink(), s.Downlink()
		session = s
	}

	b, up := p.connect(c, hash)
	if up == nil {
		p.failed.Add(1)
		return
	}
	defer p.detach(c, b)
	defer up.Close()

	if p.cfg.ProxyProtocol {
		if _, err := up.Write(proxyHeaderV1(c.client.RemoteAddr(), c.client.LocalAddr())); err != nil {
			p.log.Debug("proxy protocol header failed", "backend", b.ID(), "error", err)
			return
		}
	}
	if session != nil {
		// The CONNECT as the client sent it: the broker does its own
		// session handling (and may have its own authentication).
		if _, err := up.Write(session.Raw); err != nil {
			p.log.Debug("forwarding CONNECT failed", "backend", b.ID(), "error", err)
			return
		}
	}
	// Idle time counts from here: a slow connect is ConnectTimeout's
	// business, not IdleTimeout's.
	c.touch()
	c.pipe(up)
}

// connect picks a backend and connects, trying up to ConnectRetries other
// backends when a connect fails, so a dead backend that health checks have
// not caught yet costs the client a little latency, not the connection.
// It returns the backend (Acquired, attached) and the connection, or nils.
func (p *Proxy) connect(c *conn, hash uint64) (*upstream.Backend, net.Conn) {
	var tried []*upstream.Backend
	req := balance.Request{Hash: hash, Exclude: func(b *upstream.Backend) bool { return slices.Contains(tried, b) }}
	for range 1 + p.cfg.ConnectRetries {
		req.Now = p.clk.Now().UnixNano()
		b := p.bal.Pick(&req)
		if b == nil {
			break
		}
		tried = append(tried, b)
		// In flight from the pick on, so that concurrent picks of
		// least_connections see the connection while it is being set up.
		b.Acquire()
		up, err := p.dial(c, b)
		if err == nil {
			if p.attach(c, b, up) {
				if p.outlier != nil {
					p.outlier.Report(b, false)
				}
				return b, up
			}
			up.Close()
			err = errDrained
		}
		b.Release()
		if c.isClosed() { // shut down or drained while connecting
			return nil, nil
		}
		if !errors.Is(err, errDrained) {
			b.Failures.Add(1)
			p.connectErrors.Add(1)
			if p.outlier != nil {
				p.outlier.Report(b, true)
			}
		}
		p.log.Debug("connect failed", "backend", b.ID(), "address", b.Addr(), "error", err)
	}
	p.log.Debug("no backend reachable", "client", c.client.RemoteAddr().String(), "tried", len(tried))
	return nil, nil
}

// clientHash is the hash strategies' key for c: its IP (0 for the other
// strategies, which ignore it).
func (p *Proxy) clientHash(c *conn) uint64 {
	if p.hashKey == nil {
		return 0
	}
	return p.hashKey(&http.Request{RemoteAddr: c.client.RemoteAddr().String()})
}

// setStop records how to end c's mqtt session waits on a forced close; it
// reports false if c is already closed.
func (c *conn) setStop(stop func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop = stop
	return !c.closed
}

// dial connects to b within ConnectTimeout (on the injected clock); a
// forced close of c cancels it.
func (p *Proxy) dial(c *conn, b *upstream.Backend) (net.Conn, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, net.ErrClosed
	}
	c.cancelDial = cancel
	c.mu.Unlock()
	timer := p.clk.AfterFunc(p.cfg.ConnectTimeout, func() { cancel(errConnectTimeout) })
	up, err := p.dialFn(ctx, b.Addr())
	timer.Stop()
	c.mu.Lock()
	c.cancelDial = nil
	c.mu.Unlock()
	if err != nil && errors.Is(context.Cause(ctx), errConnectTimeout) {
		err = fmt.Errorf("%w after %v", errConnectTimeout, p.cfg.ConnectTimeout)
	}
	return up, err
}

// attach records up as c's backend connection on b, unless c was closed
// or b was removed meanwhile (a connect that was in flight when its backend
// left is dropped and retried elsewhere, like any new connection).
func (p *Proxy) attach(c *conn, b *upstream.Backend, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.tracked[b]
	if m == nil || m.draining {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.up = up
	m.conns[c] = struct{}{}
	return true
}

// detach ends c's accounting on b; the last connection of a removed
// backend forgets it.
func (p *Proxy) detach(c *conn, b *upstream.Backend) {
	p.mu.Lock()
	if m := p.tracked[b]; m != nil {
		delete(m.conns, c)
		if m.draining && len(m.conns) == 0 {
			if m.timer != nil {
				m.timer.Stop()
			}
			delete(p.tracked, b)
		}
	}
	p.mu.Unlock()
	b.Release()
}

// forceClose closes both sides of c and aborts a connect in progress.
// Lock order: p.mu before c.mu.
func (c *conn) forceClose() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cancelDial != nil {
		c.cancelDial(net.ErrClosed)
	}
	if c.stop != nil {
		c.stop()
	}
	c.client.Close()
	if c.up != nil {
		c.up.Close()
	}
}

// closeBoth closes both sides (a direction ended abnormally).
func (c *conn) closeBoth() {
	c.client.Close()
	c.mu.Lock()
	up, stop := c.up, c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if up != nil {
		up.Close()
	}
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// SetBackends replaces the membership, applied as a diff in place: a
// backend whose ID, address and weight are unchanged keeps its state and
// connections; a new or changed one starts fresh (healthy, in slow start
// when Config.SlowStart is set); a removed one (or the old version of a
// changed one) takes no new connections, and its open connections are
// closed after DrainTimeout unless they end first. A removed backend that
// comes back while draining returns as a new Backend (its old connections
// keep draining). A connect in flight to a removed backend is dropped and
// retried on another. On error the membership is unchanged.
func (p *Proxy) SetBackends(specs []upstream.Spec) error {
	var v yamlconf.Check
	if v.In("backends", checkBackends(specs)); v.Errs != nil {
		return fmt.Errorf("l4 %q: %w", p.cfg.Name, v.Errs.Err())
	}
	p.memMu.Lock()
	defer p.memMu.Unlock()

	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	now := p.clk.Now().UnixNano()
	diff := upstream.Diff(p.members, specs)
	diff.SetWeights(p.log)
	members, byID := diff.Members, diff.ByID
	for _, nb := range diff.Added {
		p.tracked[nb] = &member{conns: make(map[*conn]struct{})}
		if p.started {
			nb.StartSlowStart(now, p.opts.slowStart)
		}
		p.log.Info("backend added", "backend", nb.ID(), "address", nb.Addr(), "weight", nb.Weight())
	}
	var expireNow []*upstream.Backend
	for _, ob := range diff.Removed {
		// Flag first: a Pick racing this update already skips it.
		ob.SetFlag(upstream.FlagDraining, true)
		m := p.tracked[ob]
		p.log.Info("backend removed", "backend", ob.ID(), "address", ob.Addr(), "open", len(m.conns))
		if len(m.conns) == 0 {
			delete(p.tracked, ob)
			continue
		}
		m.draining = true
		if p.cfg.DrainTimeout == 0 {
			expireNow = append(expireNow, ob)
			continue
		}
		m.timer = p.clk.AfterFunc(p.cfg.DrainTimeout, func() { p.expire(ob) })
	}
	p.members, p.byID, p.started = members, byID, true
	p.mu.Unlock()

	p.bal.Update(members)
	if p.checker != nil {
		p.checker.Update(members)
	}
	if p.outlier != nil {
		p.outlier.Update(members)
	}
	for _, b := range expireNow {
		p.expire(b)
	}
	return nil
}

// expire closes the connections a removed backend still has when its
// drain deadline passes.
func (p *Proxy) expire(b *upstream.Backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.tracked[b]
	if m == nil {
		return
	}
	if len(m.conns) > 0 {
		p.log.Info("drain deadline passed, closing connections", "backend", b.ID(), "open", len(m.conns))
	}
	for c := range m.conns {
		c.forceClose()
		p.drainClosed.Add(1)
	}
}

// Shutdown stops accepting (closing every served listener) and health
// checking, then waits for the open connections to end on their own. When
// ctx ends first it closes them, waits for their handlers to return, and
// returns ctx's error. When Shutdown returns, every connection handler,
// probe and timer of the proxy has ended (Serve returns ErrClosed on its
// own goroutine as soon as its listener is closed). It may be called more
// than once.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	first := !p.closing
	if first {
		p.closing = true
		close(p.quit)
	}
	for ln := range p.listeners {
		ln.Close()
	}
	open := len(p.conns)
	p.mu.Unlock()
	if first {
		p.log.Info("shutting down", "open", open)
		if p.checker != nil {
			p.checker.Stop()
		}
		if p.outlier != nil {
			p.outlier.Stop()
		}
	}

	done := make(chan struct{})
	go func() {
		p.handlers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.mu.Lock()
		p.log.Info("shutdown deadline passed, closing connections", "open", len(p.conns))
		for c := range p.conns {
			c.forceClose()
		}
		p.mu.Unlock()
		<-done
	}
	p.mu.Lock()
	for _, m := range p.tracked {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	p.mu.Unlock()
	return err
}

// Stats is a snapshot of the proxy's counters.
type Stats struct {
	Open     int64  // client connections open now (connecting or proxying)
	Accepted uint64 // client connections taken into service
	Refused  uint64 // closed at once because MaxConnections was reached
	Failed   uint64 // closed because no backend could be connected
	// Rejected (mode mqtt): closed at CONNECT, which was malformed, too
	// large or late, or refused (credentials, connection rate).
	Rejected      uint64
	ConnectErrors uint64 // failed connect attempts, retried ones included
	IdleClosed    uint64 // closed by IdleTimeout
	DrainClosed   uint64 // closed by a removed backend's DrainTimeout
	// Bytes relayed each way. In splice mode (no IdleTimeout) a
	// connection's bytes are added when its direction ends.
	BytesToBackends uint64
	BytesToClients  uint64
	Backends        []BackendStats // members in spec order, then draining ones
}

// BackendStats is one backend's view.
type BackendStats struct {
	ID, Address     string
	Weight          int
	Available       bool   // takes new connections now
	Healthy         bool   // passes active checks (true without checks)
	Ejected         bool   // ejected by outlier detection
	Draining        bool   // removed, finishing its connections
	Open            int64  // connections open (or connecting) now
	Connections     uint64 // connections (and connect attempts) sent, ever
	ConnectFailures uint64
	LastCheckError  string
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Open:            p.open.Load(),
		Accepted:        p.accepted.Load(),
		Refused:         p.refused.Load(),
		Failed:          p.failed.Load(),
		Rejected:        p.rejected.Load(),
		ConnectErrors:   p.connectErrors.Load(),
		IdleClosed:      p.idleClosed.Load(),
		DrainClosed:     p.drainClosed.Load(),
		BytesToBackends: p.bytesToBackends.Load(),
		BytesToClients:  p.bytesToClients.Load(),
	}
	p.mu.Lock()
	members := slices.Clone(p.members)
	var draining []*upstream.Backend
	for b, m := range p.tracked {
		if m.draining {
			draining = append(draining, b)
		}
	}
	p.mu.Unlock()
	sort.Slice(draining, func(i, j int) bool { return draining[i].ID() < draining[j].ID() })
	for _, b := range append(members, draining...) {
		bs := BackendStats{
			ID: b.ID(), Address: b.Addr(), Weight: b.Weight(),
			Available: b.Available(), Healthy: !b.HasFlag(upstream.FlagUnhealthy),
			Ejected: b.HasFlag(upstream.FlagEjected), Draining: b.HasFlag(upstream.FlagDraining),
			Open: b.Inflight(), Connections: b.Requests.Load(), ConnectFailures: b.Failures.Load(),
		}
		if p.checker != nil {
			if cs, ok := p.checker.Status(b); ok {
				bs.LastCheckError = cs.LastError
			}
		}
		s.Backends = append(s.Backends, bs)
	}
	return s
}

// Backend returns the current member with the given ID, or nil.
func (p *Proxy) Backend(id string) *upstream.Backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[id]
}

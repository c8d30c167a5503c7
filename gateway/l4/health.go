package l4

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// checker runs active TCP connect checks with the semantics of
// health.Checker (whose scheduling it mirrors; that one only speaks HTTP):
// one probe loop per member driven by clock timers, hysteresis through the
// two thresholds, new members start healthy, Update applies a diff in place,
// and it owns FlagUnhealthy on its members.
type checker struct {
	cfg       HealthConfig
	clk       clock.Clock
	dial      func(ctx context.Context, addr string) (net.Conn, error)
	slowStart time.Duration
	jitter    bool // spread first probes over one Interval
	onChange  func(b *upstream.Backend, healthy bool, reason string)

	ctx     context.Context // cancelled by stop; parent of every probe
	cancel  context.CancelFunc
	running sync.WaitGroup // probes in flight

	mu      sync.Mutex
	targets map[*upstream.Backend]*target
	started bool
	stopped bool
}

// checkStatus is the check view of one backend.
type checkStatus struct {
	Healthy   bool
	Successes int
	Failures  int
	Probes    uint64
	LastError string
}

type target struct {
	c    *checker
	b    *upstream.Backend
	addr string

	mu      sync.Mutex
	stopped bool
	timer   clock.Timer
	cancel  context.CancelFunc
	st      checkStatus
}

var errProbeTimeout = errors.New("connect timed out")

func newChecker(cfg HealthConfig, clk clock.Clock, slowStart time.Duration,
	onChange func(*upstream.Backend, bool, string)) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	var d net.Dialer
	return &checker{
		cfg: cfg, clk: clk, dial: func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		slowStart: slowStart, jitter: true, onChange: onChange,
		ctx: ctx, cancel: cancel, targets: make(map[*upstream.Backend]*target),
	}
}

// probeAddr is where b is checked: its own address, or HealthConfig.Address
// (whose empty host means b's host).
func (c *checker) probeAddr(b *upstream.Backend) string {
	if c.cfg.Address == "" {
		return b.Addr()
	}
	host, port, _ := net.SplitHostPort(c.cfg.Address) // validated by Config
	if host == "" {
		host, _, _ = net.SplitHostPort(b.Addr())
	}
	return net.JoinHostPort(host, port)
}

// update sets the members to check; see health.Checker.Update.
func (c *checker) update(members []*upstream.Backend) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	keep := make(map[*upstream.Backend]bool, len(members))
	for _, b := range members {
		keep[b] = true
		if _, ok := c.targets[b]; ok {
			continue
		}
		t := &target{c: c, b: b, addr: c.probeAddr(b)}
		t.st.Healthy = true
		b.SetFlag(upstream.FlagUnhealthy, false)
		c.targets[b] = t
		var delay time.Duration
		if c.jitter {
			// Spread the first probes so that a large pool does not probe
			// in lockstep for ever after.
			delay = rand.N(c.cfg.Interval)
		}
		t.mu.Lock()
		t.timer = c.clk.AfterFunc(delay, t.run)
		t.mu.Unlock()
	}
	for b, t := range c.targets {
		if !keep[b] {
			t.stop()
			delete(c.targets, b)
		}
	}
	c.started = true
}

func (c *checker) status(b *upstream.Backend) (checkStatus, bool) {
	c.mu.Lock()
	t, ok := c.targets[b]
	c.mu.Unlock()
	if !ok {
		return checkStatus{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st, true
}

// stop ends every loop, aborts and waits for probes in flight and clears
// FlagUnhealthy (a pool without checks must not keep backends out).
func (c *checker) stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	for b, t := range c.targets {
		t.stop()
		delete(c.targets, b)
	}
	c.mu.Unlock()
	c.cancel()
	c.running.Wait()
}

func (t *target) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.b.SetFlag(upstream.FlagUnhealthy, false)
}

// run is one iteration of the loop: probe, record, schedule the next.
func (t *target) run() {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(t.c.ctx)
	t.cancel = cancel
	t.c.running.Add(1) // under t.mu, so before stop can see t.stopped
	t.mu.Unlock()
	defer t.c.running.Done()

	err := t.c.probe(ctx, t.addr)
	cancel()

	t.mu.Lock()
	t.cancel = nil
	if t.stopped { // removed meanwhile: the result is stale
		t.mu.Unlock()
		return
	}
	// Schedule before recording, so whoever sees the outcome can rely on
	// the next probe being due one Interval on (tests depend on it).
	t.timer = t.c.clk.AfterFunc(t.c.cfg.Interval, t.run)
	changed, reason := t.record(err)
	healthy := t.st.Healthy
	t.mu.Unlock()

	if changed && t.c.onChange != nil {
		t.c.onChange(t.b, healthy, reason)
	}
}

// record folds one result in with hysteresis and flips the flag on a
// transition; t.mu is held so a removal cannot leave a stale flag.
func (t *target) record(err error) (changed bool, reason string) {
	s, cfg := &t.st, &t.c.cfg
	s.Probes++
	if err == nil {
		s.LastError = ""
		s.Failures = 0
		s.Successes++
		if s.Healthy || s.Successes < cfg.HealthyThreshold {
			return false, ""
		}
		s.Healthy = true
		// Ramp first, then admit, so the balancer never sees the recovered
		// backend at full weight (a reconnect storm of MQTT clients would
		// otherwise land on it at once).
		t.b.StartSlowStart(t.c.clk.Now().UnixNano(), t.c.slowStart)
		t.b.SetFlag(upstream.FlagUnhealthy, false)
		return true, fmt.Sprintf("%d consecutive connects succeeded", s.Successes)
	}
	s.LastError = err.Error()
	s.Successes = 0
	s.Failures++
	if !s.Healthy || s.Failures < cfg.UnhealthyThreshold {
		return false, ""
	}
	s.Healthy = false
	t.b.SetFlag(upstream.FlagUnhealthy, true)
	return true, fmt.Sprintf("%d consecutive connects failed, last: %s", s.Failures, s.LastError)
}

// probe connects to addr and closes at once. The timeout runs on the
// injected clock so tests can expire it deterministically.
func (c *checker) probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := c.clk.AfterFunc(c.cfg.Timeout, func() { cancel(errProbeTimeout) })
	defer timer.Stop()
	conn, err := c.dial(ctx, addr)
	if err != nil {
		if errors.Is(context.Cause(ctx), errProbeTimeout) {
			return fmt.Errorf("%w after %v", errProbeTimeout, c.cfg.Timeout)
		}
		return err
	}
	conn.Close() // the connect was the check; a close error says nothing about health
	return nil
}

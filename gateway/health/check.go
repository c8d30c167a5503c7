package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// StatusRange is an inclusive range of HTTP status codes, lowest first. An
// array rather than a struct, so that literals such as {200, 399} read as
// the ranges they are wherever they are written.
type StatusRange [2]int

// CheckConfig configures the active health check of one pool; it is a
// pool's health_check block of the gateway's file, so the comments on its
// keys are that reference's text. For a CheckConfig built in Go, zero
// fields take the runtime defaults below (path "/", timeout 2s). The
// timeout bounds a whole probe: dial, request, headers and body; redirects
// are not followed, so a 3xx is judged as is. WithHost sets the Host
// header of the probes.
type CheckConfig struct {
	Path               string        `yaml:"path"`                // default "/healthz"
	Interval           time.Duration `yaml:"interval"`            // default 5s
	Timeout            time.Duration `yaml:"timeout"`             // default 1s; < Interval
	ExpectedStatus     StatusRanges  `yaml:"expected_status"`     // e.g. "200" or "200-299,304"; default "200-399"
	HealthyThreshold   int           `yaml:"healthy_threshold"`   // passes to become healthy; default 2
	UnhealthyThreshold int           `yaml:"unhealthy_threshold"` // failures to become unhealthy; default 3
	// PanicThreshold (percent, 0..100; 0 off): below this share of
	// backends passing checks, the checks keep no backend out (Envoy's
	// healthy_panic_threshold), so a checker that cannot get through does
	// not take the whole pool down. Default 50, as Envoy's.
	PanicThreshold int `yaml:"panic_threshold"`
}

func (c *CheckConfig) SetDefaults() {
	c.Path = "/healthz"
	c.Interval = 5 * time.Second
	c.Timeout = time.Second
	c.ExpectedStatus = StatusRanges{{200, 399}}
	c.HealthyThreshold = 2
	c.UnhealthyThreshold = 3
	c.PanicThreshold = 50
}

// Validate reports the problems of c by key relative to the block.
func (c *CheckConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if !strings.HasPrefix(c.Path, "/") {
		v.Add("path", `must start with "/", got %q`, c.Path)
	} else if i := strings.IndexFunc(c.Path, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }); i >= 0 {
		v.Add("path", "invalid character %q in path %q", c.Path[i], c.Path)
	}
	v.Positive("interval", c.Interval)
	v.Positive("timeout", c.Timeout)
	if c.Timeout >= c.Interval && c.Interval > 0 {
		v.Add("timeout", "must be less than interval (%v)", c.Interval)
	}
	if err := c.ExpectedStatus.validate(); err != nil {
		v.Add("expected_status", "%v", err)
	}
	v.Between("healthy_threshold", c.HealthyThreshold, 1, 1000)
	v.Between("unhealthy_threshold", c.UnhealthyThreshold, 1, 1000)
	v.Between("panic_threshold", c.PanicThreshold, 0, 100)
	return v.Errs
}

// Defaults after HAProxy (inter 2s, rise 2, fall 3), with a longer interval
// because a gateway may check thousands of backends.
const (
	defaultInterval           = 5 * time.Second
	defaultTimeout            = 2 * time.Second
	defaultHealthyThreshold   = 2
	defaultUnhealthyThreshold = 3
)

func (c CheckConfig) withDefaults() CheckConfig {
	if c.Path == "" {
		c.Path = "/"
	} else if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if c.Interval <= 0 {
		c.Interval = defaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if len(c.ExpectedStatus) == 0 {
		c.ExpectedStatus = []StatusRange{{200, 399}}
	}
	if c.HealthyThreshold <= 0 {
		c.HealthyThreshold = defaultHealthyThreshold
	}
	if c.UnhealthyThreshold <= 0 {
		c.UnhealthyThreshold = defaultUnhealthyThreshold
	}
	return c
}

func (c *CheckConfig) expected(code int) bool {
	for _, r := range c.ExpectedStatus {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// CheckStatus is the active-check view of one backend.
type CheckStatus struct {
	Healthy   bool
	Successes int    // current run of passed probes
	Failures  int    // current run of failed probes
	Probes    uint64 // probes completed since the backend joined
	LastError string // why the last probe failed; "" if it passed
	LastProbe time.Time
}

// errProbeTimeout marks a probe cut off by CheckConfig.Timeout.
var errProbeTimeout = errors.New("probe timed out")

const (
	userAgent = "drawbridge-health/1"
	// maxDrain is how much of a probe's body is read so that the connection
	// can be reused; a health endpoint that says more is not read further.
	maxDrain = 4 << 10
)

// Checker runs the active health checks of one pool: one probe loop per
// member, driven by clock timers (no goroutine while a backend waits for
// its next probe). It owns FlagUnhealthy on its members.
//
// New members start healthy: a fresh host takes traffic at once instead of
// waiting for its first probe (caddy#6410), and members added after the
// first Update start in slow start so they are ramped rather than flooded.
// A backend leaves the healthy state only after UnhealthyThreshold failed
// probes in a row and returns only after HealthyThreshold passed probes in
// a row, so a flapping endpoint does not flap the pool.
type Checker struct {
	pool   string
	cfg    CheckConfig
	clk    clock.Clock
	opts   options
	tr     *http.Transport
	client *http.Client

	ctx     context.Context // cancelled by Stop; parent of every probe
	cancel  context.CancelFunc
	running sync.WaitGroup // probes in flight, so Stop can wait for them

	mu      sync.Mutex
	targets map[*upstream.Backend]*target
	started bool // the first Update has run
	stopped bool
	panic   bool // below PanicThreshold: no member is kept out
}

// NewChecker returns a Checker for pool; it probes nothing until Update
// names the members.
func NewChecker(pool string, cfg CheckConfig, clk clock.Clock, opts ...Option) *Checker {
	cfg = cfg.withDefaults()
	tr := &http.Transport{
		Proxy:       nil, // probes go straight to the backend, never via HTTP_PROXY
		DialContext: (&net.Dialer{}).DialContext,
		// One idle connection per backend, kept across a probe interval, so
		// a big pool neither churns connections nor hoards them. The global
		// cap is off because it would evict the connections of large pools.
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        2 * cfg.Interval,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	o := buildOptions(opts)
	// net/http sets the SNI (and the name verified) from the URL's host
	// when ServerName is empty, as forwarding does.
	// Offering h2 too lets an h2-only backend (gRPC) be probed; a copy, as
	// the Transport edits it.
	if o.tls != nil {
		tr.TLSClientConfig, tr.ForceAttemptHTTP2 = o.tls.Clone(), true
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		pool: pool,
		cfg:  cfg,
		clk:  clk,
		opts: o,
		tr:   tr,
		client: &http.Client{
			Transport: tr,
			// Judge the health endpoint's own answer, not a redirect target.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ctx:     ctx,
		cancel:  cancel,
		targets: make(map[*upstream.Backend]*target),
	}
}

// Pool names the pool this Checker serves.
func (c *Checker) Pool() string { return c.pool }

// Update sets the members to check, as a diff applied in place: new members
// start healthy and get a probe loop, removed members have theirs stopped
// (and FlagUnhealthy cleared, since this Checker no longer owns it), kept
// members keep their state. Update after Stop does nothing.
func (c *Checker) Update(members []*upstream.Backend) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	applyMembers(c.targets, members, func(b *upstream.Backend) *target {
		scheme := "http://"
		if c.opts.tls != nil {
			scheme = "https://"
		}
		t := &target{c: c, b: b, url: scheme + b.Addr() + c.cfg.Path}
		t.st.Healthy = true
		b.SetFlag(upstream.FlagUnhealthy, false)
		if c.started {
			b.StartSlowStart(c.clk.Now().UnixNano(), c.opts.slowStart)
		}
		t.mu.Lock()
		t.timer = c.clk.AfterFunc(c.firstDelay(), t.run)
		t.mu.Unlock()
		return t
	}, func(_ *upstream.Backend, t *target) { t.stop() })
	c.started = true
	c.applyFlagsLocked()
}

// applyFlags sets FlagUnhealthy on the members whose checks fail, or on
// none while the pool is in panic (see CheckConfig.PanicThreshold). It runs
// after every transition, so the flags follow the latest check states.
func (c *Checker) applyFlags() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyFlagsLocked()
}

func (c *Checker) applyFlagsLocked() {
	if c.stopped {
		return
	}
	healthy := make(map[*upstream.Backend]bool, len(c.targets))
	n := 0
	for b, t := range c.targets {
		t.mu.Lock()
		healthy[b] = t.st.Healthy
		t.mu.Unlock()
		if healthy[b] {
			n++
		}
	}
	was := c.panic
	c.panic = len(c.targets) > 0 && n*100 < c.cfg.PanicThreshold*len(c.targets)
	for b, ok := range healthy {
		b.SetFlag(upstream.FlagUnhealthy, !ok && !c.panic)
	}
	if c.panic != was && c.opts.onPanic != nil {
		c.opts.onPanic(c.panic, n, len(c.targets))
	}
}

// Panicking reports whether the pool is below its panic threshold, and the
// counts it was judged on.
func (c *Checker) Panicking() (inPanic bool, healthy, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.targets {
		t.mu.Lock()
		if t.st.Healthy {
			healthy++
		}
		t.mu.Unlock()
	}
	return c.panic, healthy, len(c.targets)
}

// firstDelay spreads the first probes of many members over the jitter
// window so that a pool of 1,000 does not probe in lockstep forever after
// (each loop then keeps its own phase).
func (c *Checker) firstDelay() time.Duration {
	limit := c.opts.jitter
	if limit < 0 {
		limit = c.cfg.Interval
	}
	if limit == 0 {
		return 0
	}
	return rand.N(limit)
}

// Status reports the check state of b, or false if b is not a member.
func (c *Checker) Status(b *upstream.Backend) (CheckStatus, bool) {
	c.mu.Lock()
	t, ok := c.targets[b]
	c.mu.Unlock()
	if !ok {
		return CheckStatus{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st, true
}

// Stop ends every probe loop, aborts probes in flight and waits for them,
// clears FlagUnhealthy on the members (a pool without checks must not keep
// backends out) and closes idle probe connections. After Stop returns no
// flag changes and no OnChange calls happen. Stop is idempotent.
func (c *Checker) Stop() {
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
	c.tr.CloseIdleConnections()
}

// target is one member's probe loop and check state.
type target struct {
	c   *Checker
	b   *upstream.Backend
	url string

	mu      sync.Mutex
	stopped bool
	timer   clock.Timer        // next probe
	cancel  context.CancelFunc // probe in flight, if any
	st      CheckStatus
}

// stop ends the loop; a probe in flight is aborted and its result dropped.
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
	t.c.running.Add(1) // before Stop can see t.stopped, so before its Wait
	t.mu.Unlock()
	defer t.c.running.Done()

	err := t.c.probe(ctx, t)
	cancel()

	t.mu.Lock()
	t.cancel = nil
	if t.stopped { // removed or stopped meanwhile: the result is stale
		t.mu.Unlock()
		return
	}
	// Schedule before recording, so that anyone who sees the outcome (a
	// flag flip) can rely on the next probe being due one Interval on.
	t.timer = t.c.clk.AfterFunc(t.c.cfg.Interval, t.run)
	changed, reason := t.record(err, t.c.clk.Now())
	healthy := t.st.Healthy
	t.mu.Unlock()

	if changed {
		t.c.applyFlags()
	}
	// The probe counts as done once its outcome is applied, so whoever
	// waits on Probes sees the flags that follow from it.
	t.mu.Lock()
	t.st.Probes++
	t.mu.Unlock()
	if changed && t.c.opts.onChange != nil {
		t.c.opts.onChange(t.b, healthy, reason)
	}
}

// record folds one probe result into the state with hysteresis and
// reports a transition; the caller then applies the flags. t.mu must be
// held, so that a removal cannot interleave.
func (t *target) record(err error, now time.Time) (changed bool, reason string) {
	s, cfg := &t.st, &t.c.cfg
	s.LastProbe = now
	if err == nil {
		s.LastError = ""
		s.Failures = 0
		s.Successes++
		if s.Healthy || s.Successes < cfg.HealthyThreshold {
			return false, ""
		}
		s.Healthy = true
		// Ramp first, then admit (applyFlags), so the balancer never sees
		// the recovered backend at full weight.
		t.b.StartSlowStart(now.UnixNano(), t.c.opts.slowStart)
		return true, fmt.Sprintf("%d consecutive checks passed", s.Successes)
	}
	s.LastError = err.Error()
	s.Successes = 0
	s.Failures++
	if !s.Healthy || s.Failures < cfg.UnhealthyThreshold {
		return false, ""
	}
	s.Healthy = false
	return true, fmt.Sprintf("%d consecutive checks failed, last: %s", s.Failures, s.LastError)
}

// probe checks t once (an HTTP GET, or the WithProbe function) and reports
// why the backend failed, or nil. The timeout runs on the injected clock so
// that tests can expire it deterministically.
func (c *Checker) probe(ctx context.Context, t *target) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := c.clk.AfterFunc(c.cfg.Timeout, func() { cancel(errProbeTimeout) })
	defer timer.Stop()

	var err error
	if c.opts.probe != nil {
		err = c.opts.probe(ctx, t.b)
	} else {
		err = c.get(ctx, t.url)
	}
	if err != nil && errors.Is(context.Cause(ctx), errProbeTimeout) {
		return fmt.Errorf("%w after %v", errProbeTimeout, c.cfg.Timeout)
	}
	return err
}

func (c *Checker) get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if c.opts.host != "" {
		req.Host = c.opts.host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain)); err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if !c.cfg.expected(resp.StatusCode) {
		return fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	return nil
}

package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// OutlierConfig configures passive outlier ejection for one pool (after
// Envoy's outlier detection); it is a pool's outlier block of the
// gateway's file. For an OutlierConfig built in Go, zero fields take the
// defaults. The k-th ejection in a row lasts BaseEjection*2^(k-1), capped
// at MaxEjection. MaxEjectionPercent is rounded down but at least one in a
// pool of two or more (a pool of one is never ejected from: there is
// nowhere else to send its traffic); values above 100 mean 100. A returned
// backend is forgiven one ejection per WithDecay interval it stays in.
type OutlierConfig struct {
	ConsecutiveFailures int           `yaml:"consecutive_failures"` // default 5
	BaseEjection        time.Duration `yaml:"base_ejection"`        // first ejection; default 30s
	MaxEjection         time.Duration `yaml:"max_ejection"`         // cap on repeated ejections; default 5m; >= BaseEjection
	MaxEjectionPercent  int           `yaml:"max_ejection_percent"` // 1..100; default 50
}

// Defaults of OutlierConfig.
const (
	defaultConsecutiveFailures = 5
	defaultBaseEjection        = 30 * time.Second
	defaultMaxEjection         = 5 * time.Minute
	defaultMaxEjectionPercent  = 50
)

func (c *OutlierConfig) SetDefaults() {
	c.ConsecutiveFailures = defaultConsecutiveFailures
	c.BaseEjection = defaultBaseEjection
	c.MaxEjection = defaultMaxEjection
	c.MaxEjectionPercent = defaultMaxEjectionPercent
}

// Validate reports the problems of c by key relative to the block.
func (c *OutlierConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	v.Between("consecutive_failures", c.ConsecutiveFailures, 1, 1000)
	v.Positive("base_ejection", c.BaseEjection)
	if c.MaxEjection < c.BaseEjection {
		v.Add("max_ejection", "must be at least base_ejection (%v)", c.BaseEjection)
	}
	v.Between("max_ejection_percent", c.MaxEjectionPercent, 1, 100)
	return v.Errs
}

func (c OutlierConfig) withDefaults() OutlierConfig {
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = defaultConsecutiveFailures
	}
	if c.BaseEjection <= 0 {
		c.BaseEjection = defaultBaseEjection
	}
	if c.MaxEjection <= 0 {
		c.MaxEjection = defaultMaxEjection
	}
	c.MaxEjection = max(c.MaxEjection, c.BaseEjection)
	if c.MaxEjectionPercent <= 0 {
		c.MaxEjectionPercent = defaultMaxEjectionPercent
	}
	c.MaxEjectionPercent = min(c.MaxEjectionPercent, 100)
	return c
}

// ejectionLength is BaseEjection*2^(k-1) capped at MaxEjection, for the
// k-th ejection (k >= 1).
func (c *OutlierConfig) ejectionLength(k int32) time.Duration {
	d := c.BaseEjection
	for i := int32(1); i < k && d < c.MaxEjection; i++ {
		d *= 2
	}
	return min(d, c.MaxEjection)
}

// Outlier ejects the backends of one pool that fail real traffic: after
// ConsecutiveFailures failed responses in a row a backend gets FlagEjected
// for a back-off that doubles with each ejection, then returns in slow
// start. It owns FlagEjected on its members and keeps its streak and
// ejection count in the backend's ConsecutiveFailures and Ejections.
type Outlier struct {
	pool string
	cfg  OutlierConfig
	clk  clock.Clock
	opts options

	mu      sync.Mutex
	members map[*upstream.Backend]*ejection
	ejected int // members currently ejected
	stopped bool
}

// ejection is a member's ejection state. Its timer ends the current
// ejection while ejected, else lowers the ejection count while that is
// above zero. seq tells a timer that fired late it has been superseded.
type ejection struct {
	ejected bool
	timer   clock.Timer
	seq     uint64
}

// NewOutlier returns an Outlier for pool; Update names the members.
func NewOutlier(pool string, cfg OutlierConfig, clk clock.Clock, opts ...Option) *Outlier {
	return &Outlier{
		pool:    pool,
		cfg:     cfg.withDefaults(),
		clk:     clk,
		opts:    buildOptions(opts),
		members: make(map[*upstream.Backend]*ejection),
	}
}

// Pool names the pool this Outlier serves.
func (o *Outlier) Pool() string { return o.pool }

// Report records the outcome of one response from b; failed means a connect
// error, a reset or a 5xx. It is called on every response, so the success
// path is one atomic load (plus a store only when ending a streak), and the
// failure path takes a lock only when the streak reaches the threshold.
func (o *Outlier) Report(b *upstream.Backend, failed bool) {
	if !failed {
		// Load first: an unconditional store would bounce the cache line
		// between cores on every response.
		if b.ConsecutiveFailures.Load() != 0 {
			b.ConsecutiveFailures.Store(0)
		}
		return
	}
	n := b.ConsecutiveFailures.Add(1)
	if n < int32(o.cfg.ConsecutiveFailures) {
		return
	}
	// Whoever resets the streak owns this ejection attempt, so concurrent
	// failures trigger one attempt, and a refused attempt (percent cap) is
	// retried only after another full streak.
	if b.ConsecutiveFailures.CompareAndSwap(n, 0) {
		o.eject(b, n)
	}
}

func (o *Outlier) eject(b *upstream.Backend, streak int32) {
	o.mu.Lock()
	e, ok := o.members[b]
	if !ok || o.stopped || e.ejected || o.ejected >= o.maxEjected() {
		o.mu.Unlock()
		return
	}
	k := b.Ejections.Add(1)
	d := o.cfg.ejectionLength(k)
	e.ejected = true
	o.ejected++
	b.SetFlag(upstream.FlagEjected, true)
	o.schedule(b, e, d, o.endEjection)
	o.mu.Unlock()

	o.notify(b, false, fmt.Sprintf("%d consecutive failures: ejected for %v (ejection %d)", streak, d, k))
}

// maxEjected is how many members may be ejected at once. o.mu must be held.
func (o *Outlier) maxEjected() int {
	n := len(o.members)
	if n < 2 {
		return 0
	}
	return max(n*o.cfg.MaxEjectionPercent/100, 1)
}

// schedule replaces e's timer with one that calls f after d. o.mu must be
// held.
func (o *Outlier) schedule(b *upstream.Backend, e *ejection, d time.Duration, f func(*upstream.Backend, uint64)) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.seq++
	seq := e.seq
	e.timer = o.clk.AfterFunc(d, func() { f(b, seq) })
}

// current returns b's state if the timer numbered seq is still the live
// one. o.mu must be held.
func (o *Outlier) current(b *upstream.Backend, seq uint64) (*ejection, bool) {
	e, ok := o.members[b]
	if !ok || o.stopped || e.seq != seq {
		return nil, false
	}
	return e, true
}

func (o *Outlier) endEjection(b *upstream.Backend, seq uint64) {
	o.mu.Lock()
	e, ok := o.current(b, seq)
	if !ok {
		o.mu.Unlock()
		return
	}
	e.ejected = false
	o.ejected--
	// Fresh start: failures that raced with the ejection do not count
	// against the returning backend.
	b.ConsecutiveFailures.Store(0)
	// Timer, then ramp, then flag: whoever sees the backend back sees it
	// ramping and its decay already scheduled.
	o.schedule(b, e, o.opts.decay, o.decay)
	b.StartSlowStart(o.clk.Now().UnixNano(), o.opts.slowStart)
	b.SetFlag(upstream.FlagEjected, false)
	o.mu.Unlock()

	o.notify(b, true, "ejection ended")
}

// decay forgives one ejection per decay interval (WithDecay) without a new one.
func (o *Outlier) decay(b *upstream.Backend, seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.current(b, seq)
	if !ok {
		return
	}
	// Ejections is only written under o.mu. The next decay is scheduled
	// before the lower count is published.
	k := b.Ejections.Load()
	if k > 1 {
		o.schedule(b, e, o.opts.decay, o.decay)
	} else {
		e.timer = nil
	}
	b.Ejections.Store(max(k-1, 0))
}

func (o *Outlier) notify(b *upstream.Backend, healthy bool, reason string) {
	if o.opts.onChange != nil {
		o.opts.onChange(b, healthy, reason)
	}
}

// Update sets the pool's members, as a diff applied in place: kept members
// keep their streak, ejection and count; removed members have their timers
// stopped and FlagEjected cleared. Update after Stop does nothing.
func (o *Outlier) Update(members []*upstream.Backend) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	applyMembers(o.members, members, func(b *upstream.Backend) *ejection {
		e := &ejection{}
		if b.Ejections.Load() > 0 {
			// A count carried over (re-added member, replaced Outlier)
			// still decays.
			o.schedule(b, e, o.opts.decay, o.decay)
		}
		return e
	}, o.release)
}

// Ejected reports how many members are ejected now.
func (o *Outlier) Ejected() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ejected
}

// Stop cancels all timers and returns every ejected member to service (a
// pool without outlier detection must not keep backends out). Stop is
// idempotent.
func (o *Outlier) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	o.stopped = true
	for b, e := range o.members {
		o.release(b, e)
		delete(o.members, b)
	}
}

// release drops b from this Outlier's control. o.mu must be held.
func (o *Outlier) release(b *upstream.Backend, e *ejection) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.seq++
	if e.ejected {
		e.ejected = false
		o.ejected--
		b.SetFlag(upstream.FlagEjected, false)
	}
}

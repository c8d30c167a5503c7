package resilience

import (
	"math"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

const (
	Closed   BreakerState = iota // traffic flows; failures are counted
	Open                         // traffic is refused until the cool-down ends
	HalfOpen                     // a few probe requests decide
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half_open"}[s]
}

// BreakerConfig tunes a breaker; it is a pool's circuit_breaker block of
// the gateway's file: it opens per backend when failures/requests in the
// rolling window reach FailureRatio and the window holds at least
// MinRequests; when half-open, HalfOpenProbes concurrent probes are let
// through and all must succeed to close.
type BreakerConfig struct {
	FailureRatio   float64       `yaml:"failure_ratio"`    // default 0.5
	MinRequests    int           `yaml:"min_requests"`     // in the window before it may open; default 20
	Window         time.Duration `yaml:"window"`           // default 10s
	CoolDown       time.Duration `yaml:"cool_down"`        // open -> half-open; default 30s
	HalfOpenProbes int           `yaml:"half_open_probes"` // default 3
}

func (c *BreakerConfig) SetDefaults() {
	c.FailureRatio = 0.5
	c.MinRequests = 20
	c.Window = 10 * time.Second
	c.CoolDown = 30 * time.Second
	c.HalfOpenProbes = 3
}

// Validate reports the problems of c by key relative to the block.
func (c *BreakerConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if !(c.FailureRatio > 0 && c.FailureRatio <= 1) {
		v.Add("failure_ratio", "must be in (0, 1], got %v", c.FailureRatio)
	}
	v.Between("min_requests", c.MinRequests, 1, math.MaxInt32)
	v.Positive("window", c.Window)
	v.Positive("cool_down", c.CoolDown)
	v.Between("half_open_probes", c.HalfOpenProbes, 1, 1000)
	return v.Errs
}

const breakerBuckets = 10

// Breaker is a per-backend circuit breaker over a rolling window of
// buckets. It is consulted once per attempt, off the pick fast path.
type Breaker struct {
	cfg BreakerConfig
	clk clock.Clock
	// OnChange, if set, is called (outside the lock) on every transition.
	onChange func(from, to BreakerState)

	mu        sync.Mutex
	state     BreakerState
	openedAt  time.Time
	buckets   [breakerBuckets]struct{ ok, fail int }
	bucketAt  time.Time // start of the newest bucket
	head      int
	probes    int // probes in flight while half-open
	successes int // successful probes while half-open
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig, clk clock.Clock, onChange func(from, to BreakerState)) *Breaker {
	if cfg.HalfOpenProbes < 1 {
		cfg.HalfOpenProbes = 1
	}
	if cfg.Window <= 0 {
		cfg.Window = 10 * time.Second
	}
	return &Breaker{cfg: cfg, clk: clk, onChange: onChange, bucketAt: clk.Now()}
}

// State reports the current state, moving open to half-open when the
// cool-down has passed.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	from, to := b.refresh(b.clk.Now())
	s := b.state
	b.mu.Unlock()
	b.notify(from, to)
	return s
}

// Allow reports whether a request may go to the backend now. When it
// returns true the caller must report the outcome with Done.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	from, to := b.refresh(b.clk.Now())
	ok := true
	switch b.state {
	case Open:
		ok = false
	case HalfOpen:
		if b.probes >= b.cfg.HalfOpenProbes {
			ok = false
		} else {
			b.probes++
		}
	}
	b.mu.Unlock()
	b.notify(from, to)
	return ok
}

// Done records the outcome of an allowed request.
func (b *Breaker) Done(failed bool) {
	now := b.clk.Now()
	b.mu.Lock()
	from, to := b.refresh(now)
	if from == to {
		from, to = b.record(now, failed)
	}
	b.mu.Unlock()
	b.notify(from, to)
}

func (b *Breaker) record(now time.Time, failed bool) (from, to BreakerState) {
	switch b.state {
	case HalfOpen:
		b.probes--
		if failed {
			return b.transition(Open, now)
		}
		b.successes++
		if b.successes >= b.cfg.HalfOpenProbes {
			return b.transition(Closed, now)
		}
		return b.state, b.state
	case Open:
		return b.state, b.state // a straggler from before opening
	}
	b.rotate(now)
	if failed {
		b.buckets[b.head].fail++
	} else {
		b.buckets[b.head].ok++
	}
	var ok, fail int
	for _, bk := range b.buckets {
		ok += bk.ok
		fail += bk.fail
	}
	total := ok + fail
	if total >= b.cfg.MinRequests && total > 0 && float64(fail)/float64(total) >= b.cfg.FailureRatio {
		return b.transition(Open, now)
	}
	return b.state, b.state
}

// rotate advances the bucket ring to now, clearing buckets that fell out
// of the window.
func (b *Breaker) rotate(now time.Time) {
	width := b.cfg.Window / breakerBuckets
	for n := 0; now.Sub(b.bucketAt) >= width && n < breakerBuckets; n++ {
		b.head = (b.head + 1) % breakerBuckets
		b.buckets[b.head] = struct{ ok, fail int }{}
		b.bucketAt = b.bucketAt.Add(width)
	}
	if now.Sub(b.bucketAt) >= width { // idle longer than the window
		b.bucketAt = now
	}
}

func (b *Breaker) refresh(now time.Time) (from, to BreakerState) {
	if b.state == Open && now.Sub(b.openedAt) >= b.cfg.CoolDown {
		return b.transition(HalfOpen, now)
	}
	return b.state, b.state
}

func (b *Breaker) transition(to BreakerState, now time.Time) (BreakerState, BreakerState) {
	from := b.state
	b.state = to
	b.probes, b.successes = 0, 0
	switch to {
	case Open:
		b.openedAt = now
		// An open backend gets no traffic (strategies skip it), so nothing
		// would call the breaker again: wake up at the end of the cool-down
		// to go half-open. A stale wake-up is harmless.
		b.clk.AfterFunc(b.cfg.CoolDown, func() { b.State() })
	case Closed:
		b.buckets = [breakerBuckets]struct{ ok, fail int }{}
		b.bucketAt = now
	}
	return from, to
}

func (b *Breaker) notify(from, to BreakerState) {
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}

// Package upstream holds the per-backend state that the balancer, the health
// checker and the proxy share. Configuration (address, weight) is immutable;
// runtime state (in-flight, health flags, latency) lives in atomics so the hot
// path never takes a lock. Modelled on Caddy's Upstream/Host split.
package upstream

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

// Flag bits of a backend's state word. A backend takes new requests only
// when no bit is set, so Available is a single atomic load.
const (
	FlagUnhealthy   uint32 = 1 << iota // failed its active health checks
	FlagEjected                        // passively ejected as an outlier
	FlagDraining                       // left the pool; finishing in-flight requests
	FlagCircuitOpen                    // circuit breaker open (resilience issue)
)

// Spec is the configuration of one backend. It is an alias so that
// discovery and the local actuator, which live outside gateway/, publish
// the very type the pools take.
type Spec = backend.Spec

// InflightTracker is notified whenever a backend's in-flight count changes.
// Strategies that keep an ordered index (least connections) register one.
type InflightTracker interface {
	InflightChanged(b *Backend)
}

type trackerBox struct{ t InflightTracker }

// Backend is one upstream server and its shared runtime state.
type Backend struct {
	id   string
	addr string
	// weight is the one setting a reload changes in place (SetWeight).
	weight atomic.Int64

	state    atomic.Uint32
	inflight atomic.Int64
	tracker  atomic.Pointer[trackerBox]

	// Slow start: the effective weight ramps from a floor to 1 over window.
	slowStartBegin  atomic.Int64 // unix nanos; 0 = not ramping
	slowStartWindow atomic.Int64 // nanos

	// Peak-EWMA latency in nanoseconds (float64 bits) and when it was last
	// updated (unix nanos).
	ewmaBits  atomic.Uint64
	ewmaStamp atomic.Int64

	// Passive outlier detection bookkeeping (owned by the health package).
	ConsecutiveFailures atomic.Int32
	Ejections           atomic.Int32

	// Counters for metrics and status.
	Requests atomic.Uint64
	Failures atomic.Uint64

	// ext is the owner's per-backend data, reached only through an Ext[T].
	ext atomic.Value
}

// Ext is one owner's typed per-backend data, kept on the Backend itself so
// that the hot path reaches it from a pick with no map lookup and no
// allocation. The owner declares one (the pool: its connections, breaker,
// bulkhead and metrics per backend) and no other package sees the type:
// upstream need not import the owner, and callers get a *T, not an any to
// assert. It is Envoy's typed per-host data (typedLbPolicyData<T>) in Go. A
// Backend has one owner: storing another type in it panics.
type Ext[T any] struct{}

// Load is b's data, nil before the first Store.
func (Ext[T]) Load(b *Backend) *T {
	v, _ := b.ext.Load().(*T)
	return v
}

// Store attaches v to b; requests that loaded the previous value keep it.
func (Ext[T]) Store(b *Backend, v *T) { b.ext.Store(v) }

// New builds a backend from its spec. Weight below 1 is treated as 1.
func New(s Spec) *Backend {
	id := s.ID
	if id == "" {
		id = s.Address
	}
	b := &Backend{id: id, addr: s.Address}
	b.SetWeight(s.Weight)
	return b
}

func (b *Backend) ID() string   { return b.id }
func (b *Backend) Addr() string { return b.addr }
func (b *Backend) Weight() int  { return int(b.weight.Load()) }
func (b *Backend) Spec() Spec   { return Spec{ID: b.id, Address: b.addr, Weight: b.Weight()} }

// SetWeight changes the weight in place, keeping the backend's state; below
// 1 is treated as 1. Strategies that precompute from weights see it at
// their next Update.
func (b *Backend) SetWeight(w int) {
	b.weight.Store(int64(max(w, 1)))
}

// Available reports whether the backend may take new requests.
func (b *Backend) Available() bool { return b.state.Load() == 0 }

// State returns the raw flag word.
func (b *Backend) State() uint32 { return b.state.Load() }

// HasFlag reports whether flag is set.
func (b *Backend) HasFlag(flag uint32) bool { return b.state.Load()&flag != 0 }

// SetFlag sets or clears flag and reports whether the word changed.
func (b *Backend) SetFlag(flag uint32, on bool) bool {
	for {
		old := b.state.Load()
		nw := old &^ flag
		if on {
			nw = old | flag
		}
		if nw == old {
			return false
		}
		if b.state.CompareAndSwap(old, nw) {
			return true
		}
	}
}

// Inflight is the number of requests currently being served.
func (b *Backend) Inflight() int64 { return b.inflight.Load() }

// Acquire counts a request as started on this backend.
func (b *Backend) Acquire() {
	b.inflight.Add(1)
	b.Requests.Add(1)
	if t := b.tracker.Load(); t != nil {
		t.t.InflightChanged(b)
	}
}

// Release counts a request as finished.
func (b *Backend) Release() {
	b.inflight.Add(-1)
	if t := b.tracker.Load(); t != nil {
		t.t.InflightChanged(b)
	}
}

// SetTracker installs (or with nil removes) the in-flight change listener.
func (b *Backend) SetTracker(t InflightTracker) {
	if t == nil {
		b.tracker.Store(nil)
		return
	}
	b.tracker.Store(&trackerBox{t})
}

// slowStartFloor is the share of its weight a backend gets at the very start
// of slow start, so it is probed at once rather than starved.
const slowStartFloor = 0.1

// StartSlowStart begins a ramp of the given window at now (unix nanos).
// A zero window disables the ramp.
func (b *Backend) StartSlowStart(now int64, window time.Duration) {
	if window <= 0 {
		b.slowStartBegin.Store(0)
		return
	}
	b.slowStartWindow.Store(int64(window))
	b.slowStartBegin.Store(now)
}

// SlowStartFactor is the share (0,1] of its weight the backend should get at
// now (unix nanos): linear from slowStartFloor to 1 across the window.
func (b *Backend) SlowStartFactor(now int64) float64 {
	begin := b.slowStartBegin.Load()
	if begin == 0 {
		return 1
	}
	win := b.slowStartWindow.Load()
	el := now - begin
	if el >= win || win <= 0 {
		b.slowStartBegin.CompareAndSwap(begin, 0)
		return 1
	}
	if el < 0 {
		el = 0
	}
	return slowStartFloor + (1-slowStartFloor)*float64(el)/float64(win)
}

// EWMA time constants. ewmaTau smooths observations; idleDecay pulls the
// cost of a backend that is not being observed back toward zero, so a
// backend that was once slow is probed again instead of starved forever
// (traefik#12306).
const (
	ewmaTau   = 10 * time.Second
	idleDecay = 5 * time.Second
)

// ObserveLatency folds one response time into the peak-EWMA: a sample above
// the current value replaces it at once (peak), lower samples decay it.
func (b *Backend) ObserveLatency(now int64, rtt time.Duration) {
	x := float64(rtt)
	for {
		oldBits := b.ewmaBits.Load()
		last := b.ewmaStamp.Load()
		// Fold into the cost as strategies see it now (idle decay applied),
		// so a backend that recovers wins its share back in seconds rather
		// than working off a stale peak.
		old := decayed(math.Float64frombits(oldBits), now-last)
		var nv float64
		if old == 0 || x > old {
			nv = x
		} else {
			dt := float64(now - last)
			if dt < 0 {
				dt = 0
			}
			w := math.Exp(-dt / float64(ewmaTau))
			nv = old*w + x*(1-w)
		}
		if b.ewmaBits.CompareAndSwap(oldBits, math.Float64bits(nv)) {
			b.ewmaStamp.Store(now)
			return
		}
	}
}

// LatencyCost is the peak-EWMA latency (ns) at now, decayed toward zero by
// the time since the last observation. Zero means no information, which a
// strategy should treat as "try it".
func (b *Backend) LatencyCost(now int64) float64 {
	return decayed(math.Float64frombits(b.ewmaBits.Load()), now-b.ewmaStamp.Load())
}

// decayed applies the idle decay for dt nanoseconds without observations.
func decayed(v float64, dt int64) float64 {
	if v == 0 || dt <= 0 {
		return v
	}
	return v * math.Exp(-float64(dt)/float64(idleDecay))
}

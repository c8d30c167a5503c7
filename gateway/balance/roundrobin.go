package balance

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// roundRobin hands out members in turn. Skipped members (unusable, or a
// slow-start coin that came up tails) consume their turn from the shared
// counter instead of passing it to their neighbour, so the remaining
// members keep exactly equal shares rather than the next one in line
// getting double.
type roundRobin struct {
	next    atomic.Uint64
	_       [56]byte // keep the hot counter off the members pointer's cache line
	members atomic.Pointer[[]*upstream.Backend]
}

func (rr *roundRobin) Update(members []*upstream.Backend) {
	m := distinct(members)
	rr.members.Store(&m)
}

func (rr *roundRobin) Pick(r *Request) *upstream.Backend {
	p := rr.members.Load()
	if p == nil || len(*p) == 0 {
		return nil
	}
	m := *p
	n := uint64(len(m))
	var slow *upstream.Backend // a usable member the slow-start coin turned down
	for range min(n, maxDraws) {
		b := m[(rr.next.Add(1)-1)%n]
		if !usable(b, r) {
			continue
		}
		if slowStartAccept(b, r.Now) {
			return b
		}
		slow = cmpOr(slow, b)
	}
	// Many members unusable: sweep them all once from the current position.
	start := rr.next.Load()
	for k := range n {
		b := m[(start+k)%n]
		if !usable(b, r) {
			continue
		}
		if slowStartAccept(b, r.Now) {
			return b
		}
		slow = cmpOr(slow, b)
	}
	return slow
}

// slowStartAccept is the slow-start rule for strategies without weights:
// a ramping backend is taken with probability SlowStartFactor, otherwise
// the strategy moves on. The random number is only drawn while ramping.
func slowStartAccept(b *upstream.Backend, now int64) bool {
	f := b.SlowStartFactor(now)
	return f >= 1 || rand.Float64() < f
}

// cmpOr returns a unless it is nil, else b.
func cmpOr(a, b *upstream.Backend) *upstream.Backend {
	if a != nil {
		return a
	}
	return b
}

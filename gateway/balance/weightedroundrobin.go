package balance

import (
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// weightedRoundRobin is nginx's smooth weighted round robin: weights 5,1,1
// give a,a,b,a,c,a,a, interleaved rather than a five-long burst. nginx runs
// its O(n) step under a lock on every request; here the whole period is
// computed once per Update and Pick just indexes it with an atomic counter.
// Like round_robin, a skipped turn is consumed, so unusable members' turns
// spread over the others in sequence order; slow start is a coin with
// probability SlowStartFactor, so a ramping member's share is
// Weight()*SlowStartFactor relative to the rest.
type weightedRoundRobin struct {
	next atomic.Uint64
	_    [56]byte
	set  atomic.Pointer[wrrSet]
}

type wrrSet struct {
	members []*upstream.Backend
	seq     []uint32 // one period of the smooth sequence, as member indexes
}

func (w *weightedRoundRobin) Update(members []*upstream.Backend) {
	m := distinct(members)
	w.set.Store(&wrrSet{members: m, seq: smoothSequence(m)})
}

func (w *weightedRoundRobin) Pick(r *Request) *upstream.Backend {
	s := w.set.Load()
	if s == nil || len(s.members) == 0 {
		return nil
	}
	period := uint64(len(s.seq))
	var slow *upstream.Backend
	for range maxDraws {
		b := s.members[s.seq[(w.next.Add(1)-1)%period]]
		if !usable(b, r) {
			continue
		}
		if slowStartAccept(b, r.Now) {
			return b
		}
		slow = cmpOr(slow, b)
	}
	if slow != nil {
		return slow
	}
	g := rng{rand.Uint64()}
	return scanWeighted(s.members, r, &g)
}

// Bounds on the precomputed period. The smooth sequence costs O(n) per
// step to build, so the period is capped at maxPeriod entries and at
// wrrBuildBudget/n steps (but never below n, so every member keeps a slot).
// Weights whose gcd-reduced sum exceeds the cap are scaled down to it; a
// member's share then deviates by at most 1/period of the traffic, e.g.
// 0.0015% at the 65536-entry cap.
const (
	maxPeriod      = 1 << 16
	wrrBuildBudget = 1 << 24
)

// smoothSequence runs nginx's algorithm over one full period: every member
// gains its weight, the richest is chosen and pays the total.
func smoothSequence(members []*upstream.Backend) []uint32 {
	n := len(members)
	if n == 0 {
		return nil
	}
	w := make([]int64, n)
	var g int64
	for i, b := range members {
		w[i] = int64(b.Weight())
		g = gcd(g, w[i])
	}
	var total int64
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	if limit := int64(max(n, min(maxPeriod, wrrBuildBudget/n))); total > limit {
		scale := float64(limit) / float64(total)
		total = 0
		for i := range w {
			w[i] = max(1, int64(math.Round(float64(w[i])*scale)))
			total += w[i]
		}
	}
	seq := make([]uint32, total)
	cur := make([]int64, n)
	for k := range seq {
		best := 0
		for i := range cur {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[k] = uint32(best)
	}
	return seq
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

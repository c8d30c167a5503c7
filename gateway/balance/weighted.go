package balance

import (
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// weightedSet is the immutable snapshot behind the strategies that draw
// candidates at random (or by hash) in proportion to weight.
type weightedSet struct {
	members []*upstream.Backend
	alias   alias
}

// weightedMembers holds the current weightedSet; Update swaps it whole.
type weightedMembers struct {
	set atomic.Pointer[weightedSet]
}

func (w *weightedMembers) Update(members []*upstream.Backend) {
	m := distinct(members)
	w.set.Store(&weightedSet{members: m, alias: newAlias(m)})
}

// load returns the current snapshot, or nil when it has no members.
// pair is the current set's pair of candidates for r (set.pair); both
// nil when there are no members.
func (w *weightedMembers) pair(r *Request) (a *upstream.Backend, wa float64, b *upstream.Backend, wb float64) {
	if s := w.load(); s != nil {
		return s.pair(r)
	}
	return nil, 0, nil, 0
}

func (w *weightedMembers) load() *weightedSet {
	s := w.set.Load()
	if s == nil || len(s.members) == 0 {
		return nil
	}
	return s
}

// draw tries up to maxDraws weighted draws for a usable member other than
// not, accepting a slow-starting one with probability SlowStartFactor, so
// the accepted draw is distributed as Weight()*SlowStartFactor. It returns
// the member and that effective weight, or nil when every draw missed.
func (s *weightedSet) draw(r *Request, g *rng, not *upstream.Backend) (*upstream.Backend, float64) {
	for range maxDraws {
		b := s.members[s.alias.draw(g.next())]
		if b == not || !usable(b, r) {
			continue
		}
		w := float64(b.Weight())
		if f := b.SlowStartFactor(r.Now); f < 1 {
			if unit(g.next()) >= f {
				continue
			}
			w *= f
		}
		return b, w
	}
	return nil, 0
}

// pair draws the two P2C candidates: distinct usable backends in
// proportion to effective weight. b is nil when only a qualifies; a is nil
// when none does.
func (s *weightedSet) pair(r *Request) (a *upstream.Backend, wa float64, b *upstream.Backend, wb float64) {
	g := newRNG()
	if a, wa = s.draw(r, &g, nil); a == nil {
		return scanWeighted(s.members, r, &g), 0, nil, 0
	}
	if len(s.members) > 1 {
		b, wb = s.draw(r, &g, a)
	}
	return a, wa, b, wb
}

package balance

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// random picks a usable backend with probability proportional to its
// effective weight.
type random struct{ weightedMembers }

func (s *random) Pick(r *Request) *upstream.Backend {
	set := s.load()
	if set == nil {
		return nil
	}
	g := newRNG()
	if b, _ := set.draw(r, &g, nil); b != nil {
		return b
	}
	return scanWeighted(set.members, r, &g)
}

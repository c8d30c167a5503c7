package balance

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// ipHash maps Request.Hash straight onto the weighted member list (the alias
// table driven by the hash instead of a random number): O(1), weight-aware
// and deterministic, so the active and the passive gateway agree. It is
// nginx's ip_hash, not a ring: a key whose backend is unusable is rehashed
// (deterministically) to another, and keys return when it comes back, but a
// membership change remaps most keys. Use consistent_hash when membership
// churns and affinity matters.
type ipHash struct{ weightedMembers }

func (p *ipHash) Pick(r *Request) *upstream.Backend {
	set := p.load()
	if set == nil {
		return nil
	}
	h := mix64(r.Hash)
	for range maxDraws {
		b := set.members[set.alias.draw(h)]
		if usable(b, r) {
			// Slow start with a coin drawn from the key: as the factor
			// ramps up, a growing, stable set of keys is let through.
			if f := b.SlowStartFactor(r.Now); f >= 1 || unit(mix64(h^hk0)) < f {
				return b
			}
		}
		h = mix64(h + 0x9e3779b97f4a7c15)
	}
	g := rng{h}
	return scanWeighted(set.members, r, &g)
}

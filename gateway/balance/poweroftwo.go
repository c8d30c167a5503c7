package balance

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// powerOfTwo is P2C (Mitzenmacher; Envoy's least_request, Traefik's p2c):
// draw two distinct usable backends in proportion to effective weight and
// keep the one with less in-flight per unit of weight. Sampling by weight
// makes an idle pool's shares follow the weights exactly (ties keep the
// first draw, itself weight-distributed); comparing in-flight/weight makes
// a loaded pool converge to in-flight proportional to weight.
type powerOfTwo struct{ weightedMembers }

func (p *powerOfTwo) Pick(r *Request) *upstream.Backend {
	a, wa, b, wb := p.pair(r)
	// Cross-multiplied in-flight/weight comparison: no division.
	if b != nil && float64(b.Inflight())*wa < float64(a.Inflight())*wb {
		return b
	}
	return a
}

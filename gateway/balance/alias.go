package balance

import (
	"math"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// alias is Vose's alias table over the members' static weights: one uniform
// 64-bit draw picks index i with probability Weight(i)/total in O(1), with
// no search and no lock. random, power_of_two, least_response_time and
// ip_hash draw their candidates from it (ip_hash feeding it the key hash).
// Slow start is applied on top by the caller, as an acceptance probability.
type alias struct {
	n     uint64
	cells []aliasCell // nil when all weights are equal: the draw is uniform
}

// aliasCell keeps its own index when the low 32 bits of the draw are <= keep
// and yields to other otherwise.
type aliasCell struct {
	keep  uint32
	other uint32
}

func newAlias(members []*upstream.Backend) alias {
	a := alias{n: uint64(len(members))}
	if len(members) == 0 {
		return a
	}
	equal := true
	var total float64
	for _, b := range members {
		total += float64(b.Weight())
		equal = equal && b.Weight() == members[0].Weight()
	}
	if equal {
		return a
	}
	// Vose: scale to mean 1, pair each short column with a long one.
	n := len(members)
	p := make([]float64, n)
	var small, large []int
	for i, b := range members {
		p[i] = float64(b.Weight()) * float64(n) / total
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	a.cells = make([]aliasCell, n)
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.cells[s] = aliasCell{keep: keepOf(p[s]), other: uint32(l)}
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// Whatever is left is 1 up to rounding: always keep.
	for _, i := range append(small, large...) {
		a.cells[i] = aliasCell{keep: math.MaxUint32, other: uint32(i)}
	}
	return a
}

func keepOf(p float64) uint32 {
	k := p*(1<<32) - 1
	switch {
	case k <= 0:
		return 0
	case k >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(k)
}

// draw maps a uniform x to an index: the high 32 bits choose a column
// (Lemire's multiply-shift, no division), the low 32 bits the coin.
func (a *alias) draw(x uint64) int {
	i := (x >> 32) * a.n >> 32
	if a.cells != nil {
		if c := a.cells[i]; uint32(x) > c.keep {
			i = uint64(c.other)
		}
	}
	return int(i)
}

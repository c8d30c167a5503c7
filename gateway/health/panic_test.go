package health

import (
	"net/http"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// panicLog records a Checker's panic-mode transitions as {panic 0/1,
// healthy, total}.
type panicLog struct{ testkit.Log[[3]int] }

func (p *panicLog) hook(panic bool, healthy, total int) {
	n := 0
	if panic {
		n = 1
	}
	p.Add([3]int{n, healthy, total})
}

// available reports which of bs the balancer may pick.
func available(bs []*upstream.Backend) []bool {
	out := make([]bool, len(bs))
	for i, b := range bs {
		out[i] = b.Available()
	}
	return out
}

func TestPanicThresholdKeepsAMostlyFailingPoolServing(t *testing.T) {
	eps := make([]*endpoint, 4)
	bs := make([]*upstream.Backend, 4)
	for i := range eps {
		eps[i] = newEndpoint(t)
		bs[i] = eps[i].backend(string(rune('a' + i)))
	}
	var pl panicLog
	c, clk, _ := newTestChecker(t, CheckConfig{HealthyThreshold: 1, UnhealthyThreshold: 1, PanicThreshold: 50}, WithPanicChange(pl.hook))
	c.Update(bs)

	// Half failing is not below 50%: the failing half is kept out.
	eps[0].set(http.StatusServiceUnavailable)
	eps[1].set(http.StatusServiceUnavailable)
	probeRound(t, c, clk, bs...)
	if got := available(bs); got[0] || got[1] || !got[2] || !got[3] {
		t.Fatalf("2 of 4 failing: available %v, want [false false true true]", got)
	}
	if p, _, _ := c.Panicking(); p {
		t.Fatal("in panic at 50% healthy")
	}

	// One more fails: 1 of 4 healthy is below 50%, so no one is kept out,
	// while the status still says who fails.
	eps[2].set(http.StatusServiceUnavailable)
	probeRound(t, c, clk, bs...)
	if got := available(bs); got[0] != true || got[1] != true || got[2] != true || got[3] != true {
		t.Fatalf("in panic: available %v, want all", got)
	}
	if p, h, n := c.Panicking(); !p || h != 1 || n != 4 {
		t.Fatalf("Panicking() = %v, %d, %d; want true, 1, 4", p, h, n)
	}
	if mustStatus(t, c, bs[2]).Healthy {
		t.Fatal("status hides the failing check during panic")
	}

	// One recovers: 2 of 4, out of panic, and the failing ones go out again.
	eps[0].set(http.StatusOK)
	probeRound(t, c, clk, bs...)
	if got := available(bs); !got[0] || got[1] || got[2] || !got[3] {
		t.Fatalf("after recovery: available %v, want [true false false true]", got)
	}
	if got := pl.All(); len(got) != 2 || got[0] != [3]int{1, 1, 4} || got[1] != [3]int{0, 2, 4} {
		t.Fatalf("panic transitions %v, want enter at 1/4 then leave at 2/4", got)
	}
}

func TestPanicThresholdSingleBackendNeverLockedOut(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("only")
	c, clk, rec := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1, PanicThreshold: 50})
	c.Update([]*upstream.Backend{b})
	ep.set(http.StatusInternalServerError)
	probeRound(t, c, clk, b)
	if mustStatus(t, c, b).Healthy || rec.Len() != 1 {
		t.Fatalf("the failing check is not reported: %+v", rec.All())
	}
	if !b.Available() {
		t.Fatal("the pool's only backend was taken out by its checks despite the panic threshold")
	}
}

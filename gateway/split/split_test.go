package split

import (
	"fmt"
	"math"
	"net/http"
	"testing"
)

var ts = []Target{{Pool: "v1", Weight: 90}, {Pool: "v2", Weight: 10}}

// A random pick costs no allocation: routes pay per request only the draw.
func TestPickDoesNotAllocate(t *testing.T) {
	p := New(ts, nil)
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if n := testing.AllocsPerRun(100, func() { p.Pick(r) }); n != 0 {
		t.Fatalf("Pick allocates %v times", n)
	}
}

// Sticky keys hash onto the weights: 10,000 keys land within 3 points of
// 90/10, and two pickers (a reload with the same weights) agree on each.
func TestStickyKeysFollowWeightsAndSurviveRebuild(t *testing.T) {
	a, b := New(ts, &Sticky{Header: "x-user"}), New(ts, &Sticky{Header: "X-User"})
	r, _ := http.NewRequest("GET", "http://x/", nil)
	var n [2]int
	for i := 0; i < 10_000; i++ {
		r.Header.Set("X-User", fmt.Sprintf("user-%d", i))
		pa := a.Pick(r)
		if pb := b.Pick(r); pa != pb {
			t.Fatalf("key user-%d: pool %d, after a rebuild %d", i, pa, pb)
		}
		n[pa]++
	}
	if got := float64(n[1]) / 10_000; math.Abs(got-0.10) > 0.03 {
		t.Fatalf("keys per pool %v, want about 90/10", n)
	}
}

func TestStickyByCookieAndClientIP(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	r.AddCookie(&http.Cookie{Name: "s", Value: "abc"})
	for _, s := range []*Sticky{{Cookie: "s"}, {ClientIP: true}} {
		p := New(ts, s)
		first := p.Pick(r)
		for i := 0; i < 50; i++ {
			if p.Pick(r) != first {
				t.Fatalf("%+v: the same key moved", *s)
			}
		}
	}
}

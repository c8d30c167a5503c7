package balance

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// t0 is the tests' epoch (unix nanos); slow start treats 0 as "not ramping",
// so the clock must not start at zero.
const t0 = int64(1_700_000_000) * int64(time.Second)

func pool(weights ...int) []*upstream.Backend {
	bs := make([]*upstream.Backend, len(weights))
	for i, w := range weights {
		bs[i] = upstream.New(upstream.Spec{ID: fmt.Sprintf("b%d", i), Address: fmt.Sprintf("10.0.0.%d:80", i), Weight: w})
	}
	return bs
}

func equalPool(n int) []*upstream.Backend {
	w := make([]int, n)
	for i := range w {
		w[i] = 1
	}
	return pool(w...)
}

func mustNew(t testing.TB, name string, opts Options, members []*upstream.Backend) Balancer {
	t.Helper()
	b, err := New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(members)
	return b
}

// counts picks n times, acquiring and releasing each pick at once (an idle
// pool). Request.Hash is varied when hashed is set so that hash strategies
// see distinct keys.
func counts(t testing.TB, bal Balancer, n int, req Request, hashed bool) map[*upstream.Backend]int {
	t.Helper()
	got := map[*upstream.Backend]int{}
	for i := range n {
		r := req
		if hashed {
			r.Hash = hashBytes(fmt.Sprint("key-", i))
		}
		b := bal.Pick(&r)
		if b == nil {
			t.Fatalf("pick %d: nil", i)
		}
		b.Acquire()
		b.Release()
		got[b]++
	}
	return got
}

// checkShares asserts that each backend's share of total picks is within
// tol (absolute) of want[i].
func checkShares(t *testing.T, members []*upstream.Backend, got map[*upstream.Backend]int, want []float64, tol float64) {
	t.Helper()
	total := 0
	for _, c := range got {
		total += c
	}
	for i, b := range members {
		share := float64(got[b]) / float64(total)
		if math.Abs(share-want[i]) > tol {
			t.Errorf("%s: share %.4f, want %.4f ± %.3f (counts %v)", b.ID(), share, want[i], tol, countList(members, got))
		}
	}
}

func countList(members []*upstream.Backend, got map[*upstream.Backend]int) []int {
	out := make([]int, len(members))
	for i, b := range members {
		out[i] = got[b]
	}
	return out
}

func weightShares(weights ...float64) []float64 {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	out := make([]float64, len(weights))
	for i, w := range weights {
		out[i] = w / sum
	}
	return out
}

// held picks n times and holds every pick (Acquire, no Release): a pool
// under load. The caller owns the in-flight counts it leaves behind.
func held(t testing.TB, bal Balancer, n int, req Request) map[*upstream.Backend]int {
	t.Helper()
	got := map[*upstream.Backend]int{}
	for i := range n {
		b := bal.Pick(&req)
		if b == nil {
			t.Fatalf("pick %d: nil", i)
		}
		b.Acquire()
		got[b]++
	}
	return got
}

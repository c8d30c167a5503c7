package balance

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// effectiveKey is the brute-force reference: what least_connections must
// minimise for b, or false when b may not take r.
func effectiveKey(b *upstream.Backend, r *Request) (uint32, bool) {
	if !usable(b, r) {
		return 0, false
	}
	w := float64(b.Weight())
	if f := b.SlowStartFactor(r.Now); f < 1 {
		w *= f
	}
	return lcKey(b.Inflight(), 1/w), true
}

func bruteMin(members []*upstream.Backend, r *Request) (uint32, bool) {
	best, found := uint32(0), false
	for _, b := range members {
		if k, ok := effectiveKey(b, r); ok && (!found || k < best) {
			best, found = k, true
		}
	}
	return best, found
}

// TestLeastConnectionsPicksAMinimum drives a pool through random
// acquires, releases, health flips, exclusions, slow starts and membership
// changes, and checks every pick against a full scan.
func TestLeastConnectionsPicksAMinimum(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	all := make([]*upstream.Backend, 0, 67)
	for i := range 67 { // not a power of two: ragged tree edge
		all = append(all, upstream.New(upstream.Spec{ID: string(rune('A' + i)), Address: "x", Weight: 1 + rnd.IntN(5)}))
	}
	members := all[:50]
	bal := mustNew(t, "least_connections", Options{}, members)
	var held []*upstream.Backend
	for step := range 20_000 {
		now := t0 + int64(step)*int64(time.Millisecond)
		switch op := rnd.IntN(100); {
		case op < 2:
			members[rnd.IntN(len(members))].SetFlag(upstream.FlagUnhealthy, rnd.IntN(2) == 0)
		case op < 3:
			members[rnd.IntN(len(members))].StartSlowStart(now, 5*time.Second)
		case op < 4:
			lo := rnd.IntN(10)
			members = all[lo : lo+40+rnd.IntN(len(all)-lo-40)]
			bal.Update(members)
		case op < 50 && len(held) > 0:
			k := rnd.IntN(len(held))
			held[k].Release()
			held[k] = held[len(held)-1]
			held = held[:len(held)-1]
		default:
			avoid := members[rnd.IntN(len(members))]
			r := Request{Now: now, Exclude: func(b *upstream.Backend) bool { return b == avoid }}
			want, ok := bruteMin(members, &r)
			b := bal.Pick(&r)
			if !ok {
				if b != nil {
					t.Fatalf("step %d: nothing usable, picked %s", step, b.ID())
				}
				continue
			}
			if b == nil {
				t.Fatalf("step %d: nil pick, want key %x", step, want)
			}
			got, usable := effectiveKey(b, &r)
			if !usable || got != want {
				t.Fatalf("step %d: picked %s (usable %v, key %x), minimum is %x", step, b.ID(), usable, got, want)
			}
			b.Acquire()
			held = append(held, b)
		}
	}
	checkLCTree(t, bal.(*leastConnections))
}

// TestLeastConnectionsTiesAreUniform: in an idle pool every member ties; a
// "first minimum wins" scan would send everything to the first member.
// Five members (a ragged tree) must get 20% each; the bound is 3 points
// over 10,000 picks, 7.5 binomial standard deviations.
func TestLeastConnectionsTiesAreUniform(t *testing.T) {
	members := equalPool(5)
	bal := mustNew(t, "least_connections", Options{}, members)
	got := counts(t, bal, 10_000, Request{Now: t0}, false)
	checkShares(t, members, got, weightShares(1, 1, 1, 1, 1), 0.03)

	// Ties between equal ratios of different weights: (0+1)/2 == (1+1)/4.
	members = pool(2, 4, 1)
	bal = mustNew(t, "least_connections", Options{}, members)
	members[1].Acquire()
	got = map[*upstream.Backend]int{}
	for range 4000 {
		got[bal.Pick(&Request{Now: t0})]++
	}
	checkShares(t, members, got, []float64{0.5, 0.5, 0}, 0.04)
}

// TestLeastConnectionsDescentTieBreak: with only two of 256 members at the
// minimum the uniform probes mostly miss and the tree walk decides; it
// must still split the two evenly (±4 points over 4,000 picks: 5 binomial
// standard deviations), whichever subtrees they sit in.
func TestLeastConnectionsDescentTieBreak(t *testing.T) {
	// Far apart in the tree, then side by side under one bottom node.
	for _, pair := range [][2]int{{7, 200}, {17, 21}} {
		members := equalPool(256)
		bal := mustNew(t, "least_connections", Options{}, members)
		for _, b := range members {
			b.Acquire()
		}
		a, b := members[pair[0]], members[pair[1]]
		a.Release()
		b.Release()
		got := map[*upstream.Backend]int{}
		for range 4000 {
			got[bal.Pick(&Request{Now: t0})]++
		}
		if len(got) != 2 {
			t.Fatalf("picked %d distinct backends, want the 2 tied at the minimum", len(got))
		}
		if s := float64(got[a]) / 4000; s < 0.46 || s > 0.54 {
			t.Errorf("%v: split %d/%d between the tied pair, want even", pair, got[a], got[b])
		}
	}
}

func TestLeastConnectionsWeights(t *testing.T) {
	// Held load settles in-flight in proportion to weight.
	members := pool(1, 2, 3, 4)
	bal := mustNew(t, "least_connections", Options{}, members)
	for range 1000 {
		bal.Pick(&Request{Now: t0}).Acquire()
	}
	for i, b := range members {
		if want := int64(100 * (i + 1)); b.Inflight() < want-1 || b.Inflight() > want+1 {
			t.Errorf("%s: in-flight %d, want %d±1", b.ID(), b.Inflight(), want)
		}
	}
}

func TestLeastConnectionsUnhooksRemovedBackends(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "least_connections", Options{}, members)
	members[3].Acquire()
	bal.Update(members[:3])
	// The removed backend's release must not touch the live tree: were it
	// still hooked (or hooked to the new tree) this would panic or corrupt.
	members[3].Release()
	checkLCTree(t, bal.(*leastConnections))
}

// checkLCTree verifies the tree's invariant at rest: every leaf is at most
// its member's key (a lower bound: rises are repaired lazily), every node
// the minimum of its inputs.
func checkLCTree(t *testing.T, lc *leastConnections) {
	t.Helper()
	tr := lc.tree.Load()
	for i := range tr.leaves {
		live := lcEmpty
		if i < len(tr.members) {
			b := tr.members[i]
			live = lcKey(b.Inflight(), 1/float64(b.Weight()))
		}
		if got := tr.leaves[i].Load(); got > live || (i >= len(tr.members) && got != lcEmpty) {
			t.Fatalf("leaf %d = %x, live key %x", i, got, live)
		}
	}
	for h := tr.depth; h >= 0; h-- {
		in, n := tr.leaves, lcLeaves
		if h < tr.depth {
			in, n = tr.levels[h+1], lcFanout
		}
		for j := range tr.levels[h] {
			want := lcEmpty
			for c := range n {
				want = min(want, in[j*n+c].Load())
			}
			if got := tr.levels[h][j].Load(); got != want {
				t.Fatalf("level %d node %d = %x, want min of inputs %x", h, j, got, want)
			}
		}
	}
}

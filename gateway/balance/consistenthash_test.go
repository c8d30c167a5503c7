package balance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

const ringKeys = 20_000

func ringKey(i int) uint64 { return hashBytes(fmt.Sprint("user-", i)) }

func assignments(bal Balancer) []*upstream.Backend {
	out := make([]*upstream.Backend, ringKeys)
	for i := range out {
		out[i] = bal.Pick(&Request{Now: t0, Hash: ringKey(i)})
	}
	return out
}

func TestConsistentHashRemovalMovesOnlyTheRemovedBackendsKeys(t *testing.T) {
	members := equalPool(10)
	bal := mustNew(t, "consistent_hash", Options{}, members)
	before := assignments(bal)
	gone := members[4]
	bal.Update(slices.Delete(slices.Clone(members), 4, 5))
	after := assignments(bal)
	orphans := 0
	for i := range before {
		switch {
		case before[i] == gone:
			orphans++
			if after[i] == gone {
				t.Fatalf("key %d still on the removed backend", i)
			}
		case after[i] != before[i]:
			t.Fatalf("key %d moved from %s to %s, but only %s left", i, before[i].ID(), after[i].ID(), gone.ID())
		}
	}
	if orphans == 0 {
		t.Fatal("the removed backend owned no keys: test is vacuous")
	}

	// Unavailability is the same as removal, and undone by recovery.
	bal.Update(members)
	if got := assignments(bal); !slices.Equal(got, before) {
		t.Fatal("re-adding the backend did not restore the original mapping")
	}
	gone.SetFlag(upstream.FlagUnhealthy, true)
	if got := assignments(bal); !slices.Equal(got, after) {
		t.Error("an unhealthy backend's keys went elsewhere than on removal")
	}
}

func TestConsistentHashAdditionMovesAFairShareToTheNewcomer(t *testing.T) {
	members := equalPool(11)
	bal := mustNew(t, "consistent_hash", Options{}, members[:10])
	before := assignments(bal)
	bal.Update(members)
	after := assignments(bal)
	moved := 0
	for i := range before {
		if after[i] != before[i] {
			moved++
			if after[i] != members[10] {
				t.Fatalf("key %d moved from %s to %s, not to the newcomer", i, before[i].ID(), after[i].ID())
			}
		}
	}
	t.Logf("%d of %d keys moved (%.2f%%; fair share %.2f%%)", moved, ringKeys, 100*float64(moved)/ringKeys, 100./11)
	if limit := 1.2 / 11 * ringKeys; float64(moved) > limit || moved == 0 {
		t.Errorf("%d keys moved, want 1..%.0f", moved, limit)
	}
}

// TestConsistentHashMembershipOrderDoesNotMatter: placement is a function
// of the IDs, not of list order, so two gateways with differently ordered
// discovery results agree.
func TestConsistentHashMembershipOrderDoesNotMatter(t *testing.T) {
	members := equalPool(8)
	a := assignments(mustNew(t, "consistent_hash", Options{}, members))
	rev := slices.Clone(members)
	slices.Reverse(rev)
	b := assignments(mustNew(t, "consistent_hash", Options{}, rev))
	if !slices.Equal(a, b) {
		t.Error("member order changed the key mapping")
	}
}

// TestRingLookupMatchesBinarySearch checks the bucket index against the
// textbook lookup, on a small ring whose buckets are mostly empty or full
// and around the wrap point.
func TestRingLookupMatchesBinarySearch(t *testing.T) {
	for _, vnodes := range []int{1, 3, 160} {
		members := pool(1, 2, 3)
		c := mustNew(t, "consistent_hash", Options{VirtualNodes: vnodes}, members).(*consistentHash)
		rg := c.ring.Load()
		probe := []uint64{0, math.MaxUint64, rg.hashes[0], rg.hashes[0] - 1, rg.hashes[len(rg.hashes)-1], rg.hashes[len(rg.hashes)-1] + 1}
		for range 10_000 {
			probe = append(probe, rand.Uint64())
		}
		for _, x := range probe {
			// Pick mixes Request.Hash; invert nothing, just look up mix64(x).
			h := mix64(x)
			i := sort.Search(len(rg.hashes), func(i int) bool { return rg.hashes[i] >= h })
			if i == len(rg.hashes) {
				i = 0
			}
			want := rg.members[rg.owners[i]]
			if got := c.Pick(&Request{Now: t0, Hash: x}); got != want {
				t.Fatalf("vnodes %d, hash %x: got %s, want %s", vnodes, h, got.ID(), want.ID())
			}
		}
	}
}

// TestBoundedLoads holds requests with heavily skewed keys (a quarter of
// them on one key, the rest Zipf-like) and checks the Mirrokni bound after
// every placement: no backend above ceil(c·m/n) with m requests in flight,
// so at the end max/mean <= c + n/m. The same workload without the bound
// must be badly skewed, or the test proves nothing.
func TestBoundedLoads(t *testing.T) {
	const n, requests, c = 10, 5000, 1.25
	keys := rand.New(rand.NewPCG(3, 4))
	zipf := rand.NewZipf(keys, 1.1, 1, 1000)
	workload := make([]uint64, requests)
	for i := range workload {
		if i%4 == 0 {
			workload[i] = ringKey(0)
		} else {
			workload[i] = ringKey(int(zipf.Uint64()))
		}
	}
	run := func(opts Options, check bool) float64 {
		members := equalPool(n)
		bal := mustNew(t, "consistent_hash", opts, members)
		for m, h := range workload {
			b := bal.Pick(&Request{Now: t0, Hash: h})
			b.Acquire()
			if !check {
				continue
			}
			limit := int64(math.Ceil(c * float64(m+1) / n))
			if b.Inflight() > limit {
				t.Fatalf("request %d: %s holds %d, bound is %d", m, b.ID(), b.Inflight(), limit)
			}
		}
		var most int64
		for _, b := range members {
			most = max(most, b.Inflight())
		}
		return float64(most) / (requests / n)
	}
	skew := run(Options{}, false)
	if skew < 2 {
		t.Fatalf("unbounded max/mean is only %.2f: the workload is not skewed", skew)
	}
	got, limit := run(Options{BoundedLoad: c}, true), c+float64(n)/requests
	t.Logf("max/mean: unbounded %.2f, bounded %.3f (limit %.3f)", skew, got, limit)
	if got > limit {
		t.Errorf("bounded max/mean %.3f, want <= %.3f", got, limit)
	}
}

// TestBoundedLoadsKeepAffinityWhenBalanced: while nobody is over the bound,
// bounded and unbounded rings agree on every key.
func TestBoundedLoadsKeepAffinityWhenBalanced(t *testing.T) {
	members := equalPool(10)
	plain := assignments(mustNew(t, "consistent_hash", Options{}, members))
	bounded := assignments(mustNew(t, "consistent_hash", Options{BoundedLoad: 1.25}, members))
	if !slices.Equal(plain, bounded) {
		t.Error("an idle bounded ring maps keys differently")
	}
}

func TestBoundedLoadsTotalSurvivesUpdate(t *testing.T) {
	members := equalPool(6)
	c := mustNew(t, "consistent_hash", Options{BoundedLoad: 2}, members).(*consistentHash)
	for _, b := range members {
		b.Acquire()
		b.Acquire()
	}
	c.Update(members[:4])
	members[5].Release() // removed: must not count
	members[0].Release()
	if got := c.ring.Load().total.Load(); got != 7 {
		t.Errorf("total in-flight %d, want 7", got)
	}
}

func TestIPHashIsStableAndSkipsDownBackends(t *testing.T) {
	members := equalPool(5)
	bal := mustNew(t, "ip_hash", Options{}, members)
	before := assignments(bal)
	if again := assignments(bal); !slices.Equal(before, again) {
		t.Fatal("ip_hash is not deterministic")
	}
	members[2].SetFlag(upstream.FlagUnhealthy, true)
	after := assignments(bal)
	for i := range before {
		if before[i] != members[2] && after[i] != before[i] {
			t.Fatalf("key %d moved off a healthy backend", i)
		}
	}
	members[2].SetFlag(upstream.FlagUnhealthy, false)
	if back := assignments(bal); !slices.Equal(before, back) {
		t.Error("keys did not return after recovery")
	}
}

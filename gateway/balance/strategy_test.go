package balance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// hashed lists the strategies that pick from Request.Hash.
var hashed = map[string]bool{"ip_hash": true, "consistent_hash": true}

func TestNewRejectsUnknownStrategy(t *testing.T) {
	_, err := New("fastest", Options{})
	if err == nil {
		t.Fatal("New(fastest): no error")
	}
	for _, want := range append(Strategies(), `"fastest"`) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []Options{{VirtualNodes: -1}, {VirtualNodes: maxVirtualNodes + 1}, {BoundedLoad: 1}, {BoundedLoad: 0.5}, {BoundedLoad: -2}} {
		if _, err := New("consistent_hash", o); err == nil {
			t.Errorf("New(consistent_hash, %+v): no error", o)
		}
	}
	if _, err := New("consistent_hash", Options{VirtualNodes: 10, BoundedLoad: 1.25}); err != nil {
		t.Error(err)
	}
}

func TestStrategiesAreConstructible(t *testing.T) {
	names := Strategies()
	want := []string{"round_robin", "weighted_round_robin", "least_connections", "power_of_two",
		"least_response_time", "ip_hash", "consistent_hash", "random"}
	if !slices.Equal(names, want) {
		t.Fatalf("Strategies() = %v, want %v", names, want)
	}
	for _, name := range names {
		if _, err := New(name, Options{}); err != nil {
			t.Errorf("New(%s): %v", name, err)
		}
	}
}

func TestNoMembersPicksNil(t *testing.T) {
	for _, name := range Strategies() {
		bal, err := New(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if b := bal.Pick(&Request{Now: t0}); b != nil {
			t.Errorf("%s: pick before Update = %s", name, b.ID())
		}
		bal.Update(nil)
		if b := bal.Pick(&Request{Now: t0}); b != nil {
			t.Errorf("%s: pick from empty pool = %s", name, b.ID())
		}
	}
}

func TestUnusableBackendsAreSkipped(t *testing.T) {
	for _, name := range Strategies() {
		t.Run(name, func(t *testing.T) {
			members := pool(1, 2, 1, 3, 1, 2)
			bal := mustNew(t, name, Options{}, members)
			members[1].SetFlag(upstream.FlagUnhealthy, true)
			members[4].SetFlag(upstream.FlagDraining, true)
			excluded := members[3]
			req := Request{Now: t0, Exclude: func(b *upstream.Backend) bool { return b == excluded }}
			var got map[*upstream.Backend]int
			if name == "least_connections" {
				// Idle, it only ever takes the heaviest; hold the picks
				// so that everyone usable gets a turn.
				got = held(t, bal, 300, req)
			} else {
				got = counts(t, bal, 3000, req, true)
			}
			for _, bad := range []*upstream.Backend{members[1], members[3], members[4]} {
				if got[bad] != 0 {
					t.Errorf("picked unusable %s %d times", bad.ID(), got[bad])
				}
			}
			for _, ok := range []*upstream.Backend{members[0], members[2], members[5]} {
				if got[ok] == 0 {
					t.Errorf("never picked usable %s", ok.ID())
				}
			}

			// Only one usable, and it has been picked last: still found.
			for _, b := range members[:5] {
				b.SetFlag(upstream.FlagEjected, true)
			}
			for i := range 200 {
				r := Request{Now: t0, Hash: uint64(i)}
				if b := bal.Pick(&r); b != members[5] {
					t.Fatalf("only b5 usable, picked %v", b)
				}
			}

			// Nobody usable: nil, for every key.
			members[5].SetFlag(upstream.FlagCircuitOpen, true)
			for i := range 200 {
				r := Request{Now: t0, Hash: uint64(i)}
				if b := bal.Pick(&r); b != nil {
					t.Fatalf("all unavailable, picked %s", b.ID())
				}
			}
			for _, b := range members {
				b.SetFlag(upstream.FlagEjected|upstream.FlagCircuitOpen|upstream.FlagUnhealthy|upstream.FlagDraining, false)
			}
			all := Request{Now: t0, Exclude: func(*upstream.Backend) bool { return true }}
			if b := bal.Pick(&all); b != nil {
				t.Errorf("all excluded, picked %s", b.ID())
			}
		})
	}
}

// TestWeightedShares checks each strategy's idle-pool distribution. For the
// random strategies the tolerance is ±3 percentage points over 10,000
// picks: a share p has binomial standard deviation sqrt(p(1-p)/10000) <=
// 0.5 points, so 3 points is at least 6 standard deviations and a correct
// implementation fails with probability about 1e-9 per share, while a
// weight-blind one (25% each) misses by 5 to 15 points. ip_hash is the same
// bound over 10,000 distinct keys (its hash acts as the random source).
func TestWeightedShares(t *testing.T) {
	weights := []int{1, 2, 3, 4}
	want := weightShares(1, 2, 3, 4)
	for _, tc := range []struct {
		name string
		tol  float64
	}{
		{"weighted_round_robin", 0}, // exact: 10,000 is a whole number of periods
		{"random", 0.03},
		{"power_of_two", 0.03},
		{"least_response_time", 0.03}, // no latency known yet: by weight
		{"ip_hash", 0.03},
		// The ring's shares are set by where its points fall, not by
		// sampling: with 160 points per unit of weight a backend's share
		// deviates by about 1/sqrt(160·w) of itself (8% for w=1, 4% for
		// w=4, i.e. under 2 points). The IDs are fixed, so this is
		// deterministic; the bound leaves room for any ID set.
		{"consistent_hash", 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			members := pool(weights...)
			bal := mustNew(t, tc.name, Options{}, members)
			got := counts(t, bal, 10_000, Request{Now: t0}, hashed[tc.name])
			checkShares(t, members, got, want, tc.tol+1e-9)
		})
	}
}

func TestRoundRobinIsExact(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "round_robin", Options{}, members)
	got := counts(t, bal, 10_000, Request{Now: t0}, false)
	for _, b := range members {
		if got[b] != 2500 {
			t.Errorf("%s: %d picks, want exactly 2500 (%v)", b.ID(), got[b], countList(members, got))
		}
	}
	// A down member's turns are consumed, not handed to its neighbour:
	// the other three stay exactly even (within one pick).
	members[1].SetFlag(upstream.FlagUnhealthy, true)
	got = counts(t, bal, 9_000, Request{Now: t0}, false)
	for _, b := range []*upstream.Backend{members[0], members[2], members[3]} {
		if got[b] < 2999 || got[b] > 3001 {
			t.Errorf("%s: %d picks, want 3000±1 (%v)", b.ID(), got[b], countList(members, got))
		}
	}
}

func TestSmoothWeightedRoundRobinSequence(t *testing.T) {
	members := pool(5, 1, 1)
	bal := mustNew(t, "weighted_round_robin", Options{}, members)
	name := map[*upstream.Backend]string{members[0]: "a", members[1]: "b", members[2]: "c"}
	var seq []string
	for range 14 {
		seq = append(seq, name[bal.Pick(&Request{Now: t0})])
	}
	if got, want := strings.Join(seq, ","), "a,a,b,a,c,a,a,a,a,b,a,c,a,a"; got != want {
		t.Errorf("sequence %s, want %s", got, want)
	}
}

func TestSmoothSequenceScalesHugeWeights(t *testing.T) {
	members := pool(1_000_000, 3_000_000, 1) // sum way past maxPeriod
	seq := smoothSequence(members)
	if len(seq) > maxPeriod+len(members) {
		t.Fatalf("period %d, want <= %d", len(seq), maxPeriod)
	}
	n := make([]int, len(members))
	for _, i := range seq {
		n[i]++
	}
	if n[2] < 1 {
		t.Error("weight-1 member lost its slot")
	}
	if r := float64(n[1]) / float64(n[0]); r < 2.99 || r > 3.01 {
		t.Errorf("ratio %.4f, want 3", r)
	}
}

// TestSlowStartLowersShare puts one of four equal backends halfway through
// slow start (factor 0.55). Every strategy that weights by
// Weight·SlowStartFactor should then give it 0.55/3.55 = 15.5% instead of
// 25%; consistent_hash passes its rejected keys on clockwise, so it keeps
// exactly 0.55 of its own quarter (13.75%). Tolerance ±2 points: at most
// 0.4 points of binomial noise over 10,000 picks (5 deviations), well short
// of the 9.5 points a missing ramp would leave.
func TestSlowStartLowersShare(t *testing.T) {
	const window = 10 * time.Second
	f := 0.1 + 0.9*0.5
	for _, name := range Strategies() {
		t.Run(name, func(t *testing.T) {
			members := equalPool(4)
			bal := mustNew(t, name, Options{}, members)
			members[3].StartSlowStart(t0, window)
			req := Request{Now: t0 + int64(window/2)}
			if got := members[3].SlowStartFactor(req.Now); got != f {
				t.Fatalf("factor %v, want %v", got, f)
			}
			if name == "consistent_hash" {
				checkRingSlowStart(t, bal, members, req, f)
				return
			}
			var got map[*upstream.Backend]int
			if name == "least_connections" {
				// Idle, least connections always takes the full-weight
				// ones; its share shows under held load, where in-flight
				// settles proportional to effective weight.
				got = held(t, bal, 1000, req)
			} else {
				got = counts(t, bal, 10_000, req, hashed[name])
			}
			share := f / (3 + f)
			rest := (1 - share) / 3
			checkShares(t, members, got, []float64{rest, rest, rest, share}, 0.02)
		})
	}
}

// checkRingSlowStart: the ring keeps a slow-starting backend's keys only
// with probability f (a per-key coin) and passes the rest clockwise, so of
// the keys it owns when fully up it keeps f, and no other key moves. The
// kept count is binomial(base, f): the bound is 5 standard deviations.
func checkRingSlowStart(t *testing.T, bal Balancer, members []*upstream.Backend, req Request, f float64) {
	t.Helper()
	slow := members[3]
	during := make([]*upstream.Backend, 10_000)
	for i := range during {
		r := req
		r.Hash = hashBytes(fmt.Sprint("key-", i))
		during[i] = bal.Pick(&r)
	}
	kept, base := 0, 0
	for i := range during {
		// A pick past the window ends the ramp for good.
		r := Request{Now: req.Now + int64(time.Hour), Hash: hashBytes(fmt.Sprint("key-", i))}
		after := bal.Pick(&r)
		if after == slow {
			base++
			if during[i] == slow {
				kept++
			}
		} else if during[i] != after {
			t.Fatalf("key %d moved from %s to %s though neither is ramping", i, after.ID(), during[i].ID())
		}
	}
	want := f * float64(base)
	if sd := math.Sqrt(float64(base) * f * (1 - f)); math.Abs(float64(kept)-want) > 5*sd {
		t.Errorf("slow backend kept %d of its %d keys, want %.0f ± %.0f", kept, base, want, 5*sd)
	}
}

// TestSlowStartNeverStarves: a pool whose only usable member is at the very
// start of its ramp (factor 0.1) must still get it every time.
func TestSlowStartNeverStarves(t *testing.T) {
	for _, name := range Strategies() {
		members := equalPool(3)
		bal := mustNew(t, name, Options{}, members)
		members[0].SetFlag(upstream.FlagUnhealthy, true)
		members[1].SetFlag(upstream.FlagUnhealthy, true)
		members[2].StartSlowStart(t0, time.Minute)
		for i := range 500 {
			if b := bal.Pick(&Request{Now: t0, Hash: uint64(i)}); b != members[2] {
				t.Fatalf("%s: pick %d = %v, want b2", name, i, b)
			}
		}
	}
}

func TestUpdateIgnoresDuplicatesAndNil(t *testing.T) {
	members := equalPool(3)
	for _, name := range Strategies() {
		bal := mustNew(t, name, Options{}, []*upstream.Backend{members[0], nil, members[1], members[0], members[2], members[1]})
		got := counts(t, bal, 3000, Request{Now: t0}, hashed[name])
		if len(got) != 3 {
			t.Errorf("%s: picked %d distinct backends, want 3", name, len(got))
		}
	}
}

// TestConcurrentPickAndUpdate races picks (with Acquire/Release and
// Exclude) against membership and health churn. Run it under -race. At the
// end, when everything is quiet, least_connections must again pick an exact
// minimum.
func TestConcurrentPickAndUpdate(t *testing.T) {
	for _, name := range Strategies() {
		t.Run(name, func(t *testing.T) {
			all := pool(1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3)
			bal := mustNew(t, name, Options{BoundedLoad: 1.5}, all)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var held []*upstream.Backend
					for i := 0; ; i++ {
						select {
						case <-stop:
							for _, b := range held {
								b.Release()
							}
							return
						default:
						}
						avoid := all[(i+w)%len(all)]
						r := Request{Now: t0 + int64(i), Hash: uint64(i), Exclude: func(b *upstream.Backend) bool { return b == avoid }}
						if b := bal.Pick(&r); b != nil {
							if b == avoid {
								t.Error("picked an excluded backend")
							}
							b.Acquire()
							held = append(held, b)
						}
						if len(held) > 20 || (len(held) > 0 && rand.IntN(2) == 0) {
							k := rand.IntN(len(held))
							held[k].Release()
							held = slices.Delete(held, k, k+1)
						}
					}
				}()
			}
			for i := range 200 {
				lo := rand.IntN(len(all) / 2)
				bal.Update(all[lo : lo+1+rand.IntN(len(all)-lo)])
				all[rand.IntN(len(all))].SetFlag(upstream.FlagUnhealthy, i%3 == 0)
			}
			close(stop)
			wg.Wait()
			for _, b := range all {
				b.SetFlag(upstream.FlagUnhealthy, false)
				if b.Inflight() != 0 {
					t.Fatalf("%s in-flight %d after all releases", b.ID(), b.Inflight())
				}
			}
			bal.Update(all)
			all[4].Acquire()
			all[7].Acquire()
			if name == "least_connections" {
				checkLCTree(t, bal.(*leastConnections))
			}
			all[4].Release()
			all[7].Release()
			if b := bal.Pick(&Request{Now: t0}); b == nil {
				t.Error("nil pick from a healthy pool")
			}
		})
	}
}

func TestStrategiesUnique(t *testing.T) {
	s := Strategies()
	slices.Sort(s)
	if len(slices.Compact(s)) != len(Strategies()) {
		t.Errorf("Strategies has duplicates: %v", Strategies())
	}
}

// Configuration validation asks Lookup what a strategy takes; the answers
// must match what the strategies do.
func TestLookupDescribesStrategies(t *testing.T) {
	for _, name := range Strategies() {
		s, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", name, err)
		}
		if s.Name != name || s.Hashed != hashed[name] || s.Ring != (name == ConsistentHash) || s.PerConnection != (name != LeastResponseTime) {
			t.Errorf("Lookup(%s) = %+v", name, s)
		}
	}
	_, err := Lookup("round-robin")
	if err == nil || !strings.Contains(err.Error(), `unknown strategy "round-robin"; want one of round_robin, `) {
		t.Errorf("Lookup(round-robin): %v", err)
	}
}

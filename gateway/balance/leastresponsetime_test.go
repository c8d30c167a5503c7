package balance

import (
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

func share(got map[*upstream.Backend]int, b *upstream.Backend) float64 {
	total := 0
	for _, c := range got {
		total += c
	}
	return float64(got[b]) / float64(total)
}

// TestLeastResponseTimeDecay: a backend observed slow once, then left
// alone, is avoided while its cost is fresh and chosen again once the cost
// has decayed below its peers'. The thresholds are far from the expected
// values (0% and 50%) relative to the binomial noise of 10,000 picks
// (under 0.5 points).
func TestLeastResponseTimeDecay(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "least_response_time", Options{}, members)
	slow := members[0]
	slow.ObserveLatency(t0, 300*time.Millisecond)

	at := func(now int64) float64 {
		for _, b := range members[1:] {
			b.ObserveLatency(now, 10*time.Millisecond)
		}
		return share(counts(t, bal, 10_000, Request{Now: now}, false), slow)
	}
	// Fresh: cost 245ms against 10ms: it loses every pair.
	if s := at(t0 + int64(time.Second)); s > 0.02 {
		t.Errorf("slow backend got %.1f%% of picks while slow", 100*s)
	}
	// 30s later its cost is 300ms·e^-6 = 0.7ms: it wins every pair it is in.
	if s := at(t0 + int64(30*time.Second)); s < 0.25 {
		t.Errorf("slow backend got %.1f%% of picks after its cost decayed, want ~50%%", 100*s)
	}
}

// TestLeastResponseTimeRecovery simulates a second-by-second service: one
// backend turns slow (300ms against 10ms) and later recovers. While slow it
// must get little traffic; after recovering it must be back near its fair
// quarter within two simulated minutes, through cost decay alone. (The
// recovery time, ~95s, is set by upstream's EWMA: ObserveLatency folds a
// sample into the stored peak, not into the idle-decayed cost.)
func TestLeastResponseTimeRecovery(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "least_response_time", Options{}, members)
	slow := members[0]
	now := t0
	run := func(picks int, slowRTT time.Duration) float64 {
		got := map[*upstream.Backend]int{}
		for range picks {
			now += int64(time.Millisecond)
			r := Request{Now: now}
			b := bal.Pick(&r)
			rtt := 10 * time.Millisecond
			if b == slow {
				rtt = slowRTT
			}
			b.Acquire()
			b.ObserveLatency(now, rtt)
			b.Release()
			got[b]++
		}
		return share(got, slow)
	}
	run(10_000, 300*time.Millisecond) // warm up
	if s := run(20_000, 300*time.Millisecond); s > 0.03 {
		t.Errorf("slow: got %.1f%% of picks", 100*s)
	}
	recovered := -1
	for sec := range 120 {
		if s := run(1000, 10*time.Millisecond); s > 0.15 {
			recovered = sec
			break
		}
	}
	if recovered < 0 {
		t.Fatal("no recovery within 120 simulated seconds")
	}
	t.Logf("back above 15%% of picks %ds after recovering", recovered)
	if s := run(20_000, 10*time.Millisecond); s < 0.18 {
		t.Errorf("recovered: got %.1f%% of picks, want ~25%%", 100*s)
	}
}

// TestLeastResponseTimeTriesUnknownBackends: a backend with no latency
// information (cost 0) wins its comparisons while it is not busier than
// the other candidate, so a newcomer is measured but not flooded.
func TestLeastResponseTimeTriesUnknownBackends(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "least_response_time", Options{}, members)
	for _, b := range members[1:] {
		b.ObserveLatency(t0, time.Millisecond)
	}
	// Idle: it is in half the pairs and wins them all.
	if s := share(counts(t, bal, 10_000, Request{Now: t0}, false), members[0]); s < 0.45 {
		t.Errorf("unknown backend got %.1f%%, want ~50%%", 100*s)
	}
	// Holding requests that never answer, it stops winning: no more than
	// its fair quarter of 400 held picks (plus rounding).
	got := held(t, bal, 400, Request{Now: t0})
	if n := got[members[0]]; n > 101 {
		t.Errorf("unknown backend took %d of 400 held requests", n)
	}
}

// TestPowerOfTwoPrefersLessLoaded: with one backend holding requests, P2C
// moves traffic away from it (it wins only pairs where the other candidate
// is as loaded or more).
func TestPowerOfTwoPrefersLessLoaded(t *testing.T) {
	members := equalPool(4)
	bal := mustNew(t, "power_of_two", Options{}, members)
	for range 10 {
		members[0].Acquire()
	}
	if s := share(counts(t, bal, 10_000, Request{Now: t0}, false), members[0]); s > 0.01 {
		t.Errorf("loaded backend got %.1f%% of picks", 100*s)
	}
}

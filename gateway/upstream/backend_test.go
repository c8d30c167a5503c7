package upstream

import (
	"math"
	"testing"
	"time"
)

func TestFlagsAndAvailability(t *testing.T) {
	b := New(Spec{Address: "127.0.0.1:1"})
	if b.ID() != "127.0.0.1:1" || b.Weight() != 1 || !b.Available() {
		t.Fatalf("defaults: id %q weight %d available %v", b.ID(), b.Weight(), b.Available())
	}
	if !b.SetFlag(FlagUnhealthy, true) || b.SetFlag(FlagUnhealthy, true) {
		t.Fatal("SetFlag must report a change exactly once")
	}
	b.SetFlag(FlagEjected, true)
	b.SetFlag(FlagUnhealthy, false)
	if b.Available() || !b.HasFlag(FlagEjected) || b.HasFlag(FlagUnhealthy) {
		t.Fatalf("state %b", b.State())
	}
	b.SetFlag(FlagEjected, false)
	if !b.Available() {
		t.Fatal("no flag set but unavailable")
	}
}

type countTracker struct{ n int }

func (c *countTracker) InflightChanged(*Backend) { c.n++ }

func TestAcquireReleaseNotifyTracker(t *testing.T) {
	b := New(Spec{Address: "a:1"})
	tr := &countTracker{}
	b.SetTracker(tr)
	b.Acquire()
	b.Acquire()
	b.Release()
	if b.Inflight() != 1 || b.Requests.Load() != 2 || tr.n != 3 {
		t.Fatalf("inflight %d requests %d notifications %d", b.Inflight(), b.Requests.Load(), tr.n)
	}
	b.SetTracker(nil)
	b.Release()
	if tr.n != 3 || b.Inflight() != 0 {
		t.Fatal("tracker called after removal")
	}
}

func TestSlowStartRamp(t *testing.T) {
	b := New(Spec{Address: "a:1"})
	start := time.Unix(100, 0).UnixNano()
	if f := b.SlowStartFactor(start); f != 1 {
		t.Fatalf("no ramp: %v", f)
	}
	b.StartSlowStart(start, 10*time.Second)
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 0.1}, {5 * time.Second, 0.55}, {10 * time.Second, 1}, {20 * time.Second, 1}} {
		if f := b.SlowStartFactor(start + int64(c.at)); math.Abs(f-c.want) > 1e-9 {
			t.Errorf("at %v: factor %v, want %v", c.at, f, c.want)
		}
	}
	b.StartSlowStart(start, 0)
	if f := b.SlowStartFactor(start); f != 1 {
		t.Fatalf("zero window must disable the ramp: %v", f)
	}
}

func TestPeakEWMA(t *testing.T) {
	b := New(Spec{Address: "a:1"})
	t0 := time.Unix(100, 0).UnixNano()
	if b.LatencyCost(t0) != 0 {
		t.Fatal("no observation must mean zero cost")
	}
	b.ObserveLatency(t0, 10*time.Millisecond)
	b.ObserveLatency(t0, 100*time.Millisecond) // a peak replaces at once
	if c := b.LatencyCost(t0); c != float64(100*time.Millisecond) {
		t.Fatalf("peak not taken: %v", c)
	}
	// Unobserved, the cost decays toward zero, so the backend is probed again.
	if c := b.LatencyCost(t0 + int64(15*time.Second)); c > float64(100*time.Millisecond)*0.06 {
		t.Fatalf("cost after 15s idle: %v", c)
	}
	// A fast sample after a quiet spell starts from the decayed cost.
	b.ObserveLatency(t0+int64(15*time.Second), time.Millisecond)
	if c := b.LatencyCost(t0 + int64(15*time.Second)); c > float64(5*time.Millisecond) {
		t.Fatalf("recovered backend still costs %v", time.Duration(c))
	}
}

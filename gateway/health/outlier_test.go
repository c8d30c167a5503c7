package health

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

const (
	testBase  = 10 * time.Second
	testDecay = time.Minute
)

func newTestOutlier(t *testing.T, cfg OutlierConfig, members int) (*Outlier, *clock.Fake, *recorder, []*upstream.Backend) {
	t.Helper()
	if cfg.ConsecutiveFailures == 0 {
		cfg.ConsecutiveFailures = 3
	}
	if cfg.BaseEjection == 0 {
		cfg.BaseEjection = testBase
	}
	clk := clock.NewFake(epoch)
	rec := &recorder{}
	o := NewOutlier("test", cfg, clk, WithOnChange(rec.hook), WithSlowStart(time.Minute), WithDecay(testDecay))
	t.Cleanup(o.Stop)
	bs := make([]*upstream.Backend, members)
	for i := range bs {
		bs[i] = upstream.New(upstream.Spec{Address: fmt.Sprintf("10.0.0.%d:80", i+1)})
	}
	o.Update(bs)
	return o, clk, rec, bs
}

func fail(o *Outlier, b *upstream.Backend, n int) {
	for range n {
		o.Report(b, true)
	}
}

// returnAfter checks that b stays ejected until exactly d has passed: the
// return timer is still pending 1ms before, and fires at d.
func returnAfter(t *testing.T, clk *clock.Fake, b *upstream.Backend, d time.Duration) {
	t.Helper()
	clk.Advance(d - time.Millisecond)
	if !b.HasFlag(upstream.FlagEjected) || clk.Waiters() != 1 {
		t.Fatalf("ejection ended before %v (ejected=%v timers=%d)", d, b.HasFlag(upstream.FlagEjected), clk.Waiters())
	}
	clk.Advance(time.Millisecond)
	testkit.Eventually(t, "ejection to end", func() bool { return !b.HasFlag(upstream.FlagEjected) })
}

func TestOutlierEjectsAfterConsecutiveFailures(t *testing.T) {
	o, clk, rec, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 3}, 4)
	b := bs[0]
	fail(o, b, 2)
	if !b.Available() {
		t.Fatal("ejected before the threshold")
	}
	o.Report(b, true)
	if b.Available() || !b.HasFlag(upstream.FlagEjected) {
		t.Fatal("not ejected after 3 consecutive failures")
	}
	if got := b.Ejections.Load(); got != 1 {
		t.Fatalf("Ejections = %d, want 1", got)
	}
	if o.Ejected() != 1 {
		t.Fatalf("Ejected() = %d, want 1", o.Ejected())
	}

	returnAfter(t, clk, b, testBase)
	if f := b.SlowStartFactor(clk.Now().UnixNano()); f >= 1 {
		t.Fatalf("SlowStartFactor right after return = %v, want < 1", f)
	}
	calls := rec.All()
	if len(calls) != 2 || calls[0].healthy || !calls[1].healthy || !strings.Contains(calls[0].reason, "ejected for 10s") {
		t.Fatalf("OnChange calls = %+v", calls)
	}
}

func TestOutlierSuccessResetsStreak(t *testing.T) {
	o, _, _, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 3}, 4)
	b := bs[0]
	for range 5 {
		fail(o, b, 2)
		o.Report(b, false)
	}
	if !b.Available() {
		t.Fatal("ejected although no 3 failures were consecutive")
	}
	if got := b.ConsecutiveFailures.Load(); got != 0 {
		t.Fatalf("ConsecutiveFailures = %d after a success, want 0", got)
	}
}

func TestOutlierBackoffGrowsAndDecays(t *testing.T) {
	o, clk, _, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 3}, 4)
	b := bs[0]

	fail(o, b, 3)
	returnAfter(t, clk, b, testBase)
	fail(o, b, 3) // again before the count decays
	if got := b.Ejections.Load(); got != 2 {
		t.Fatalf("Ejections = %d, want 2", got)
	}
	returnAfter(t, clk, b, 2*testBase)

	// Behaving for two decay intervals forgives both ejections...
	clk.Advance(testDecay)
	testkit.Eventually(t, "first decay", func() bool { return b.Ejections.Load() == 1 })
	clk.Advance(testDecay)
	testkit.Eventually(t, "second decay", func() bool { return b.Ejections.Load() == 0 })
	if w := clk.Waiters(); w != 0 {
		t.Fatalf("%d timers pending once fully forgiven", w)
	}
	// ...so the next ejection is a first one again.
	fail(o, b, 3)
	returnAfter(t, clk, b, testBase)
}

func TestOutlierEjectionLength(t *testing.T) {
	cfg := OutlierConfig{BaseEjection: 10 * time.Second, MaxEjection: 45 * time.Second}.withDefaults()
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 45 * time.Second, 45 * time.Second}
	for i, w := range want {
		if got := cfg.ejectionLength(int32(i + 1)); got != w {
			t.Errorf("ejection %d lasts %v, want %v", i+1, got, w)
		}
	}
	if got := cfg.ejectionLength(1 << 30); got != 45*time.Second {
		t.Errorf("huge count lasts %v, want the cap", got)
	}
}

func TestOutlierCappedEjectionUsesMax(t *testing.T) {
	o, clk, _, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 1, MaxEjection: 15 * time.Second}, 2)
	b := bs[0]
	fail(o, b, 1)
	returnAfter(t, clk, b, testBase)
	fail(o, b, 1)
	returnAfter(t, clk, b, 15*time.Second) // 2x base = 20s, capped
}

func TestOutlierMaxEjectionPercent(t *testing.T) {
	for _, tc := range []struct {
		members, percent, want int
	}{
		{members: 4, percent: 50, want: 2},
		{members: 5, percent: 50, want: 2}, // rounded down
		{members: 10, percent: 100, want: 10},
		{members: 2, percent: 10, want: 1}, // at least one in a pool of 2+
		{members: 1, percent: 100, want: 0},
	} {
		t.Run(fmt.Sprintf("%d members %d%%", tc.members, tc.percent), func(t *testing.T) {
			o, _, rec, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 2, MaxEjectionPercent: tc.percent}, tc.members)
			for _, b := range bs {
				fail(o, b, 2)
			}
			ejected := 0
			for _, b := range bs {
				if b.HasFlag(upstream.FlagEjected) {
					ejected++
				}
			}
			if ejected != tc.want || o.Ejected() != tc.want || rec.Len() != tc.want {
				t.Fatalf("ejected %d (Ejected()=%d, calls=%d), want %d", ejected, o.Ejected(), rec.Len(), tc.want)
			}
		})
	}
}

func TestOutlierRefusedEjectionRetriedWhenRoomFrees(t *testing.T) {
	o, clk, _, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 2}, 2)
	a, b := bs[0], bs[1]
	fail(o, a, 2)
	fail(o, b, 2) // refused: one of two is the limit
	if b.HasFlag(upstream.FlagEjected) {
		t.Fatal("second of two members ejected")
	}
	returnAfter(t, clk, a, testBase)
	fail(o, b, 1)
	if b.HasFlag(upstream.FlagEjected) {
		t.Fatal("refused attempt retried before a full new streak")
	}
	fail(o, b, 1)
	if !b.HasFlag(upstream.FlagEjected) {
		t.Fatal("not ejected once the pool had room")
	}
}

func TestOutlierConcurrentFailuresEjectOnce(t *testing.T) {
	o, _, rec, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 5}, 4)
	b := bs[0]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { fail(o, b, 100) })
	}
	wg.Wait()
	if got := rec.Len(); got != 1 {
		t.Fatalf("%d ejections, want 1: %+v", got, rec.All())
	}
}

func TestOutlierUpdateInPlace(t *testing.T) {
	o, clk, _, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 2}, 4)
	a, b := bs[0], bs[1]
	fail(o, a, 2)
	fail(o, b, 2)
	c := upstream.New(upstream.Spec{Address: "10.0.0.99:80"})

	o.Update([]*upstream.Backend{a, bs[2], bs[3], c})
	if !a.HasFlag(upstream.FlagEjected) {
		t.Fatal("kept member lost its ejection")
	}
	if b.HasFlag(upstream.FlagEjected) {
		t.Fatal("removed member is still ejected")
	}
	if o.Ejected() != 1 || clk.Waiters() != 1 {
		t.Fatalf("Ejected()=%d timers=%d, want 1 and 1", o.Ejected(), clk.Waiters())
	}
	fail(o, c, 2)
	if !c.HasFlag(upstream.FlagEjected) {
		t.Fatal("added member not subject to ejection")
	}
	fail(o, b, 2)
	if b.HasFlag(upstream.FlagEjected) {
		t.Fatal("non-member ejected")
	}
	clk.Advance(testBase)
	testkit.Eventually(t, "kept and added members to return", func() bool { return a.Available() && c.Available() })
}

func TestOutlierStop(t *testing.T) {
	o, clk, rec, bs := newTestOutlier(t, OutlierConfig{ConsecutiveFailures: 1}, 4)
	fail(o, bs[0], 1)
	fail(o, bs[1], 1)
	o.Stop()
	o.Stop()
	for _, b := range bs[:2] {
		if b.HasFlag(upstream.FlagEjected) {
			t.Fatal("Stop left a member ejected")
		}
	}
	if w := clk.Waiters(); w != 0 {
		t.Fatalf("%d timers pending after Stop", w)
	}
	calls := rec.Len()
	fail(o, bs[2], 5)
	o.Update(bs)
	fail(o, bs[3], 5)
	if bs[2].HasFlag(upstream.FlagEjected) || bs[3].HasFlag(upstream.FlagEjected) || rec.Len() != calls {
		t.Fatal("ejected after Stop")
	}
}

func TestOutlierReportSuccessDoesNotAllocate(t *testing.T) {
	o, _, _, bs := newTestOutlier(t, OutlierConfig{}, 2)
	b := bs[0]
	if n := testing.AllocsPerRun(1000, func() { o.Report(b, false) }); n != 0 {
		t.Fatalf("Report(success) allocates %v times", n)
	}
}

func BenchmarkOutlierReportSuccess(b *testing.B) {
	o := NewOutlier("bench", OutlierConfig{}, clock.Real{})
	defer o.Stop()
	be := upstream.New(upstream.Spec{Address: "10.0.0.1:80"})
	o.Update([]*upstream.Backend{be})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Report(be, false)
		}
	})
}

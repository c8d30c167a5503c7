package health

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

const (
	testInterval = time.Second
	testTimeout  = 300 * time.Millisecond
)

var epoch = time.Unix(1_700_000_000, 0)

// newTestChecker returns a Checker on a fake clock whose first probes fire
// on the first Advance (no jitter), so every probeRound probes each member
// exactly once.
func newTestChecker(t *testing.T, cfg CheckConfig, opts ...Option) (*Checker, *clock.Fake, *recorder) {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = testInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	clk := clock.NewFake(epoch)
	rec := &recorder{}
	opts = append([]Option{WithInitialJitter(0), WithOnChange(rec.hook)}, opts...)
	c := NewChecker("test", cfg, clk, opts...)
	t.Cleanup(c.Stop)
	return c, clk, rec
}

func mustStatus(t *testing.T, c *Checker, b *upstream.Backend) CheckStatus {
	t.Helper()
	st, ok := c.Status(b)
	if !ok {
		t.Fatalf("%s is not a member", b.ID())
	}
	return st
}

// probeRound advances the clock one interval and waits until each of bs has
// completed one more probe (and so has scheduled its next one).
func probeRound(t *testing.T, c *Checker, clk *clock.Fake, bs ...*upstream.Backend) {
	t.Helper()
	before := make([]uint64, len(bs))
	for i, b := range bs {
		before[i] = mustStatus(t, c, b).Probes
	}
	clk.Advance(testInterval)
	testkit.Eventually(t, "probe round", func() bool {
		for i, b := range bs {
			if mustStatus(t, c, b).Probes <= before[i] {
				return false
			}
		}
		return true
	})
}

func assertHealthy(t *testing.T, c *Checker, b *upstream.Backend, want bool) {
	t.Helper()
	st := mustStatus(t, c, b)
	if st.Healthy != want || b.HasFlag(upstream.FlagUnhealthy) == want {
		t.Fatalf("%s: Healthy=%v FlagUnhealthy=%v, want healthy=%v (status %+v)",
			b.ID(), st.Healthy, b.HasFlag(upstream.FlagUnhealthy), want, st)
	}
}

// assertFailedWith fails unless b is unhealthy and its last error says why.
func assertFailedWith(t *testing.T, c *Checker, b *upstream.Backend, why string) {
	t.Helper()
	assertHealthy(t, c, b, false)
	if st := mustStatus(t, c, b); !strings.Contains(st.LastError, why) {
		t.Fatalf("LastError = %q, want %q in it", st.LastError, why)
	}
}

func TestCheckerHysteresis(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("a")
	c, clk, rec := newTestChecker(t, CheckConfig{Path: "/healthz", HealthyThreshold: 2, UnhealthyThreshold: 3})
	c.Update([]*upstream.Backend{b})
	assertHealthy(t, c, b, true) // optimistic before any probe

	ep.set(http.StatusInternalServerError)
	for range 2 {
		probeRound(t, c, clk, b)
		assertHealthy(t, c, b, true)
	}
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, false)
	if b.Available() {
		t.Fatal("unhealthy backend is still Available")
	}

	ep.set(http.StatusOK)
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, false)
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, true)
	if f := b.SlowStartFactor(clk.Now().UnixNano()); f >= 1 {
		t.Fatalf("SlowStartFactor right after recovery = %v, want < 1", f)
	}

	calls := rec.All()
	if len(calls) != 2 || calls[0].healthy || !calls[1].healthy {
		t.Fatalf("OnChange calls = %+v, want unhealthy then healthy", calls)
	}
	if !strings.Contains(calls[0].reason, "status 500") {
		t.Fatalf("unhealthy reason %q does not name the status", calls[0].reason)
	}
}

func TestCheckerFlappingEndpointDoesNotFlap(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("a")
	c, clk, rec := newTestChecker(t, CheckConfig{HealthyThreshold: 2, UnhealthyThreshold: 2})
	c.Update([]*upstream.Backend{b})

	flap := func(rounds int) {
		for i := range rounds {
			if i%2 == 0 {
				ep.set(http.StatusInternalServerError)
			} else {
				ep.set(http.StatusOK)
			}
			probeRound(t, c, clk, b)
		}
	}
	flap(10)
	assertHealthy(t, c, b, true)

	// Take it down for real, then flap again: it must stay down.
	ep.set(http.StatusInternalServerError)
	probeRound(t, c, clk, b)
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, false)
	flap(10)
	assertHealthy(t, c, b, false)

	if n := rec.Len(); n != 1 {
		t.Fatalf("OnChange called %d times, want 1: %+v", n, rec.All())
	}
}

func TestCheckerTimeoutIsFailure(t *testing.T) {
	ep := newEndpoint(t)
	ep.set(statusHang)
	b := ep.backend("a")
	// A timeout far beyond the test's deadline: only the fake clock can
	// expire it.
	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1, Timeout: time.Hour})
	c.Update([]*upstream.Backend{b})

	clk.Advance(testInterval)
	testkit.Eventually(t, "probe to reach the server", func() bool { return ep.Hits() == 1 })
	if st := mustStatus(t, c, b); st.Probes != 0 {
		t.Fatalf("hung probe completed before its timeout: %+v", st)
	}
	clk.Advance(time.Hour)
	testkit.Eventually(t, "probe to time out", func() bool { return mustStatus(t, c, b).Probes == 1 })
	assertFailedWith(t, c, b, "timed out")
}

func TestCheckerUnexpectedStatusIsFailure(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("a")
	c, clk, _ := newTestChecker(t, CheckConfig{
		ExpectedStatus:     []StatusRange{{204, 204}},
		HealthyThreshold:   1,
		UnhealthyThreshold: 1,
	})
	c.Update([]*upstream.Backend{b})

	probeRound(t, c, clk, b) // 200 is not 204
	assertHealthy(t, c, b, false)
	if st := mustStatus(t, c, b); st.LastError != "unexpected status 200" {
		t.Fatalf("LastError = %q", st.LastError)
	}
	ep.set(http.StatusNoContent)
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, true)
}

func TestCheckerRedirectIsJudgedNotFollowed(t *testing.T) {
	ep := newEndpoint(t)
	ep.set(http.StatusFound) // no Location: following it would fail
	b := ep.backend("a")
	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1})
	c.Update([]*upstream.Backend{b})
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, true) // 3xx is within the default 200-399
	if got := ep.Hits(); got != 1 {
		t.Fatalf("server saw %d requests, want 1", got)
	}
}

func TestCheckerConnectionRefusedIsFailure(t *testing.T) {
	b := upstream.New(upstream.Spec{Address: testkit.DeadAddr(t)})
	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1})
	c.Update([]*upstream.Backend{b})

	probeRound(t, c, clk, b)
	assertFailedWith(t, c, b, "refused")
}

func TestCheckerServerClosedIsFailure(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("a")
	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1})
	c.Update([]*upstream.Backend{b})
	probeRound(t, c, clk, b) // leaves a kept-alive connection behind
	assertHealthy(t, c, b, true)

	ep.close()
	probeRound(t, c, clk, b)
	assertHealthy(t, c, b, false)
}

func TestCheckerRequestShape(t *testing.T) {
	ep := newEndpoint(t)
	b := ep.backend("a")
	c, clk, _ := newTestChecker(t, CheckConfig{Path: "status?deep=1"}, WithHost("api.internal"))
	c.Update([]*upstream.Backend{b})
	probeRound(t, c, clk, b)

	r := ep.request()
	if r.Method != http.MethodGet || r.URL.Path != "/status" || r.URL.RawQuery != "deep=1" ||
		r.Host != "api.internal" || r.UserAgent() != userAgent {
		t.Fatalf("probe request = %s %s host=%q ua=%q", r.Method, r.URL, r.Host, r.UserAgent())
	}
}

func TestCheckerUpdateInPlace(t *testing.T) {
	epA, epB, epC := newEndpoint(t), newEndpoint(t), newEndpoint(t)
	a, b, cb := epA.backend("a"), epB.backend("b"), epC.backend("c")
	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1, HealthyThreshold: 5})
	c.Update([]*upstream.Backend{a, b})

	epA.set(http.StatusInternalServerError)
	epB.set(http.StatusInternalServerError)
	probeRound(t, c, clk, a, b)
	assertHealthy(t, c, a, false)
	assertHealthy(t, c, b, false)
	epA.set(http.StatusOK)
	probeRound(t, c, clk, a, b) // a: 1 of 5 successes
	hitsB := epB.Hits()

	c.Update([]*upstream.Backend{a, cb})

	// a is kept with its state; b is gone and released; c is new and healthy.
	if st := mustStatus(t, c, a); st.Healthy || st.Successes != 1 || st.Probes != 2 {
		t.Fatalf("kept member lost its state: %+v", st)
	}
	if _, ok := c.Status(b); ok {
		t.Fatal("removed member still has a status")
	}
	if b.HasFlag(upstream.FlagUnhealthy) {
		t.Fatal("removed member keeps FlagUnhealthy")
	}
	assertHealthy(t, c, cb, true)

	for range 3 {
		probeRound(t, c, clk, a, cb)
	}
	if got := epB.Hits(); got != hitsB {
		t.Fatalf("removed backend probed again: %d requests, had %d", got, hitsB)
	}
	if got := epC.Hits(); got != 3 {
		t.Fatalf("new backend got %d probes, want 3", got)
	}
	if w := clk.Waiters(); w != 2 {
		t.Fatalf("%d timers pending, want one per member (2)", w)
	}
}

func TestCheckerAddedMembersStartInSlowStart(t *testing.T) {
	ep := newEndpoint(t)
	a, b := ep.backend("a"), ep.backend("b")
	c, clk, _ := newTestChecker(t, CheckConfig{}, WithSlowStart(time.Minute))
	now := clk.Now().UnixNano()

	c.Update([]*upstream.Backend{a})
	if f := a.SlowStartFactor(now); f != 1 {
		t.Fatalf("initial member SlowStartFactor = %v, want 1", f)
	}
	c.Update([]*upstream.Backend{a, b})
	if f := b.SlowStartFactor(now); f >= 1 {
		t.Fatalf("added member SlowStartFactor = %v, want < 1", f)
	}
	if !b.Available() {
		t.Fatal("added member is not Available before its first probe")
	}
}

func TestCheckerResultAfterRemovalIsDropped(t *testing.T) {
	ep := newEndpoint(t)
	ep.set(statusHang)
	b := ep.backend("a")
	c, clk, rec := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1})
	c.Update([]*upstream.Backend{b})

	clk.Advance(testInterval)
	testkit.Eventually(t, "probe to reach the server", func() bool { return ep.Hits() == 1 })
	c.Update(nil) // aborts the hung probe; its failure must not land
	c.Stop()      // waits for the aborted probe to finish

	if b.HasFlag(upstream.FlagUnhealthy) || rec.Len() != 0 {
		t.Fatalf("stale result applied: flag=%v calls=%+v", b.HasFlag(upstream.FlagUnhealthy), rec.All())
	}
}

func TestCheckerFirstProbesAreSpread(t *testing.T) {
	c := NewChecker("test", CheckConfig{Interval: testInterval}, clock.NewFake(epoch))
	defer c.Stop()
	var lo, hi time.Duration = testInterval, 0
	for range 1000 {
		d := c.firstDelay()
		if d < 0 || d >= testInterval {
			t.Fatalf("first delay %v outside [0, %v)", d, testInterval)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > testInterval/10 || hi < testInterval*9/10 {
		t.Fatalf("first delays span only [%v, %v] of %v", lo, hi, testInterval)
	}
}

func TestCheckerManyMembersAllProbedWithinOneInterval(t *testing.T) {
	ep := newEndpoint(t)
	const n = 100
	members := make([]*upstream.Backend, n)
	for i := range members {
		members[i] = ep.backend(fmt.Sprintf("b%d", i))
	}
	clk := clock.NewFake(epoch)
	c := NewChecker("test", CheckConfig{Interval: testInterval, Timeout: testTimeout}, clk)
	t.Cleanup(c.Stop)
	c.Update(members)

	clk.Advance(testInterval)
	testkit.Eventually(t, "every member's first probe", func() bool {
		for _, b := range members {
			if mustStatus(t, c, b).Probes != 1 {
				return false
			}
		}
		return true
	})
	if got := ep.Hits(); got != n {
		t.Fatalf("server saw %d probes in the first interval, want %d", got, n)
	}
}

func TestCheckerStopReleasesEverything(t *testing.T) {
	epOK, epFail, epHang := newEndpoint(t), newEndpoint(t), newEndpoint(t)
	epFail.set(http.StatusInternalServerError)
	epHang.set(statusHang)
	ok, bad, hung := epOK.backend("ok"), epFail.backend("bad"), epHang.backend("hung")
	baseline := runtime.NumGoroutine()

	c, clk, _ := newTestChecker(t, CheckConfig{UnhealthyThreshold: 1})
	c.Update([]*upstream.Backend{ok, bad, hung})
	clk.Advance(testInterval)
	testkit.Eventually(t, "probes", func() bool {
		return mustStatus(t, c, ok).Probes == 1 && mustStatus(t, c, bad).Probes == 1 && epHang.Hits() == 1
	})
	assertHealthy(t, c, bad, false)

	c.Stop()
	c.Stop() // idempotent
	c.Update([]*upstream.Backend{ok})

	if bad.HasFlag(upstream.FlagUnhealthy) {
		t.Fatal("Stop left FlagUnhealthy set")
	}
	if _, member := c.Status(ok); member {
		t.Fatal("Update after Stop added a member")
	}
	if w := clk.Waiters(); w != 0 {
		t.Fatalf("%d timers still pending after Stop", w)
	}
	clk.Advance(10 * testInterval)
	if got := epOK.Hits(); got != 1 {
		t.Fatalf("probed after Stop: %d requests", got)
	}
	testkit.Eventually(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= baseline })
}

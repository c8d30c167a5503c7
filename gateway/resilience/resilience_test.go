package resilience

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestBudgetCapsRetriesToShareOfActive(t *testing.T) {
	b := &Budget{Ratio: 0.2, MinConcurrent: 3}
	for i := 0; i < 100; i++ {
		b.Begin()
	}
	granted := 0
	for i := 0; i < 100; i++ {
		if b.TryRetry() {
			granted++
		}
	}
	if granted != 23 {
		t.Fatalf("granted %d retries with 100 active, want 20%% of them plus the floor of 3", granted)
	}
	b.RetryDone()
	if !b.TryRetry() || b.TryRetry() {
		t.Fatal("a finished retry should free exactly one place")
	}
	// Light traffic: the floor applies.
	light := &Budget{Ratio: 0.2, MinConcurrent: 3}
	light.Begin()
	n := 0
	for light.TryRetry() {
		n++
	}
	if n != 3 {
		t.Fatalf("floor: %d retries, want 3", n)
	}
	// No floor, no ratio: no retries at all.
	if (&Budget{}).TryRetry() {
		t.Fatal("an empty budget granted a retry")
	}
}

// Full jitter: uniform on [0, min(max, base·2^n)], checked statistically.
func TestBackoffFullJitter(t *testing.T) {
	base, max := 10*time.Millisecond, 80*time.Millisecond
	for attempt, ceil := range []time.Duration{10, 20, 40, 80, 80} {
		ceil *= time.Millisecond
		const n = 20000
		var sum float64
		for i := 0; i < n; i++ {
			d := Backoff(attempt, base, max)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceil)
			}
			sum += float64(d)
		}
		// Mean of U[0,c] is c/2 with sd c/sqrt(12n); allow 5 sd.
		mean, want := sum/n, float64(ceil)/2
		if sd := float64(ceil) / math.Sqrt(12*n); math.Abs(mean-want) > 5*sd {
			t.Errorf("attempt %d: mean %v, want %v", attempt, time.Duration(mean), time.Duration(want))
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"-1", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		d, ok := RetryAfter(h, now)
		if d != c.want || ok != c.ok {
			t.Errorf("%q: %v %v, want %v %v", c.v, d, ok, c.want, c.ok)
		}
	}
}

func TestIdempotent(t *testing.T) {
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true, "POST": false, "PATCH": false} {
		if Idempotent(m) != want {
			t.Errorf("%s: %v", m, !want)
		}
	}
}

func TestBreakerLifecycle(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	var transitions []string
	var mu sync.Mutex
	b := NewBreaker(BreakerConfig{FailureRatio: 0.5, MinRequests: 10, Window: 10 * time.Second, CoolDown: 30 * time.Second, HalfOpenProbes: 2},
		clk, func(from, to BreakerState) {
			mu.Lock()
			transitions = append(transitions, from.String()+">"+to.String())
			mu.Unlock()
		})

	// Below the minimum request count, even 100% failures keep it closed.
	for i := 0; i < 9; i++ {
		if !b.Allow() {
			t.Fatal("closed breaker refused")
		}
		b.Done(true)
	}
	if b.State() != Closed {
		t.Fatal("opened below min_requests")
	}
	// The failures age out of the window.
	clk.Advance(11 * time.Second)
	for i := 0; i < 10; i++ {
		b.Allow()
		b.Done(i%3 == 0) // 4 of 10 fail: below the ratio
	}
	if b.State() != Closed {
		t.Fatal("opened below the failure ratio")
	}
	for i := 0; i < 10; i++ {
		b.Allow()
		b.Done(true) // now 14 of 20 fail
	}
	if b.State() != Open || b.Allow() {
		t.Fatal("should be open and refuse")
	}
	clk.Advance(30 * time.Second)
	if b.State() != HalfOpen {
		t.Fatal("cool-down over: want half-open")
	}
	// Without any traffic the cool-down timer alone moves it to half-open
	// (an open backend receives none).
	b2 := NewBreaker(BreakerConfig{FailureRatio: 0.5, MinRequests: 1, Window: time.Second, CoolDown: time.Second}, clk, nil)
	b2.Allow()
	b2.Done(true)
	clk.Advance(time.Second)
	testkit.Eventually(t, "the cool-down timer to move the breaker to half-open", func() bool { return b2.stateNoRefresh() == HalfOpen })
	if !b.Allow() || !b.Allow() || b.Allow() {
		t.Fatal("half-open must admit exactly 2 probes")
	}
	b.Done(false)
	b.Done(true) // one probe fails: open again
	if b.State() != Open {
		t.Fatal("failed probe must reopen")
	}
	clk.Advance(30 * time.Second)
	b.Allow()
	b.Allow()
	b.Done(false)
	b.Done(false)
	if b.State() != Closed {
		t.Fatal("successful probes must close")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
	if len(transitions) != len(want) {
		t.Fatalf("transitions %v, want %v", transitions, want)
	}
	for i := range want {
		if transitions[i] != want[i] {
			t.Fatalf("transitions %v, want %v", transitions, want)
		}
	}
}

func (b *Breaker) stateNoRefresh() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func TestBulkheadQueueAndTimeout(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	b := NewBulkhead(2, 1, time.Second, clk)
	ctx := context.Background()
	if b.Acquire(ctx) != nil || b.Acquire(ctx) != nil {
		t.Fatal("two slots should be free")
	}
	queued := make(chan error, 1)
	go func() { queued <- b.Acquire(ctx) }()
	testkit.Eventually(t, "the waiter to queue", func() bool { _, w := b.InUse(); return w == 1 })
	if err := b.Acquire(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("queue of 1 is full: got %v", err)
	}
	b.Release() // the waiter gets the slot
	if err := <-queued; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	// A waiter that outlasts the queue timeout gives up.
	go func() { queued <- b.Acquire(ctx) }()
	testkit.Eventually(t, "the waiter to arm its timer", func() bool { return clk.Waiters() == 1 })
	clk.Advance(time.Second)
	if err := <-queued; !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("got %v, want queue timeout", err)
	}
	var nilB *Bulkhead
	if nilB.Acquire(ctx) != nil {
		t.Fatal("nil bulkhead must admit")
	}
	nilB.Release()
}

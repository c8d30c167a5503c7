// Package resilience holds the gateway's defences against failing
// backends: retry budgets and back-off, circuit breakers and bulkheads.
// Each is a small, clock-injected decision type; the request path in the
// gateway package composes them.
package resilience

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Budget caps retries to a share of the requests in flight, so that
// retries cannot multiply load on an already failing pool (after Envoy's
// retry_budget). A retry may start while retries in flight stay below
// Ratio × active requests + MinConcurrent: the floor lets light traffic
// retry at all, the ratio scales with load.
type Budget struct {
	Ratio         float64 // e.g. 0.2
	MinConcurrent int64   // floor, so light traffic can still retry

	active  atomic.Int64
	retries atomic.Int64
}

// Begin counts a request as active; call End when it finishes.
func (b *Budget) Begin() { b.active.Add(1) }

// End undoes Begin.
func (b *Budget) End() { b.active.Add(-1) }

// TryRetry reserves a retry if the budget allows; call RetryDone after it.
func (b *Budget) TryRetry() bool {
	limit := int64(b.Ratio*float64(b.active.Load())) + b.MinConcurrent
	for {
		n := b.retries.Load()
		if n >= limit {
			return false
		}
		if b.retries.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// RetryDone releases a reservation from TryRetry.
func (b *Budget) RetryDone() { b.retries.Add(-1) }

// Backoff is exponential back-off with full jitter (AWS architecture blog,
// "Exponential Backoff And Jitter"): a uniform draw from [0, min(max,
// base·2^attempt)), which spreads retries of many clients apart.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	ceil := base
	for i := 0; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// RetryAfter parses a Retry-After header (delay-seconds or an HTTP date)
// relative to now. ok is false when absent or unparsable.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d = t.Sub(now); d < 0 {
		d = 0
	}
	return d, true
}

// Idempotent reports whether a method may be retried by default
// (RFC 9110 §9.2.2).
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

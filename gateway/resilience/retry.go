// Package resilience holds the gateway's defences against failing
// backends: retry budgets and back-off, circuit breakers and bulkheads.
// Each is a small, clock-injected decision type; the request path in the
// gateway package composes them.
package resilience

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// RetryConfig says when a failed try is retried on another backend; it is
// a route's retry block of the gateway's file.
type RetryConfig struct {
	MaxRetries    int           `yaml:"max_retries"`     // retries after the first try; default 2
	RetryOn       []string      `yaml:"retry_on"`        // connect_error, reset, timeout and status codes; default [connect_error, reset, timeout, "502", "503", "504"]
	Methods       []string      `yaml:"methods"`         // methods that may be retried; default the idempotent ones
	BackoffBase   time.Duration `yaml:"backoff_base"`    // first back-off ceiling (full jitter); default 25ms
	BackoffMax    time.Duration `yaml:"backoff_max"`     // back-off ceiling cap; default 250ms
	RetryAfterMax time.Duration `yaml:"retry_after_max"` // honour a backend's Retry-After up to this; longer ends retrying; default 1s
	BudgetRatio   float64       `yaml:"budget_ratio"`    // retries in flight <= ratio x active requests + budget_min (connect-error retries are free); default 0.2
	BudgetMin     int           `yaml:"budget_min"`      // the floor added to the ratio; default 3
	MaxBodyBytes  int64         `yaml:"max_body_bytes"`  // request bodies up to this are buffered for replay; larger ones are not retried; default 65536
}

// Retry conditions besides status codes.
const (
	RetryConnectError = "connect_error"
	RetryReset        = "reset"
	RetryTimeout      = "timeout"
)

func (r *RetryConfig) SetDefaults() {
	r.MaxRetries = 2
	r.RetryOn = []string{RetryConnectError, RetryReset, RetryTimeout, "502", "503", "504"}
	r.BackoffBase = 25 * time.Millisecond
	r.BackoffMax = 250 * time.Millisecond
	r.RetryAfterMax = time.Second
	r.BudgetRatio = 0.2
	r.BudgetMin = 3
	r.MaxBodyBytes = 64 << 10
}

// Validate reports the problems of r by key relative to the block.
func (r *RetryConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	v.Between("max_retries", r.MaxRetries, 0, 10)
	for i, cond := range r.RetryOn {
		switch cond {
		case RetryConnectError, RetryReset, RetryTimeout:
			continue
		}
		if code, err := strconv.Atoi(cond); err != nil || code < 400 || code > 599 {
			v.Add(fmt.Sprintf("retry_on[%d]", i), "want connect_error, reset, timeout or a 4xx/5xx status code, got %q", cond)
		}
	}
	for i, m := range r.Methods {
		if !httpguts.ValidHeaderFieldName(m) || m != strings.ToUpper(m) {
			v.Add(fmt.Sprintf("methods[%d]", i), "invalid method %q (upper-case HTTP method)", m)
		}
	}
	v.Positive("backoff_base", r.BackoffBase)
	if r.BackoffMax < r.BackoffBase {
		v.Add("backoff_max", "must be at least backoff_base (%v)", r.BackoffBase)
	}
	v.NonNegative("retry_after_max", r.RetryAfterMax)
	if !(r.BudgetRatio >= 0 && r.BudgetRatio <= 1) {
		v.Add("budget_ratio", "must be in [0, 1], got %v", r.BudgetRatio)
	}
	v.Between("budget_min", r.BudgetMin, 0, math.MaxInt32)
	if r.MaxBodyBytes < 0 {
		v.Add("max_body_bytes", "must not be negative")
	}
	return v.Errs
}

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

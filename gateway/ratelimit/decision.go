package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Decision is the outcome of one Allow call.
type Decision struct {
	Allowed    bool
	Limit      int           // bucket size (Burst): the draft's quota q
	Remaining  int           // whole tokens left after this request: the draft's r
	Reset      time.Duration // until the bucket is full again: the draft's t
	RetryAfter time.Duration // until one token is available; zero when Allowed

	l *Limiter // for the precomputed policy strings
}

// Canonical header names, used as map keys directly to skip canonicalisation.
const (
	headerPolicy     = "Ratelimit-Policy"
	headerRateLimit  = "Ratelimit"
	headerRetryAfter = "Retry-After"
)

// WriteHeaders sets RateLimit-Policy and RateLimit on h, and Retry-After when
// the request was denied (see the package doc for the syntax). A zero
// Decision writes nothing.
func (d Decision) WriteHeaders(h http.Header) {
	if d.l == nil {
		return
	}
	var buf [64]byte
	b := append(buf[:0], d.l.ratePrefix...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
	// One backing array for both fields; the full slice expressions cap each
	// at length 1 so an append to one cannot overwrite the other.
	vals := []string{d.l.policyHeader, string(b)}
	h[headerPolicy] = vals[0:1:1]
	h[headerRateLimit] = vals[1:2:2]
	if !d.Allowed {
		// At least 1: "Retry-After: 0" invites an immediate, futile retry.
		h[headerRetryAfter] = []string{strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10)}
	}
}

// Reject writes the complete 429 response for a denied request.
func Reject(w http.ResponseWriter, d Decision) {
	h := w.Header()
	d.WriteHeaders(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("429 too many requests\n"))
}

package pipeline

import (
	"net/http"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
)

// The limits around authentication run as nginx's limit_req runs before
// auth_basic: a guess refused in front of auth costs no bcrypt, and failed
// logins count against the limits. A limit in front of auth learns of a
// failure from the *Error auth returns.

// NewAuth checks the credentials with a (which answers 401/403 itself) and
// passes the subject on as q.Identity.
func NewAuth(a *auth.Authenticator, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		q.Authenticated = true
		id, aerr := a.Authenticate(q.W, q.R)
		if aerr != nil {
			return &Error{Status: aerr.Status, Reason: aerr.Error(), Auth: aerr}
		}
		q.Identity = id.Subject
		return next.Serve(q)
	})
}

// NewNoIdentity removes the identity header from a request on a route
// without auth: only the gateway may assert an identity.
func NewNoIdentity(header string, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		if _, spoofed := q.R.Header[header]; spoofed {
			delete(q.R.Header, header)
		}
		return next.Serve(q)
	})
}

// NewFailureLimit refuses a client address whose failed authentications
// spent its budget (429), and charges a failure: wrong credentials
// presented (a 401 with a Method; a request without credentials guesses
// nothing, and browsers send one before every prompt; a 403 had valid
// ones).
func NewFailureLimit(l *ratelimit.Limiter, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		ip := ratelimit.ClientKey(q.R)
		if d := l.Peek(ip); !d.Allowed {
			return rateLimited(q.W, d, "auth_failures", "too many failed authentications")
		}
		err := next.Serve(q)
		if e, ok := err.(*Error); ok && e.Auth != nil && e.Auth.Status == http.StatusUnauthorized && e.Auth.Method != "" {
			l.Allow(ip)
		}
		return err
	})
}

// NewRateLimit takes a token from the request's bucket, keyed by key with
// the identity known so far, and refuses with 429 when it is spent.
func NewRateLimit(l *ratelimit.Limiter, key ratelimit.KeyFunc, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		d := l.Allow(key(q.R, q.Identity))
		if !d.Allowed {
			return rateLimited(q.W, d, "rate_limit", "rate limited")
		}
		d.WriteHeaders(q.W.Header())
		return next.Serve(q)
	})
}

// NewRateLimitGuard stands in front of auth for a limit keyed by identity:
// no identity is known yet, so an address (the key's own fallback) whose
// bucket is spent is refused now, and a failed authentication is charged
// to it. Successes take from the subject's bucket (NewRateLimit after
// auth), so users behind one address are not limited together.
func NewRateLimitGuard(l *ratelimit.Limiter, key ratelimit.KeyFunc, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		if d := l.Peek(key(q.R, "")); !d.Allowed {
			return rateLimited(q.W, d, "rate_limit", "rate limited")
		}
		err := next.Serve(q)
		if e, ok := err.(*Error); ok && e.Auth != nil {
			l.Allow(key(q.R, ""))
		}
		return err
	})
}

func rateLimited(w http.ResponseWriter, d ratelimit.Decision, rejected, reason string) *Error {
	ratelimit.Reject(w, d)
	return &Error{Status: http.StatusTooManyRequests, Reason: reason, Rejected: rejected}
}

// NewBulkhead bounds the route's concurrent requests (503 beyond its queue).
func NewBulkhead(b *resilience.Bulkhead, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		if err := b.Acquire(q.R.Context()); err != nil {
			q.W.Header().Set("Retry-After", "1")
			e := Refuse(q.W, http.StatusServiceUnavailable, "route at capacity\n", err.Error(), false)
			e.Rejected = "route_concurrency"
			return e
		}
		defer b.Release()
		return next.Serve(q)
	})
}

// Package balance holds the load-balancing strategies: one small type per
// strategy behind one interface (after Caddy's selection policies). Picks are
// pure decisions over shared backend state: no I/O, no clock reads, no
// allocations.
package balance

import "github.com/drawbridge-dev/drawbridge/gateway/upstream"

// Request is what a strategy may look at to pick a backend. The proxy fills
// it once per request.
type Request struct {
	// Now is the request's start time in unix nanoseconds (injected clock).
	Now int64
	// Hash is the request key's hash for ip_hash and consistent_hash
	// (see KeyFunc); other strategies ignore it.
	Hash uint64
	// Exclude, when non-nil, names backends that must not be picked (the
	// ones earlier tries of this request used).
	Exclude func(*upstream.Backend) bool
}

// Balancer picks a backend for each request.
//
// Pick returns an available backend, or nil when none is. It must be safe
// for concurrent use, allocation-free, and must never block on I/O.
//
// Update replaces the membership with members, applied as a diff in place:
// backends present before and after keep their identity (same *Backend);
// Pick may run concurrently with Update.
type Balancer interface {
	Pick(r *Request) *upstream.Backend
	Update(members []*upstream.Backend)
}

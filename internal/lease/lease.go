// Package lease lets exactly one replica act at a time: one autoscaler of
// several, or the active gateway of an active-passive pair.
// A lease has a holder, an expiry and a fencing token that grows every time
// it changes hands, so a stale holder's late writes can be told apart.
// Two implementations share these semantics: a DynamoDB item updated with
// conditional writes (on AWS) and a lock-protected JSON file (locally).
// Expiry is judged by the caller's clock, so tests drive handover with a
// fake clock.
package lease

import (
	"context"
	"time"
)

// Lease lets one replica act while others stand by.
type Lease interface {
	// TryAcquire takes or renews the lease for holder until now+ttl. It
	// reports whether holder holds it and the fencing token, which grows
	// every time the lease changes hands.
	TryAcquire(ctx context.Context, holder string, ttl time.Duration) (held bool, token uint64, err error)
	// Release gives the lease up if holder holds it.
	Release(ctx context.Context, holder string) error
}

// HolderReader is a Lease that can say who holds it now ("" when nobody
// holds it unexpired), so a replica standing by can name the one acting.
type HolderReader interface {
	Holder(ctx context.Context) (string, error)
}

// None is the lease of a single replica: always held, token 1.
type None struct{}

func (None) TryAcquire(context.Context, string, time.Duration) (bool, uint64, error) {
	return true, 1, nil
}
func (None) Release(context.Context, string) error { return nil }

var (
	_ Lease = None{}
	_ Lease = (*File)(nil)
	_ Lease = (*DynamoDB)(nil)
	_ Lease = (*Gateway)(nil)

	_ HolderReader = (*File)(nil)
	_ HolderReader = (*DynamoDB)(nil)
)

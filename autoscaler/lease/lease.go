// Package lease lets exactly one replica of the autoscaler act at a time.
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

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// None is the lease of a single replica: always held, token 1.
type None struct{}

func (None) TryAcquire(context.Context, string, time.Duration) (bool, uint64, error) {
	return true, 1, nil
}
func (None) Release(context.Context, string) error { return nil }

var (
	_ autoscaler.Lease = None{}
	_ autoscaler.Lease = (*File)(nil)
	_ autoscaler.Lease = (*DynamoDB)(nil)
	_ autoscaler.Lease = (*Gateway)(nil)
)

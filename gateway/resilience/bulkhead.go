package resilience

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// BulkheadConfig is a cap on requests at once with a bounded wait; it is
// the concurrency blocks of the gateway's file (a route's, a pool's per
// backend).
type BulkheadConfig struct {
	Max          int           `yaml:"max"`           // requests at once; required, >= 1
	QueueSize    int           `yaml:"queue_size"`    // waiters beyond max; default 0 (answer 503 at once)
	QueueTimeout time.Duration `yaml:"queue_timeout"` // how long a waiter waits; default 1s
}

func (c *BulkheadConfig) SetDefaults() { c.QueueTimeout = time.Second }

// Validate reports the problems of c by key relative to the block.
func (c *BulkheadConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	v.Between("max", c.Max, 1, math.MaxInt32)
	v.Between("queue_size", c.QueueSize, 0, math.MaxInt32)
	v.Positive("queue_timeout", c.QueueTimeout)
	return v.Errs
}

var (
	// ErrQueueFull means the bulkhead and its wait queue are full.
	ErrQueueFull = errors.New("bulkhead full")
	// ErrQueueTimeout means a waiter gave up after the queue timeout.
	ErrQueueTimeout = errors.New("bulkhead queue timeout")
)

// Bulkhead caps concurrent requests, with a bounded wait queue and a queue
// timeout, so one slow dependency cannot take every goroutine and socket
// of the gateway with it.
type Bulkhead struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
	timeout time.Duration
	clk     clock.Clock
}

// NewBulkhead allows max concurrent holders and queue waiters for up to
// timeout each. max <= 0 returns nil, which admits everything.
func NewBulkhead(max, queue int, timeout time.Duration, clk clock.Clock) *Bulkhead {
	if max <= 0 {
		return nil
	}
	return &Bulkhead{slots: make(chan struct{}, max), queue: int64(queue), timeout: timeout, clk: clk}
}

// Acquire takes a slot, waiting in the queue if there is room. A nil
// Bulkhead always admits.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	if b == nil {
		return nil
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	if b.waiting.Add(1) > b.queue {
		b.waiting.Add(-1)
		return ErrQueueFull
	}
	defer b.waiting.Add(-1)
	expired := make(chan struct{})
	t := b.clk.AfterFunc(b.timeout, func() { close(expired) })
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-expired:
		return ErrQueueTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot taken by Acquire.
func (b *Bulkhead) Release() {
	if b != nil {
		<-b.slots
	}
}

// InUse reports the slots taken and the waiters queued.
func (b *Bulkhead) InUse() (active, waiting int) {
	if b == nil {
		return 0, 0
	}
	return len(b.slots), int(b.waiting.Load())
}

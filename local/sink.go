package local

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/actuator"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// readySink stands between the local actuator and the gateway pool, as a
// load balancer's target registration does for an Auto Scaling group: a
// backend the actuator starts joins the pool only once it answers
// /healthz, so no request is sent to a process that is not listening yet
// (least-connections would pick exactly those first). Removals pass at
// once: the actuator deregisters a backend before stopping it.
type readySink struct {
	client *http.Client

	mu    sync.Mutex
	pool  *gateway.Pool
	specs []upstream.Spec // the actuator's latest membership
	ready map[string]bool // by address
}

func newReadySink() *readySink {
	return &readySink{client: &http.Client{Timeout: 250 * time.Millisecond}, ready: map[string]bool{}}
}

// SetBackends implements discovery.Sink for the actuator.
func (r *readySink) SetBackends(specs []upstream.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.specs = slices.Clone(specs)
	live := map[string]bool{}
	for _, sp := range specs {
		live[sp.Address] = true
	}
	for a := range r.ready {
		if !live[a] {
			delete(r.ready, a)
		}
	}
	return r.publishLocked()
}

// attach starts passing membership to pool (the gateway exists only
// after the first backends do).
func (r *readySink) attach(pool *gateway.Pool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pool = pool
	return r.publishLocked()
}

func (r *readySink) publishLocked() error {
	if r.pool == nil {
		return nil
	}
	var in []upstream.Spec
	for _, sp := range r.specs {
		if r.ready[sp.Address] {
			in = append(in, sp)
		}
	}
	return r.pool.SetBackends(in)
}

// run probes the backends not yet ready every 20 ms until ctx ends.
func (r *readySink) run(ctx context.Context) {
	defer r.client.CloseIdleConnections()
	clock.Every(ctx, clock.Real{}, 20*time.Millisecond, func(time.Time) { r.probe(ctx) })
}

// probe marks the pending backends that answer their health check ready
// and publishes them.
func (r *readySink) probe(ctx context.Context) {
	r.mu.Lock()
	var pending []string
	for _, sp := range r.specs {
		if !r.ready[sp.Address] {
			pending = append(pending, sp.Address)
		}
	}
	r.mu.Unlock()
	var up []string
	for _, a := range pending {
		if actuator.Healthz(ctx, r.client, a) {
			up = append(up, a)
		}
	}
	if len(up) == 0 {
		return
	}
	r.mu.Lock()
	for _, a := range up {
		// Only if still a member: it may have been stopped meanwhile.
		if slices.ContainsFunc(r.specs, func(sp upstream.Spec) bool { return sp.Address == a }) {
			r.ready[a] = true
		}
	}
	_ = r.publishLocked() // the pool refuses nothing the actuator built
	r.mu.Unlock()
}

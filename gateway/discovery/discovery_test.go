package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

type recordingSink struct {
	mu      sync.Mutex
	applied [][]upstream.Spec
	refuse  bool
}

func (r *recordingSink) SetBackends(s []upstream.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return errors.New("refused")
	}
	r.applied = append(r.applied, s)
	return nil
}

func (r *recordingSink) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied)
}

// scripted publishes the given snapshots, waiting for a step signal
// before each one so the test controls timing without sleeps.
type scripted struct {
	snaps [][]upstream.Spec
	step  chan struct{}
}

func (s *scripted) Run(ctx context.Context, publish func([]upstream.Spec)) error {
	for _, snap := range s.snaps {
		select {
		case <-s.step:
		case <-ctx.Done():
			return nil
		}
		publish(snap)
	}
	<-ctx.Done()
	return nil
}

func spec(ids ...string) []upstream.Spec {
	var out []upstream.Spec
	for _, id := range ids {
		out = append(out, upstream.Spec{ID: id, Address: id + ":80", Weight: 1})
	}
	return out
}

func waitCount(t *testing.T, s *recordingSink, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d snapshots in the sink", n), func() bool { return s.count() >= n })
}

func TestWatchDropsUnchangedSnapshots(t *testing.T) {
	p := &scripted{snaps: [][]upstream.Spec{spec("a", "b"), spec("b", "a"), spec("a", "b", "c")}, step: make(chan struct{})}
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Watch(ctx, p, sink, nil) }()

	p.step <- struct{}{}
	waitCount(t, sink, 1)
	p.step <- struct{}{} // same members in another order: dropped
	p.step <- struct{}{}
	waitCount(t, sink, 2)
	cancel()
	<-done
	if n := sink.count(); n != 2 {
		t.Fatalf("applied %d snapshots, want 2 (the reordered one is no change)", n)
	}
	if got := sink.applied[1]; len(got) != 3 {
		t.Fatalf("last snapshot %v", got)
	}
}

// burst publishes many snapshots at once; only the newest must win.
type burst struct{ n int }

func (b burst) Run(ctx context.Context, publish func([]upstream.Spec)) error {
	for i := 0; i < b.n; i++ {
		publish(spec(string(rune('a' + i%26))))
	}
	publish(spec("final"))
	<-ctx.Done()
	return nil
}

func TestWatchCoalescesBursts(t *testing.T) {
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Watch(ctx, burst{n: 1000}, sink, nil) }()
	testkit.Eventually(t, "the final snapshot to be applied", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		n := len(sink.applied)
		return n > 0 && sink.applied[n-1][0].ID == "final"
	})
	cancel()
	<-done
	if n := sink.count(); n > 500 {
		t.Fatalf("applied %d of 1001 snapshots: bursts were not coalesced", n)
	}
}

func TestWatchKeepsMembershipWhenSinkRefuses(t *testing.T) {
	sink := &recordingSink{refuse: true}
	var errs []error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, Static(spec("a")), sink, func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })
	}()
	testkit.Eventually(t, "the refusal to be reported", func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) == 1 })
	cancel()
	<-done
	if sink.count() != 0 {
		t.Fatal("refused snapshot counted as applied")
	}
}

package discovery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// recordingSink is a Sink that remembers every applied membership, or
// refuses them all.
type recordingSink struct {
	testkit.Log[[]backend.Spec]
	refuse bool
}

func (r *recordingSink) SetBackends(s []backend.Spec) error {
	if r.refuse {
		return errors.New("refused")
	}
	r.Add(s)
	return nil
}

// last is how many memberships were applied and the newest one.
func (r *recordingSink) last() (int, []backend.Spec) {
	s, n := r.Last()
	return n, s
}

// scripted publishes the given snapshots, waiting for a step signal
// before each one so the test controls timing without sleeps.
type scripted struct {
	snaps [][]backend.Spec
	step  chan struct{}
}

func (s *scripted) Run(ctx context.Context, publish func([]backend.Spec)) error {
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

func spec(ids ...string) []backend.Spec {
	var out []backend.Spec
	for _, id := range ids {
		out = append(out, backend.Spec{ID: id, Address: id + ":80", Weight: 1})
	}
	return out
}

// settled waits until Watch has done all it can (every goroutine of the
// synctest bubble is blocked) and checks how many snapshots it applied.
func settled(t *testing.T, s *recordingSink, n int) {
	t.Helper()
	synctest.Wait()
	if got := s.Len(); got != n {
		t.Fatalf("sink got %d snapshots, want %d", got, n)
	}
}

func TestWatchDropsUnchangedSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &scripted{snaps: [][]backend.Spec{spec("a", "b"), spec("b", "a"), spec("a", "b", "c")}, step: make(chan struct{})}
		sink := &recordingSink{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- Watch(ctx, p, sink, nil) }()

		p.step <- struct{}{}
		settled(t, sink, 1)
		p.step <- struct{}{} // same members in another order: dropped
		p.step <- struct{}{}
		settled(t, sink, 2)
		cancel()
		<-done
		if n := sink.Len(); n != 2 {
			t.Fatalf("applied %d snapshots, want 2 (the reordered one is no change)", n)
		}
		if got := sink.All()[1]; len(got) != 3 {
			t.Fatalf("last snapshot %v", got)
		}
	})
}

// burst publishes many snapshots at once; only the newest must win.
type burst struct{ n int }

func (b burst) Run(ctx context.Context, publish func([]backend.Spec)) error {
	for i := 0; i < b.n; i++ {
		publish(spec(string(rune('a' + i%26))))
	}
	publish(spec("final"))
	<-ctx.Done()
	return nil
}

func TestWatchCoalescesBursts(t *testing.T) { synctest.Test(t, watchCoalescesBursts) }

func watchCoalescesBursts(t *testing.T) {
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Watch(ctx, burst{n: 1000}, sink, nil) }()
	synctest.Wait()
	if n, last := sink.last(); n == 0 || last[0].ID != "final" {
		t.Fatalf("the final snapshot was not applied last: %d applied", n)
	}
	cancel()
	<-done
	if n := sink.Len(); n > 500 {
		t.Fatalf("applied %d of 1001 snapshots: bursts were not coalesced", n)
	}
}

func TestWatchKeepsMembershipWhenSinkRefuses(t *testing.T) {
	synctest.Test(t, watchKeepsMembershipWhenSinkRefuses)
}

func watchKeepsMembershipWhenSinkRefuses(t *testing.T) {
	sink := &recordingSink{refuse: true}
	var errs []error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, Static(spec("a")), sink, func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })
	}()
	synctest.Wait()
	mu.Lock()
	if len(errs) != 1 {
		t.Fatalf("%d refusals reported, want 1", len(errs))
	}
	mu.Unlock()
	cancel()
	<-done
	if sink.Len() != 0 {
		t.Fatal("refused snapshot counted as applied")
	}
}

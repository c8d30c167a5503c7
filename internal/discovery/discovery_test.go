package discovery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

type recordingSink struct {
	mu      sync.Mutex
	applied [][]backend.Spec
	refuse  bool
}

func (r *recordingSink) SetBackends(s []backend.Spec) error {
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

func waitCount(t *testing.T, s *recordingSink, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d snapshots, want %d", s.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWatchDropsUnchangedSnapshots(t *testing.T) {
	p := &scripted{snaps: [][]backend.Spec{spec("a", "b"), spec("b", "a"), spec("a", "b", "c")}, step: make(chan struct{})}
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

func (b burst) Run(ctx context.Context, publish func([]backend.Spec)) error {
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		sink.mu.Lock()
		last := ""
		if n := len(sink.applied); n > 0 {
			last = sink.applied[n-1][0].ID
		}
		sink.mu.Unlock()
		if last == "final" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("final snapshot never applied")
		}
		time.Sleep(time.Millisecond)
	}
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(errs)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refusal not reported")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if sink.count() != 0 {
		t.Fatal("refused snapshot counted as applied")
	}
}

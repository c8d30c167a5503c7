package failover

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// flakyLease fails every call while down is set (a DynamoDB outage, a
// partitioned node).
type flakyLease struct {
	Lease
	down atomic.Bool
}

func (f *flakyLease) TryAcquire(ctx context.Context, holder string, ttl time.Duration) (bool, uint64, error) {
	if f.down.Load() {
		return false, 0, errors.New("unreachable")
	}
	return f.Lease.TryAcquire(ctx, holder, ttl)
}

// sharedAddr is one address two nodes compete for; it records overlap.
type sharedAddr struct {
	mu      sync.Mutex
	holders map[string]bool
	both    bool
}

type nodeAddr struct {
	s    *sharedAddr
	node string
}

func (a nodeAddr) String() string { return "vip@" + a.node }
func (a nodeAddr) Acquire(context.Context) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.holders[a.node] = true
	if len(a.s.holders) > 1 {
		a.s.both = true
	}
	return nil
}
func (a nodeAddr) Release(context.Context) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	delete(a.s.holders, a.node)
	return nil
}
func (a nodeAddr) held() bool {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.s.holders[a.node]
}

const ttl = 3 * time.Second

func newPair(t *testing.T) (clk *clock.Fake, a, b *Controller, la *flakyLease, addr *sharedAddr) {
	t.Helper()
	clk = clock.NewFake(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "lease.json")
	addr = &sharedAddr{holders: map[string]bool{}}
	la = &flakyLease{Lease: lease.NewFile(path, clk)}
	mk := func(node string, l Lease) *Controller {
		c, err := New(Config{Node: node, TTL: ttl, Lease: l, Address: nodeAddr{addr, node}, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return clk, mk("a", la), mk("b", lease.NewFile(path, clk)), la, addr
}

func wantRole(t *testing.T, c *Controller, role Role, token uint64) {
	t.Helper()
	st := c.Status()
	if st.Role != role || st.Token != token {
		t.Fatalf("%s: role %s token %d, want %s token %d (last %+v)", c.Node(), st.Role, st.Token, role, token, st.Last)
	}
	if tok, ok := c.Fence(); ok != (role == Active) || (ok && tok != token) {
		t.Fatalf("%s: Fence() = %d, %v with role %s", c.Node(), tok, ok, role)
	}
}

// TestHandoverOnFailedRenewal: the active stops being able to renew; it
// stops serving margin before the lease expires, and the passive takes
// lease and address only after expiry, with a higher token.
func TestHandoverOnFailedRenewal(t *testing.T) {
	clk, a, b, la, addr := newPair(t)
	ctx := context.Background()
	a.tick(ctx)
	b.tick(ctx)
	wantRole(t, a, Active, 1)
	wantRole(t, b, Passive, 1)
	if !(nodeAddr{addr, "a"}).held() {
		t.Fatal("active does not hold the address")
	}
	if st := a.Status(); st.Holder != "a" || st.Last == nil || st.Last.Reason != "lease acquired" {
		t.Fatalf("status %+v", st)
	}

	la.down.Store(true)
	renew := ttl / 3
	clk.Advance(renew) // the renewal at t=1s fails; still valid until 2.25s
	a.tick(ctx)
	b.tick(ctx)
	wantRole(t, a, Active, 1)
	wantRole(t, b, Passive, 1)

	clk.Advance(ttl - ttl/4 - renew) // t=2.25s: a's validity ends
	if _, ok := a.Fence(); ok {
		t.Fatal("a still serves after its validity ended")
	}
	testkit.Eventually(t, "a's watchdog to release the address", func() bool { return !(nodeAddr{addr, "a"}).held() })
	wantRole(t, a, Passive, 1)
	if r := a.Status().Last.Reason; r != "lease not renewed in time" {
		t.Fatalf("reason %q", r)
	}
	b.tick(ctx) // t=2.25s: the lease has not expired for b yet
	wantRole(t, b, Passive, 1)

	clk.Advance(ttl / 4) // t=3s: expired
	b.tick(ctx)
	wantRole(t, b, Active, 2)
	if !(nodeAddr{addr, "b"}).held() {
		t.Fatal("new active does not hold the address")
	}

	la.down.Store(false)
	a.tick(ctx)
	wantRole(t, a, Passive, 2)
	if addr.both {
		t.Fatal("both nodes held the address at once")
	}
}

// TestTakenOverWhileFrozen: a node that missed its renewals (frozen) and
// comes back after the peer took over serves nothing, even before its own
// timers run, and steps down on its first tick.
func TestTakenOverWhileFrozen(t *testing.T) {
	clk, a, b, _, _ := newPair(t)
	ctx := context.Background()
	a.tick(ctx)
	clk.Advance(ttl)
	if _, ok := a.Fence(); ok {
		t.Fatal("a serves past its validity")
	}
	b.tick(ctx)
	wantRole(t, b, Active, 2)
	a.tick(ctx)
	wantRole(t, a, Passive, 2)
}

// TestShutdownHandsOver: a graceful stop releases the lease, so the peer
// takes over on its next try instead of after the TTL.
func TestShutdownHandsOver(t *testing.T) {
	_, a, b, _, addr := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testkit.Eventually(t, "a to become active", func() bool { _, ok := a.Fence(); return ok })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if (nodeAddr{addr, "a"}).held() {
		t.Fatal("a kept the address after shutdown")
	}
	if r := a.Status().Last.Reason; r != "shutdown" {
		t.Fatalf("reason %q", r)
	}
	b.tick(context.Background())
	wantRole(t, b, Active, 2)
}

func TestConfigChecks(t *testing.T) {
	if _, err := New(Config{Node: "a", TTL: time.Second, Renew: time.Second, Lease: lease.None{}}); err == nil {
		t.Fatal("renew >= ttl accepted")
	}
	if _, err := New(Config{TTL: time.Second, Lease: lease.None{}}); err == nil {
		t.Fatal("empty node accepted")
	}
}

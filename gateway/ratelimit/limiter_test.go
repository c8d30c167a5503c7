package ratelimit

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newLimiter(t testing.TB, cfg Config, opts ...Option) (*Limiter, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	l, err := New(cfg, clk, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func TestBurstThenRefill(t *testing.T) {
	l, clk := newLimiter(t, Config{Rate: 1, Burst: 3})
	for i := range 3 {
		d := l.Allow("a")
		if !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v, want allowed with %d left", i, d, 2-i)
		}
	}
	d := l.Allow("a")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != time.Second || d.Reset != 3*time.Second {
		t.Fatalf("4th request: %+v, want denied, retry after 1s, full in 3s", d)
	}
	clk.Advance(999 * time.Millisecond)
	if d := l.Allow("a"); d.Allowed {
		t.Fatalf("allowed %v before a token was due", d)
	}
	clk.Advance(time.Millisecond)
	if d := l.Allow("a"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after refill of one token: %+v", d)
	}
	clk.Advance(time.Hour) // refill is capped at the burst
	for i := range 4 {
		if d := l.Allow("a"); d.Allowed != (i < 3) {
			t.Fatalf("after idle hour, request %d allowed=%v", i, d.Allowed)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1})
	if !l.Allow("a").Allowed || l.Allow("a").Allowed {
		t.Fatal("a: want one allowed then denied")
	}
	if !l.Allow("b").Allowed {
		t.Fatal("b was limited by a's bucket")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
		opts []Option
	}{
		{Config{Rate: 0, Burst: 1}, "rate", nil},
		{Config{Rate: -1, Burst: 1}, "rate", nil},
		{Config{Rate: 1, Burst: 0}, "burst", nil},
		{Config{Rate: 1, Burst: 1, MaxKeys: -1}, "max_keys", nil},
		{Config{Rate: 1, Burst: 60, IdleTTL: time.Second}, "idle_ttl", nil},
		{Config{Rate: 1, Burst: 1}, "policy", []Option{Named(`a"b`)}},
	} {
		_, err := New(tc.cfg, clock.NewFake(epoch), tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error naming %q", tc.cfg, err, tc.want)
		}
	}
}

// TestBoundedMemory feeds a million distinct keys and checks the number of
// buckets never exceeds MaxKeys.
func TestBoundedMemory(t *testing.T) {
	const maxKeys = 1000
	l, clk := newLimiter(t, Config{Rate: 1, Burst: 5, MaxKeys: maxKeys})
	buf := make([]byte, 0, 32)
	for i := range 1_000_000 {
		buf = strconv.AppendInt(append(buf[:0], "client-"...), int64(i), 10)
		l.Allow(string(buf))
		if i%10_000 == 0 {
			if n := l.Len(); n > maxKeys {
				t.Fatalf("after %d keys: %d buckets, max %d", i+1, n, maxKeys)
			}
			clk.Advance(time.Millisecond)
		}
	}
	n := l.Len()
	if n > maxKeys || n < maxKeys/2 {
		t.Fatalf("%d buckets after 1e6 keys, want <= %d (and the shards reasonably full)", n, maxKeys)
	}
	for i := range l.shards {
		s := &l.shards[i]
		if len(s.m) > s.cap || s.listLen() != len(s.m) {
			t.Fatalf("shard %d: map %d, list %d, cap %d", i, len(s.m), s.listLen(), s.cap)
		}
	}
}

func (s *shard) listLen() int {
	n := 0
	for e := s.head; e != nil; e = e.next {
		n++
	}
	return n
}

func TestLRUKeepsRecentlyUsedKeys(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1, MaxKeys: 10}) // one shard of 10
	if len(l.shards) != 1 {
		t.Fatalf("want 1 shard for MaxKeys 10, got %d", len(l.shards))
	}
	l.Allow("hot") // drains "hot"
	for i := range 100 {
		l.Allow("cold-" + strconv.Itoa(i))
		if d := l.Allow("hot"); d.Allowed {
			t.Fatalf("after %d cold keys, hot was evicted and refilled", i+1)
		}
	}
	if l.Len() != 10 {
		t.Fatalf("Len = %d, want 10", l.Len())
	}
}

func TestIdleEviction(t *testing.T) {
	l, clk := newLimiter(t, Config{Rate: 10, Burst: 10, IdleTTL: 2 * time.Second})
	for i := range 100 {
		l.Allow(strconv.Itoa(i))
	}
	clk.Advance(time.Second)
	if n := l.EvictIdle(); n != 0 {
		t.Fatalf("evicted %d keys idle for less than the TTL", n)
	}
	l.Allow("7") // refreshes key 7
	clk.Advance(1500 * time.Millisecond)
	if n := l.EvictIdle(); n != 99 || l.Len() != 1 {
		t.Fatalf("evicted %d, Len %d; want 99 evicted, key 7 kept", n, l.Len())
	}
	// Lazy eviction: Allow drops idle entries of its shard on the way.
	l2, clk2 := newLimiter(t, Config{Rate: 10, Burst: 10, IdleTTL: time.Second, MaxKeys: 10})
	l2.Allow("old")
	clk2.Advance(2 * time.Second)
	l2.Allow("new")
	if l2.Len() != 1 {
		t.Fatalf("Len = %d after lazy eviction, want 1", l2.Len())
	}
}

func TestDefaultIdleTTLCoversRefill(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 0.01, Burst: 10}) // refill takes 1000s
	if l.ttl != 1000*time.Second {
		t.Fatalf("default IdleTTL %v, want the refill time 1000s", l.ttl)
	}
}

func TestLongKeysAreHashed(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1})
	long := strings.Repeat("x", 1<<20)
	if !l.Allow(long).Allowed || l.Allow(long).Allowed {
		t.Fatal("a long key must still map to one bucket")
	}
	if !l.Allow(long + "y").Allowed {
		t.Fatal("two long keys collided")
	}
	for i := range l.shards {
		for k := range l.shards[i].m {
			if len(k) > maxKeyLen {
				t.Fatalf("stored a %d-byte key", len(k))
			}
		}
	}
}

// TestConcurrentExactBurst checks that racing requests never overspend: with
// no refill, exactly Burst of them get through.
func TestConcurrentExactBurst(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1e-6, Burst: 50})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if l.Allow("shared").Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 50 {
		t.Fatalf("%d allowed, want exactly the burst of 50", allowed.Load())
	}
}

func TestPeekTakesNothingAndCreatesNothing(t *testing.T) {
	l, clk := newLimiter(t, Config{Rate: 1, Burst: 2})
	for range 5 {
		if d := l.Peek("a"); !d.Allowed || d.Remaining != 2 {
			t.Fatalf("peek at an unknown key: %+v, want allowed with 2 left", d)
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("peeks created %d buckets", n)
	}
	l.Allow("a")
	l.Allow("a")
	d := l.Peek("a")
	if d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("peek at an empty bucket: %+v, want denied, retry after 1s", d)
	}
	clk.Advance(time.Second)
	if d := l.Peek("a"); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("peek after a refill: %+v, want allowed with 1 left", d)
	}
	long := strings.Repeat("k", 200) // hashed keys are peeked under the same name
	l.Allow(long)
	l.Allow(long)
	if l.Peek(long).Allowed {
		t.Fatal("peek at a long key did not see its bucket")
	}
}

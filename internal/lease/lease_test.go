package lease

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestLeaseHandover runs the same script against both leases: A holds, B
// stands by, A stops renewing, B takes over after expiry with a higher
// token, A cannot come back while B renews, and a release hands over at once.
func TestLeaseHandover(t *testing.T) {
	const ttl = 15 * time.Second
	kinds := []struct {
		name string
		new  func(t *testing.T, clk clock.Clock) (a, b Lease)
	}{
		{"file", func(t *testing.T, clk clock.Clock) (Lease, Lease) {
			p := filepath.Join(t.TempDir(), "lease.json")
			return NewFile(p, clk), NewFile(p, clk)
		}},
		{"dynamodb", func(t *testing.T, clk clock.Clock) (Lease, Lease) {
			d := awsdouble.New("us-east-1")
			d.AddTable("leases")
			cfg := testkit.AWS(t, d)
			return NewDynamoDB(dynamodb.NewFromConfig(cfg), "leases", "autoscaler", clk), NewDynamoDB(dynamodb.NewFromConfig(cfg), "leases", "autoscaler", clk)
		}},
	}
	type step struct {
		advance   time.Duration
		who       string // "A" or "B" tries to acquire; "relA"/"relB" release
		wantHeld  bool
		wantToken uint64
	}
	script := []step{
		{who: "A", wantHeld: true, wantToken: 1},
		{who: "B", wantHeld: false, wantToken: 1},
		{advance: 10 * time.Second, who: "A", wantHeld: true, wantToken: 1},  // renewal keeps the token
		{advance: 10 * time.Second, who: "B", wantHeld: false, wantToken: 1}, // A renewed at 10s: valid to 25s
		{advance: 6 * time.Second, who: "B", wantHeld: true, wantToken: 2},   // 26s: A stopped renewing, expired
		{who: "A", wantHeld: false, wantToken: 2},
		{advance: 14 * time.Second, who: "B", wantHeld: true, wantToken: 2},
		{advance: 14 * time.Second, who: "A", wantHeld: false, wantToken: 2},
		{who: "relA"}, // not the holder: no effect
		{who: "A", wantHeld: false, wantToken: 2},
		{who: "relB"},
		{who: "A", wantHeld: true, wantToken: 3}, // released: handover without waiting
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			a, b := k.new(t, clk)
			replicas := map[string]Lease{"A": a, "B": b}
			ctx := context.Background()
			for i, s := range script {
				clk.Advance(s.advance)
				switch s.who {
				case "relA", "relB":
					if err := replicas[s.who[3:]].Release(ctx, s.who[3:]); err != nil {
						t.Fatalf("step %d: release: %v", i, err)
					}
					continue
				}
				held, tok, err := replicas[s.who].TryAcquire(ctx, s.who, ttl)
				if err != nil {
					t.Fatalf("step %d: %s TryAcquire: %v", i, s.who, err)
				}
				if held != s.wantHeld || tok != s.wantToken {
					t.Fatalf("step %d (t=+%s): %s TryAcquire = (%v, %d), want (%v, %d)",
						i, clk.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), s.who, held, tok, s.wantHeld, s.wantToken)
				}
				// Whoever is refused, the other holds it; both can say so.
				want := map[string]string{"A": "B", "B": "A"}[s.who]
				if held {
					want = s.who
				}
				for name, l := range replicas {
					if h, err := l.(HolderReader).Holder(ctx); err != nil || h != want {
						t.Fatalf("step %d: %s reads holder %q (%v), want %q", i, name, h, err, want)
					}
				}
			}
		})
	}
}

// Many replicas racing for a free file lease: exactly one wins.
func TestFileLeaseExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lease.json")
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held, _, err := NewFile(p, clk).TryAcquire(context.Background(), fmt.Sprint("r", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if held {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d replicas hold the lease, want 1", winners)
	}
}

// TestGatewayLeaseFollowsTheRole: the gateway lease is held exactly while
// the local gateway's /status says active, with the gateway's token; a
// passive gateway, one without failover, or one that does not answer
// means standing by.
func TestGatewayLeaseFollowsTheRole(t *testing.T) {
	var mu sync.Mutex
	body := `{"failover":{"node":"i-1","role":"passive","token":3}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	set := func(s string) { mu.Lock(); body = s; mu.Unlock() }
	ctx := context.Background()
	g := NewGateway(srv.URL+"/", nil)

	if held, tok, err := g.TryAcquire(ctx, "as-1", time.Second); err != nil || held || tok != 3 {
		t.Fatalf("passive gateway: held %v token %d err %v; want standing by", held, tok, err)
	}
	set(`{"failover":{"node":"i-1","role":"active","token":4}}`)
	if held, tok, err := g.TryAcquire(ctx, "as-1", time.Second); err != nil || !held || tok != 4 {
		t.Fatalf("active gateway: held %v token %d err %v; want acting with token 4", held, tok, err)
	}
	set(`{"pools":[]}`)
	if held, _, err := g.TryAcquire(ctx, "as-1", time.Second); err == nil || held {
		t.Fatalf("gateway without failover: held %v err %v; want an error", held, err)
	}
	set(`not json`)
	if held, _, err := g.TryAcquire(ctx, "as-1", time.Second); err == nil || held {
		t.Fatalf("garbled status: held %v err %v; want an error", held, err)
	}
	srv.Close()
	if held, _, err := g.TryAcquire(ctx, "as-1", time.Second); err == nil || held {
		t.Fatalf("gateway down: held %v err %v; want an error", held, err)
	}
	if err := g.Release(ctx, "as-1"); err != nil {
		t.Fatal(err)
	}
}

// TestFileLeaseReadsPastAStaleTail: a holder killed between writing its
// new state and cutting the file to length leaves the old state's tail
// behind the new one. The lease is still the new state: held by its
// holder, with its token, not unreadable and not empty (an empty lease
// would hand the next node token 1, below tokens already served).
func TestFileLeaseReadsPastAStaleTail(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "lease.json")
	a, b := NewFile(path, clk), NewFile(path, clk)
	// The state before: another holder, a longer name, token 6.
	old := []byte(`{"holder":"a-node-with-a-longer-name","expires_at":"2023-11-14T22:13:19.123456789Z","token":6}`)
	// The new state, shorter than the old, written over its head.
	newer := fmt.Sprintf(`{"holder":"a","expires_at":%q,"token":7}`, clk.Now().Add(time.Second).Format(time.RFC3339Nano))
	if len(newer) >= len(old) {
		t.Fatalf("the new state (%d bytes) must be shorter than the old (%d) to leave a tail", len(newer), len(old))
	}
	if err := os.WriteFile(path, append([]byte(newer), old[len(newer):]...), 0o644); err != nil {
		t.Fatal(err)
	}
	held, tok, err := b.TryAcquire(context.Background(), "b", time.Second)
	if err != nil || held || tok != 7 {
		t.Fatalf("b TryAcquire = %v, %d, %v; want a's lease with token 7", held, tok, err)
	}
	if held, tok, err := a.TryAcquire(context.Background(), "a", time.Second); err != nil || !held || tok != 7 {
		t.Fatalf("a renews: %v, %d, %v; want held with token 7", held, tok, err)
	}
	if got, _ := os.ReadFile(path); !strings.HasSuffix(string(got), `"token":7}`) {
		t.Fatalf("after a renewal the file is %q: the stale tail was not cut", got)
	}
}

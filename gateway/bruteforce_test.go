package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address ip, so tests can be two clients on one machine.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

type bruteRig struct {
	t   *testing.T
	url string
}

func (b bruteRig) login(c *http.Client, user, pass string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.url+"/", nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func basicRoute(t *testing.T, extra string) (bruteRig, *clock.Fake) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	be := startBackends(t, 1)[0]
	cfg := parseConfig(t, routeWith(fmt.Sprintf("auth:\n  basic: {users: {alice: %q}}\n%s", h, extra), "", be.Addr()))
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	_, gw := startGateway(t, cfg, Options{Clock: clk})
	return bruteRig{t: t, url: gw.URL}, clk
}

// With auth.max_failures, a client that keeps guessing is refused with 429
// before its credentials are checked (no bcrypt), even the right ones,
// until its failures are forgiven; other clients are not affected.
func TestAuthMaxFailuresPerClient(t *testing.T) {
	rg, clk := basicRoute(t, "  max_failures: {rate: 0.1, burst: 3}")
	attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	for i := range 5 { // no credentials guesses nothing: never counted
		if r := rg.login(attacker, "", ""); r.StatusCode != 401 {
			t.Fatalf("no credentials #%d: %d", i, r.StatusCode)
		}
	}
	for i := range 3 {
		if r := rg.login(attacker, "alice", fmt.Sprint("guess", i)); r.StatusCode != 401 {
			t.Fatalf("guess %d: %d, want 401", i, r.StatusCode)
		}
	}
	for _, pass := range []string{"guess3", "right"} {
		r := rg.login(attacker, "alice", pass)
		if r.StatusCode != 429 || r.Header.Get("Retry-After") != "10" {
			t.Fatalf("after 3 failures, %q: %d Retry-After=%q, want 429 with Retry-After 10", pass, r.StatusCode, r.Header.Get("Retry-After"))
		}
	}
	if r := rg.login(other, "alice", "right"); r.StatusCode != 200 {
		t.Fatalf("another client: %d, want 200", r.StatusCode)
	}
	clk.Advance(10 * time.Second) // one failure forgiven
	if r := rg.login(attacker, "alice", "right"); r.StatusCode != 200 {
		t.Fatalf("after the Retry-After: %d, want 200", r.StatusCode)
	}
	// Successes do not refill the budget: one more wrong guess, then 429.
	if r := rg.login(attacker, "alice", "wrong"); r.StatusCode != 401 {
		t.Fatalf("guess after forgiveness: %d", r.StatusCode)
	}
	if r := rg.login(attacker, "alice", "wrong"); r.StatusCode != 429 {
		t.Fatalf("second guess after forgiveness: %d, want 429", r.StatusCode)
	}
}

// The route's rate limit runs before the credentials are checked, as
// nginx's limit_req runs before auth_basic: failed logins use it up.
func TestRateLimitCountsFailedLogins(t *testing.T) {
	for _, key := range []string{"ip", "identity"} {
		t.Run(key, func(t *testing.T) {
			rg, clk := basicRoute(t, "rate_limit: {rate: 1, burst: 3, key: "+key+"}")
			attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
			for i := range 3 {
				if r := rg.login(attacker, "alice", fmt.Sprint("guess", i)); r.StatusCode != 401 {
					t.Fatalf("guess %d: %d", i, r.StatusCode)
				}
			}
			for _, pass := range []string{"guess3", "right"} {
				if r := rg.login(attacker, "alice", pass); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
					t.Fatalf("over the limit, %q: %d %v, want 429", pass, r.StatusCode, r.Header)
				}
			}
			clk.Advance(time.Second)
			if r := rg.login(attacker, "alice", "right"); r.StatusCode != 200 {
				t.Fatalf("after a refill: %d", r.StatusCode)
			}
			if key == "identity" {
				// Successes are charged to the subject, not the address:
				// alice from another address shares alice's bucket, whose
				// burst of 3 has one request in it.
				for i := range 2 {
					if r := rg.login(other, "alice", "right"); r.StatusCode != 200 {
						t.Fatalf("alice elsewhere #%d: %d", i, r.StatusCode)
					}
				}
				if r := rg.login(other, "alice", "right"); r.StatusCode != 429 {
					t.Fatalf("alice's 4th: %d, want 429", r.StatusCode)
				}
			}
		})
	}
}

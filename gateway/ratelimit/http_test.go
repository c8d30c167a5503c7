package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// limitHandler is the shape the gateway wires: key, Allow, headers, 429.
func limitHandler(l *Limiter, key KeyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := l.Allow(key(r, ""))
		if !d.Allowed {
			Reject(w, d)
			return
		}
		d.WriteHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestHTTPHeadersAnd429(t *testing.T) {
	l, clk := newLimiter(t, Config{Rate: 0.5, Burst: 2}, Named("per-ip"))
	key, err := ParseKey("ip")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(limitHandler(l, key))
	defer srv.Close()

	get := func() *http.Response {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	want := []struct {
		status              int
		rateLimit, retryAft string
	}{
		{204, `"per-ip";r=1;t=2`, ""},
		{204, `"per-ip";r=0;t=4`, ""},
		{429, `"per-ip";r=0;t=4`, "2"},
	}
	for i, w := range want {
		resp := get()
		if resp.StatusCode != w.status {
			t.Fatalf("request %d: status %d, want %d", i, resp.StatusCode, w.status)
		}
		if got := resp.Header.Get("RateLimit-Policy"); got != `"per-ip";q=2;w=4` {
			t.Errorf("request %d: RateLimit-Policy %q", i, got)
		}
		if got := resp.Header.Get("RateLimit"); got != w.rateLimit {
			t.Errorf("request %d: RateLimit %q, want %q", i, got, w.rateLimit)
		}
		if got := resp.Header.Get("Retry-After"); got != w.retryAft {
			t.Errorf("request %d: Retry-After %q, want %q", i, got, w.retryAft)
		}
	}
	clk.Advance(2 * time.Second)
	if resp := get(); resp.StatusCode != 204 {
		t.Fatalf("after Retry-After elapsed: status %d", resp.StatusCode)
	}
}

func TestHTTPPerHeaderKey(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1})
	key, err := ParseKey("header:x-tenant")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(limitHandler(l, key))
	defer srv.Close()
	do := func(tenant string) int {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tenant != "" {
			req.Header.Set("X-Tenant", tenant)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	got := []int{do("a"), do("a"), do("b"), do(""), do("")}
	want := []int{204, 429, 204, 204, 429} // "" falls back to the (one) client IP
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestZeroDecisionWritesNothing(t *testing.T) {
	h := http.Header{}
	Decision{}.WriteHeaders(h)
	if len(h) != 0 {
		t.Fatalf("zero Decision wrote %v", h)
	}
}

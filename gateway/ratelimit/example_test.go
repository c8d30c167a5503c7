package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
)

// The gateway keeps one Limiter per route and runs this before proxying.
func Example() {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	lim, err := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2}, clk, ratelimit.Named("per-ip"))
	if err != nil {
		panic(err)
	}
	key, err := ratelimit.ParseKey("ip")
	if err != nil {
		panic(err)
	}
	limited := func(w http.ResponseWriter, r *http.Request) {
		d := lim.Allow(key(r, "" /* identity from auth, if any */))
		if !d.Allowed {
			ratelimit.Reject(w, d) // 429 + RateLimit, RateLimit-Policy, Retry-After
			return
		}
		d.WriteHeaders(w.Header())
		fmt.Fprintln(w, "proxied")
	}
	for range 3 {
		rec := httptest.NewRecorder()
		limited(rec, httptest.NewRequest("GET", "/", nil))
		h := rec.Header()
		fmt.Printf("%d | %s | %s | Retry-After: %q\n", rec.Code, h.Get("RateLimit-Policy"), h.Get("RateLimit"), h.Get("Retry-After"))
	}
	// Output:
	// 200 | "per-ip";q=2;w=2 | "per-ip";r=1;t=1 | Retry-After: ""
	// 200 | "per-ip";q=2;w=2 | "per-ip";r=0;t=2 | Retry-After: ""
	// 429 | "per-ip";q=2;w=2 | "per-ip";r=0;t=2 | Retry-After: "1"
}

package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/cache"
)

// The cache wraps the proxy's ServeHTTP as "next".
func ExampleCache_Serve() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)

	c := cache.New(cache.Config{MaxBytes: 64 << 20}, clock.Real{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Serve(w, r, proxy.ServeHTTP)
	}))
	defer front.Close()

	for range 2 {
		res, _ := http.Get(front.URL + "/greeting")
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.Header.Get("X-Cache"), string(body))
	}
	st := c.Stats()
	fmt.Println("hits", st.Hits, "misses", st.Misses, "entries", st.Entries)
	// Output:
	// MISS hello
	// HIT hello
	// hits 1 misses 1 entries 1
}

package h1

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestGetReadsEveryFraming checks that one connection carries consecutive
// exchanges whatever the response framing, so the load programs never
// desynchronise or stall on a body.
func TestGetReadsEveryFraming(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "65536")
			fmt.Fprint(w, strings.Repeat("x", 65536))
		case "/chunked":
			w.(http.Flusher).Flush() // no length known: chunked
			fmt.Fprint(w, strings.Repeat("y", 10000))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, tc := range []struct {
		path string
		want int
	}{{"/length", 200}, {"/chunked", 200}, {"/empty", 204}, {"/missing", 404}} {
		c := New(addr, tc.path, false, "")
		for i := 0; i < 3; i++ {
			if err := c.Get(); err != nil {
				t.Fatalf("GET %s #%d: %v", tc.path, i, err)
			}
			if c.Status != tc.want {
				t.Fatalf("GET %s: status %d, want %d", tc.path, c.Status, tc.want)
			}
		}
		c.Close()
	}
	if n := conns.Load(); n != 4 {
		t.Errorf("%d connections for 4 paths x 3 keep-alive requests, want 4", n)
	}

	// Connection: close dials anew for every request.
	before := conns.Load()
	c := New(addr, "/length", true, "")
	for i := 0; i < 3; i++ {
		if err := c.Get(); err != nil {
			t.Fatalf("GET with close #%d: %v", i, err)
		}
	}
	if n := conns.Load() - before; n != 3 {
		t.Errorf("%d connections for 3 Connection: close requests, want 3", n)
	}
}

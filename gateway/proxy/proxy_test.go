package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// cancelOnWrite simulates a client that disconnects the moment its
// response body arrives.
type cancelOnWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c cancelOnWrite) Write(p []byte) (int, error) {
	n, err := c.ResponseRecorder.Write(p)
	c.cancel()
	return n, err
}

// A client leaving right after its response must not poison the pooled
// connection for the next request (found by bench/proxy.sh as rare 502s).
func TestClientLeavingDoesNotPoisonPooledConns(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer be.Close()
	u := NewUpstream(be.Listener.Addr().String(), Options{})
	defer u.Close()

	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // several connections end up in the pool
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			u.Forward(cancelOnWrite{httptest.NewRecorder(), cancel}, r, &Attempt{URI: "/"})
		}()
	}
	wg.Wait()
	for i := 0; i < 50; i++ {
		w := httptest.NewRecorder()
		res := u.Forward(w, httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/"})
		if res.Err != nil || res.Status != 200 {
			t.Fatalf("request %d after clients left: %+v", i, res)
		}
	}
}

// After a backend restarts, every connection pooled before is dead. The
// next request must still succeed (its retry dials instead of taking the
// next stale connection), and the stale rest are dropped.
func TestBackendRestartLeavesNoStaleConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Handler: ok}
	go func() { _ = srv.Serve(ln) }()
	u := NewUpstream(addr, Options{})
	defer u.Close()

	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // four keep-alive connections end up idle
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/"})
		}()
	}
	wg.Wait()
	_ = srv.Close() // the backend dies...
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not rebind %s: %v", addr, err)
	}
	srv2 := &http.Server{Handler: ok} // ...and comes back on the same port
	go func() { _ = srv2.Serve(ln2) }()
	defer srv2.Close()

	for i := 0; i < 3; i++ {
		res := u.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &Attempt{URI: "/"})
		if res.Err != nil || res.Status != 200 {
			t.Fatalf("request %d after the restart: %+v", i, res)
		}
	}
}

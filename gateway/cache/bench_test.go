package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// discard is a minimal ResponseWriter so the benchmark measures the cache,
// not httptest.ResponseRecorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchHit(b *testing.B, vary bool) {
	c := New(Config{}, clock.NewFake(t0))
	req := httptest.NewRequest("GET", "http://example.com/static/app.js?v=3", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	next := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "application/javascript")
		w.Header().Set("Etag", `"abc"`)
		if vary {
			w.Header().Set("Vary", "Accept-Encoding")
		}
		io.WriteString(w, "console.log('hello world');")
	}
	c.Serve(httptest.NewRecorder(), req, next)
	w := &discard{h: make(http.Header, 16)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		c.Serve(w, req, next)
	}
	if st := c.Stats(); st.Misses != 1 {
		b.Fatalf("stats = %+v", st)
	}
}

func BenchmarkHit(b *testing.B)     { benchHit(b, false) }
func BenchmarkHitVary(b *testing.B) { benchHit(b, true) }

// BenchmarkHitParallel spreads hits over many URIs on all cores: it is what
// the sharded locks are for.
func BenchmarkHitParallel(b *testing.B) {
	c := New(Config{}, clock.NewFake(t0))
	next := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "hello")
	}
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "http://example.com/item/"+strconv.Itoa(i), nil)
		c.Serve(httptest.NewRecorder(), reqs[i], next)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: make(http.Header, 16)}
		i := 0
		for pb.Next() {
			clear(w.h)
			c.Serve(w, reqs[i%len(reqs)], next)
			i++
		}
	})
}

package ratelimit

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// Benchmarks use the real clock: the fake one takes a mutex per Now.

func benchLimiter(b *testing.B) *Limiter {
	l, err := New(Config{Rate: 1e9, Burst: 1 << 20}, clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAllow(b *testing.B) {
	l := benchLimiter(b)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("192.0.2.1")
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := benchLimiter(b)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i&1023])
			i++
		}
	})
}

// BenchmarkAllowNewKeys measures the miss path at capacity: insert + evict.
func BenchmarkAllowNewKeys(b *testing.B) {
	l, err := New(Config{Rate: 1, Burst: 1, MaxKeys: 10_000, IdleTTL: time.Hour}, clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i&(1<<16-1)])
		i++
	}
}

// BenchmarkHop is the limiter's whole per-request cost in the gateway:
// key, Allow and the response headers.
func BenchmarkHop(b *testing.B) {
	l := benchLimiter(b)
	key, _ := ParseKey("ip")
	r := &http.Request{RemoteAddr: "192.0.2.1:4321", Header: http.Header{}}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(key(r, "")).WriteHeaders(h)
	}
}

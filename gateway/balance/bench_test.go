package balance

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// benchKeys are the Request.Hash values the benchmarks cycle through.
var benchKeys = func() (k [1024]uint64) {
	for i := range k {
		k[i] = hashBytes(fmt.Sprint("user-", i))
	}
	return k
}()

// benchPool is 1,000 backends with weights 1..4 and, for the latency
// strategy, a spread of observed latencies.
func benchPool() []*upstream.Backend {
	bs := make([]*upstream.Backend, 1000)
	for i := range bs {
		bs[i] = upstream.New(upstream.Spec{ID: fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250), Weight: 1 + i%4})
		bs[i].ObserveLatency(t0, time.Duration(1+i%7)*time.Millisecond)
	}
	return bs
}

// pickOnce is the work BenchmarkPick measures: the i-th key's pick and the
// Acquire and Release around the request.
func pickOnce(bal Balancer, r *Request, i int) {
	r.Hash = benchKeys[i&1023]
	be := bal.Pick(r)
	be.Acquire()
	be.Release()
}

// BenchmarkPick measures one pick plus the Acquire and Release the proxy
// does around every request, for every strategy, so the index maintenance
// of least_connections (and the total of bounded consistent_hash) is paid
// in the figure like it is in production.
func BenchmarkPick(b *testing.B) {
	type variant struct {
		name, strategy string
		opts           Options
	}
	var variants []variant
	for _, s := range Strategies() {
		variants = append(variants, variant{s, s, Options{}})
	}
	variants = append(variants, variant{"consistent_hash_bounded", "consistent_hash", Options{BoundedLoad: 1.25}})
	for _, v := range variants {
		bal := mustNew(b, v.strategy, v.opts, benchPool())
		b.Run(v.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			r := Request{Now: t0}
			for i := 0; b.Loop(); i++ {
				pickOnce(bal, &r, i)
			}
		})
		b.Run(v.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := Request{Now: t0}
				for i := 0; pb.Next(); i++ {
					pickOnce(bal, &r, i)
				}
			})
		})
	}
}

// BenchmarkAcquireRelease is the floor under every BenchmarkPick figure:
// the Acquire and Release alone, with no tracker installed.
func BenchmarkAcquireRelease(b *testing.B) {
	bs := benchPool()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for i := 0; b.Loop(); i++ {
		be := bs[i%len(bs)]
		be.Acquire()
		be.Release()
	}
}

// cpuPerOp reports the benchmark's thread CPU time per op ("cpu-ns/op")
// next to the wall-clock ns/op, which other processes on a shared machine
// inflate. Use as defer cpuPerOp(b)() in serial benchmarks.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		end, _ := threadCPU()
		runtime.UnlockOSThread()
		if ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkKeyFunc(b *testing.B) {
	r, _ := http.NewRequest("GET", "http://example.com/api/v1/items?page=2&user=alice%40example.com", nil)
	r.Header.Set("X-User", "alice@example.com")
	r.Header.Set("Cookie", "theme=dark; _ga=GA1.2.123456789.1700000000; session=4f0c2a9e8b7d6c5a4f3e2d1c0b9a8f7e; lang=en")
	r.RemoteAddr = "203.0.113.7:54321"
	for _, spec := range []string{"header:X-User", "cookie:session", "query:user", "path", "ip"} {
		key, err := ParseKey(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				key(r)
			}
		})
	}
}

func BenchmarkStickyPin(b *testing.B) {
	s, members, lookup := stickyFixture(b)
	r := request("/")
	r.AddCookie(s.Cookie(members[1], time.Unix(0, t0)))
	b.ReportAllocs()
	for b.Loop() {
		if s.Pin(r, lookup) == nil {
			b.Fatal("no pin")
		}
	}
}

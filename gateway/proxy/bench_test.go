package proxy

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the proxy's side of a hop.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// startFixedBackend answers every bodyless request with one fixed response
// and allocates nothing per request, so allocations counted are the proxy's.
func startFixedBackend(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello")
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						if _, err := nc.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkForwardKeepAlive is one GET through Forward on a pooled
// keep-alive connection to a loopback backend: the reuse path that the
// connection checks sit on.
func BenchmarkForwardKeepAlive(b *testing.B) {
	u := NewUpstream(startFixedBackend(b), Options{})
	defer u.Close()
	r := httptest.NewRequest("GET", "/bench", nil)
	w := &discardWriter{h: http.Header{}}
	a := &Attempt{URI: "/bench"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		if res := u.Forward(w, r, a); res.Err != nil || res.Status != 200 {
			b.Fatalf("%+v", res)
		}
	}
}

// BenchmarkPoolGetPut takes an idle connection from the pool and puts it
// back, without I/O: the cost of the pool's own checks on reuse.
func BenchmarkPoolGetPut(b *testing.B) {
	p := newConnPool(startFixedBackend(b), time.Second, 4, 0)
	defer p.closeIdle(true)
	ctx := context.Background()
	c, err := p.get(ctx, time.Now(), true)
	if err != nil {
		b.Fatal(err)
	}
	p.put(c, time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		c, err := p.get(ctx, now, false)
		if err != nil || !c.reused {
			b.Fatalf("not reused: %v", err)
		}
		p.put(c, now)
	}
}

// BenchmarkForwardTraced is BenchmarkForwardKeepAlive under a recording
// span: what a try span and its traceparent cost when tracing is on (the
// spans go to no exporter, so export is not counted).
func BenchmarkForwardTraced(b *testing.B) {
	u := NewUpstream(startFixedBackend(b), Options{})
	defer u.Close()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	ctx, span := tp.Tracer("bench").Start(context.Background(), "request")
	defer span.End()
	r := httptest.NewRequest("GET", "/bench", nil).WithContext(ctx)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		a := Attempt{URI: "/bench"}
		if res := u.Forward(w, r, &a); res.Err != nil || res.Status != 200 {
			b.Fatalf("%+v", res)
		}
	}
}

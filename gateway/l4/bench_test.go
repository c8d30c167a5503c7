package l4

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// sink reads to EOF, then reports the byte count as 8 bytes and closes.
func sink(_ *testBackend, c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	binary.Write(c, binary.BigEndian, n)
}

// BenchmarkThroughput pushes b.N chunks of 64 KiB through one proxied
// connection into a backend that discards them, and reports MB/s. splice
// is the default path (no IdleTimeout); buffered is the user-space copy
// that IdleTimeout needs.
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range copyModes {
		b.Run(mode.name, func(b *testing.B) {
			be := startBackend(b, "sink", sink)
			cfg := config(specs(be)...)
			cfg.IdleTimeout = mode.idle
			p := startProxy(b, cfg, nil)
			cl := dial(b, p.addr)
			chunk := make([]byte, 64<<10)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := cl.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			cl.Conn.(*net.TCPConn).CloseWrite()
			var got int64
			cl.SetReadDeadline(time.Now().Add(time.Minute))
			if err := binary.Read(cl, binary.BigEndian, &got); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			b.StopTimer()
			if want := int64(b.N) * int64(len(chunk)); got != want {
				b.Fatalf("backend got %d bytes, want %d", got, want)
			}
			b.ReportMetric(float64(got)/1e6/el.Seconds(), "MB/s")
		})
	}
}

// BenchmarkConnSetup measures whole short connections through the proxy:
// accept, pick, connect, one byte each way, close; reported as conns/s.
func BenchmarkConnSetup(b *testing.B) {
	be := startBackend(b, "one", func(_ *testBackend, c net.Conn) {
		var buf [1]byte
		if _, err := io.ReadFull(c, buf[:]); err == nil {
			c.Write(buf[:])
		}
	})
	p := startProxy(b, config(specs(be)...), nil)
	b.Run("proxied", func(b *testing.B) { benchConns(b, p.addr) })
	// The same loop straight to the backend, for the proxy's overhead.
	b.Run("direct", func(b *testing.B) { benchConns(b, be.Addr()) })
}

func benchConns(b *testing.B, addr string) {
	start := time.Now()
	for range b.N {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		var buf [1]byte
		c.Write([]byte{'x'})
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.ReadFull(c, buf[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "conns/s")
}

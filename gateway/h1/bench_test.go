package h1

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkServerGET is the engine alone: a GET with 8 header fields
// answered with a 256-byte body over one keep-alive connection. It must
// not allocate (the gateway's handler is measured in package gateway,
// BenchmarkH1ProxyGET).
func BenchmarkServerGET(b *testing.B) {
	body := []byte(strings.Repeat("b", 256))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = contentType
		w.Write(body)
	})
	b.Run("h1", func(b *testing.B) {
		s := &Server{MaxHeaderBytes: 64 << 10, MaxHeaders: 100, Handler: h}
		benchGET(b, s.Serve, s.Close)
	})
	b.Run("nethttp", func(b *testing.B) {
		s := &http.Server{Handler: h}
		benchGET(b, s.Serve, s.Close)
	})
}

func benchGET(b *testing.B, serve func(net.Listener) error, stop func() error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = serve(ln) }()
	b.Cleanup(func() { _ = stop() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /bench/item?id=42 HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: application/json\r\nAccept-Encoding: identity\r\nAccept-Language: en\r\n" +
		"Cache-Control: no-cache\r\nX-Request-Id: 0123456789abcdef\r\nCookie: session=abc\r\n\r\n")
	br := bufio.NewReader(c)
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		// The head, then the 256 bytes of body.
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
		}
		if _, err := br.Discard(256); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 {
		exchange()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		exchange()
	}
}

var contentType = []string{"text/plain"}

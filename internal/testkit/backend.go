package testkit

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/drawbridge-dev/drawbridge/demobackend"
)

// HTTPBackend is a real HTTP server on a loopback port that counts its
// requests and can be killed and restarted on the same address.
type HTTPBackend struct {
	ID      string
	Handler http.Handler
	Demo    *demobackend.Handler // set by StartDemo
	hits    atomic.Int64

	mu   sync.Mutex
	addr string
	srv  *httptest.Server
}

// StartHTTP serves h on a loopback port until the test ends.
func StartHTTP(t testing.TB, h http.Handler) *HTTPBackend {
	t.Helper()
	b := &HTTPBackend{Handler: h}
	b.listen(t, "127.0.0.1:0")
	t.Cleanup(b.Kill)
	return b
}

// StartDemo starts n demo backends named b0..bn-1, as `drawbridge
// backend` serves.
func StartDemo(t testing.TB, n int) []*HTTPBackend {
	t.Helper()
	out := make([]*HTTPBackend, n)
	for i := range out {
		id := "b" + strconv.Itoa(i)
		d := demobackend.NewHandler(demobackend.Config{ID: id})
		out[i] = StartHTTP(t, d)
		out[i].ID, out[i].Demo = id, d
	}
	return out
}

// listenOn listens on addr; a fixed address (a restart) is waited for,
// since a connection the kill just closed may still hold it briefly.
func listenOn(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	if addr == "127.0.0.1:0" {
		ln, err = net.Listen("tcp", addr)
	} else {
		Until(Patience, func() bool { ln, err = net.Listen("tcp", addr); return err == nil })
	}
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func (b *HTTPBackend) listen(t testing.TB, addr string) {
	t.Helper()
	ln := listenOn(t, addr)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.Handler.ServeHTTP(w, r)
	})}}
	srv.Start()
	b.mu.Lock()
	b.addr, b.srv = ln.Addr().String(), srv
	b.mu.Unlock()
}

// Addr is host:port, stable across Restart.
func (b *HTTPBackend) Addr() string { b.mu.Lock(); defer b.mu.Unlock(); return b.addr }

// URL is http://Addr.
func (b *HTTPBackend) URL() string { return "http://" + b.Addr() }

// Hits counts the requests served, across restarts.
func (b *HTTPBackend) Hits() int64 { return b.hits.Load() }

// Kill closes the listener and every connection, requests in flight
// included (as a crash does), and waits for the handlers, so later dials
// are refused. It is idempotent.
func (b *HTTPBackend) Kill() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Config.Close() // httptest's Close alone lets active requests finish
		srv.Close()
	}
}

// Restart kills the backend if it runs and listens again on its address.
func (b *HTTPBackend) Restart(t testing.TB) {
	t.Helper()
	b.Kill()
	b.listen(t, b.Addr())
}

// TCPBackend is a loopback TCP server whose handler the test chooses. It
// counts accepted connections and can be killed and restarted on the
// same address.
type TCPBackend struct {
	Name     string
	handler  func(b *TCPBackend, c net.Conn)
	accepted atomic.Int64

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartTCP serves handler on a loopback port until the test ends; the
// connection is closed when handler returns.
func StartTCP(t testing.TB, name string, handler func(b *TCPBackend, c net.Conn)) *TCPBackend {
	t.Helper()
	b := &TCPBackend{Name: name, handler: handler, conns: make(map[net.Conn]struct{})}
	b.listen(t, "127.0.0.1:0")
	t.Cleanup(b.Kill)
	return b
}

// Addr is host:port, stable across Restart.
func (b *TCPBackend) Addr() string { b.mu.Lock(); defer b.mu.Unlock(); return b.addr }

// Accepted counts the connections accepted, across restarts.
func (b *TCPBackend) Accepted() int64 { return b.accepted.Load() }

func (b *TCPBackend) listen(t testing.TB, addr string) {
	t.Helper()
	ln := listenOn(t, addr)
	b.mu.Lock()
	b.ln, b.addr = ln, ln.Addr().String()
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer func() {
					b.mu.Lock()
					delete(b.conns, c)
					b.mu.Unlock()
					c.Close()
				}()
				b.handler(b, c)
			}()
		}
	}()
}

// Kill closes the listener and every connection and waits for the
// handlers. It is idempotent.
func (b *TCPBackend) Kill() {
	b.mu.Lock()
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// Restart kills the backend if it runs and listens again on its address.
func (b *TCPBackend) Restart(t testing.TB) {
	t.Helper()
	b.Kill()
	b.listen(t, b.Addr())
}

// DeadAddr returns a loopback address nobody listens on.
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

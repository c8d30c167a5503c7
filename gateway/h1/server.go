package h1

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.1 on plain connections with Handler.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration // from a request's first byte to the end of its head; 0 = none
	IdleTimeout       time.Duration // between requests; 0 = none
	MaxHeaderBytes    int           // request line and fields; larger heads get 431
	MaxHeaders        int           // header fields; more get 431; 0 = no limit
	// H2C, when set, takes a connection that opened with the HTTP/2
	// preface (prior knowledge): the bytes read so far are replayed.
	H2C func(net.Conn)
	// BaseContext is the parent of every request's context; nil is
	// context.Background.
	BaseContext func(net.Listener) context.Context
	ErrorLog    *log.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  atomic.Bool
	done      chan struct{} // closed when the last conn leaves during shutdown
}

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// readBufSize is the buffer a request head is read into; a head that
// does not fit moves to one of MaxHeaderBytes.
const readBufSize = 4 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// bigBufs holds buffers for heads beyond readBufSize, by size.
var bigBufs sync.Map // int -> *sync.Pool

func bigPool(size int) *sync.Pool {
	if p, ok := bigBufs.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := bigBufs.LoadOrStore(size, &sync.Pool{New: func() any { b := make([]byte, size); return &b }})
	return p.(*sync.Pool)
}

// Serve accepts connections on ln and serves each on its own goroutine
// until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners, s.conns = map[net.Listener]struct{}{}, map[*conn]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	base := context.Background()
	if s.BaseContext != nil {
		base = s.BaseContext(ln)
	}
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("h1: accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc, base)
		if c == nil {
			_ = nc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *Server) newConn(nc net.Conn, base context.Context) *conn {
	c := &conn{srv: s, nc: nc}
	c.in.src = nc
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
			c.readFn = c.readIdle
		}
	}
	// Not cancellable: with no background read nothing would cancel it
	// while a handler runs, and a cancelCtx per connection costs memory.
	c.ctx = context.WithValue(base, http.LocalAddrContextKey, nc.LocalAddr())
	c.serveFn = c.serve
	c.st.first = true
	c.remote = nc.RemoteAddr().String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.shutdown.Load() && len(s.conns) == 0 && s.done != nil {
		close(s.done)
		s.done = nil
	}
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections, and waits for
// in-flight requests (their connections close after the response) until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	done := s.stop(false)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.stop(true)
	return nil
}

func (s *Server) stop(all bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown.Store(true)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	clear(s.listeners)
	done := make(chan struct{})
	if len(s.conns) == 0 {
		close(done)
	} else {
		s.done = done
	}
	for c := range s.conns {
		if all || c.idle.Load() {
			_ = c.nc.Close()
		}
	}
	return done
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// conn is one client connection and its goroutine. Between requests it
// holds no buffer: in.buf is nil and the goroutine waits for readability
// on the poller.
type conn struct {
	srv     *Server
	nc      net.Conn
	raw     syscall.RawConn
	readFn  func(fd uintptr) bool // c.readIdle, bound once
	ready   bool                  // readIdle read bytes (not EOF or an error)
	in      reader
	bufp    *[]byte    // the pooled buffer in.buf is
	big     *sync.Pool // where bufp came from, when it is not smallBufs
	ctx     context.Context
	serveFn func() // c.serve, bound once: starting it allocates nothing
	remote  string
	idle    atomic.Bool
	// The request in flight, for body reads (100-continue).
	ex *exchange
	// ClientGone's probe: its callback, result and byte to peek into.
	probeFn func(fd uintptr)
	gone    bool
	peekBuf [1]byte
	st      struct{ first, hijacked bool }
}

// serve waits for a request and serves requests while the client
// pipelines them. Once nothing is pipelined it goes idle on a fresh
// goroutine and this one exits: a goroutine that served a request
// through the gateway's pipeline keeps a grown stack, which the collector
// cannot shrink below 4 KiB while it is parked (it shrinks a stack only
// when the frames in use plus an 800-byte guard are under a quarter of
// it), and a fresh one starts at the minimum, 2 KiB. Only one goroutine serves a
// connection at any time; a request is never handed between goroutines.
func (c *conn) serve() {
	if !c.idleWait() {
		c.end()
		return
	}
	for c.cycle() {
		if c.in.r != c.in.w {
			continue // pipelined
		}
		switch c.hotWait() {
		case nextArrived:
			continue
		case connGone:
			c.end()
			return
		}
		go c.serveFn()
		return
	}
	c.end()
}

// hotIdle is how long a connection waits for its next request on the
// goroutine that served the last one. A busy keep-alive client sends it
// well within that, and serving it on this goroutine reuses the stack the
// pipeline grew (a fresh goroutine would grow it again, copy by copy: 7%
// of the CPU under load). A connection idle for longer moves to a fresh
// goroutine whose stack stays minimal while it waits (idleWait).
const hotIdle = 20 * time.Millisecond

type hotResult int

const (
	nextArrived hotResult = iota // the next request's bytes are in
	goIdle                       // quiet for hotIdle: wait on a fresh goroutine
	connGone                     // EOF, an error, or closed by Shutdown
)

// hotWait waits up to hotIdle for the next request on this goroutine. It
// counts as idle meanwhile, so that Shutdown closes it at once.
func (c *conn) hotWait() hotResult {
	if c.raw == nil || c.srv.shutdown.Load() {
		return goIdle // idleWait decides
	}
	wait := hotIdle
	if t := c.srv.IdleTimeout; t > 0 && t < wait {
		wait = t
	}
	c.idle.Store(true)
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	c.ready = false
	err := c.raw.Read(c.readFn)
	switch {
	case err == nil && c.ready:
		c.idle.Store(false)
		return nextArrived
	case err != nil && isTimeout(err) && !c.srv.shutdown.Load():
		return goIdle
	}
	return connGone
}

// end closes the connection, unless a handler took it.
func (c *conn) end() {
	c.srv.forget(c)
	if !c.st.hijacked {
		c.release()
		_ = c.nc.Close()
	}
}

// idleWait waits, without a buffer, for the next request's bytes unless
// some are pipelined already. The frames below it while parked are small
// (serve's and this one's), so the collector can shrink an idle
// connection's stack back to its minimum.
//
//go:noinline
func (c *conn) idleWait() bool {
	c.release()
	c.idle.Store(true)
	if c.srv.shutdown.Load() {
		return false
	}
	timeout := c.srv.IdleTimeout
	if c.st.first {
		timeout = c.srv.ReadHeaderTimeout
	}
	if !c.waitReadable(timeout) {
		return false
	}
	c.idle.Store(false)
	return true
}

// cycle serves one request; false: the connection is done (or hijacked).
//
//go:noinline
func (c *conn) cycle() bool {
	c.st.first = false
	if c.srv.ReadHeaderTimeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	ex := exchanges.Get().(*exchange)
	keep, hj := c.serveOne(ex)
	if hj {
		c.st.hijacked = true
		return false
	}
	ex.reset()
	exchanges.Put(ex)
	return keep && !c.srv.shutdown.Load()
}

// waitReadable parks the goroutine on the poller until the connection
// has bytes (or EOF, or an error) to read, with no buffer taken.
func (c *conn) waitReadable(timeout time.Duration) bool {
	if timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	if c.raw == nil {
		return true // the read that follows waits instead
	}
	c.ready = false
	if err := c.raw.Read(c.readFn); err != nil {
		return false // deadline, or closed by Shutdown
	}
	return c.ready
}

// take gets the read buffer for a request.
func (c *conn) take() {
	if c.in.buf == nil {
		c.bufp = smallBufs.Get().(*[]byte)
		c.in.buf, c.in.r, c.in.w = *c.bufp, 0, 0
	}
}

// release returns the read buffer (nothing unread is in it).
func (c *conn) release() {
	if c.in.buf == nil {
		return
	}
	c.in.buf, c.in.r, c.in.w = nil, 0, 0
	if c.big != nil {
		c.big.Put(c.bufp)
		c.big = nil
	} else {
		smallBufs.Put(c.bufp)
	}
	c.bufp = nil
}

// grow moves the unread bytes into a buffer of MaxHeaderBytes.
func (c *conn) grow() bool {
	size := c.srv.MaxHeaderBytes
	if size <= len(c.in.buf) || c.big != nil {
		return false
	}
	p := bigPool(size)
	nb := p.Get().(*[]byte)
	n := copy(*nb, c.in.buf[c.in.r:c.in.w])
	smallBufs.Put(c.bufp)
	c.bufp, c.big = nb, p
	c.in.buf, c.in.r, c.in.w = *nb, 0, n
	return true
}

// h2cPreface opens an HTTP/2 connection with prior knowledge.
const h2cPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// readHead reads until the buffer holds a whole request head and returns
// its length; 0 with a nil error means the connection ended cleanly
// before a request began, or was handed to HTTP/2.
func (c *conn) readHead() (int, *Error, error) {
	c.take()
	scanned := 0
	for {
		in := &c.in
		if m := min(in.w-in.r, len(h2cPreface)); c.srv.H2C != nil && m > 0 && string(in.buf[in.r:in.r+m]) == h2cPreface[:m] {
			// (Part of) the HTTP/2 preface, which looks like a head of its own.
			if m == len(h2cPreface) {
				return 0, nil, errH2C
			}
			if err := in.fill(); err != nil {
				return 0, nil, err
			}
			continue
		}
		if n, perr := headEnd(in.buf[in.r:in.w], &scanned); perr != nil {
			return 0, perr, nil
		} else if n > 0 {
			if n > c.srv.MaxHeaderBytes {
				return 0, errHeadTooLarge, nil
			}
			return n, nil, nil
		}
		if in.w-in.r >= c.srv.MaxHeaderBytes {
			return 0, errHeadTooLarge, nil
		}
		if in.w == len(in.buf) && in.r == 0 && !c.grow() {
			return 0, errHeadTooLarge, nil
		}
		if err := in.fill(); err != nil {
			return 0, nil, err
		}
	}
}

var errH2C = errors.New("h1: HTTP/2 preface")

// serveOne reads and serves one request. keep: the connection may carry
// another; hijacked: the handler took it.
func (c *conn) serveOne(ex *exchange) (keep, hijacked bool) {
	n, perr, err := c.readHead()
	if err == errH2C {
		c.handOverH2C()
		return false, true
	}
	if err != nil {
		if c.in.w > c.in.r && !isTimeout(err) && err != io.EOF {
			c.refuse(&Error{http.StatusBadRequest, "malformed request\n"})
		}
		return false, false
	}
	head := c.in.buf[c.in.r : c.in.r+n]
	q := &ex.q
	if perr == nil {
		perr = q.parse(head, c.srv.maxHeaders())
	}
	if perr != nil {
		c.refuse(perr)
		return false, false
	}
	c.in.r += n
	_ = c.nc.SetReadDeadline(time.Time{})
	if q.Method == http.MethodOptions && q.RequestURI == "*" {
		// As net/http's server: the server itself answers for "*".
		_, err := c.nc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		return err == nil && !q.Close && !q.hasCL && !q.chunk, false
	}
	return c.run(ex)
}

func (s *Server) maxHeaders() int {
	if s.MaxHeaders <= 0 {
		return int(^uint(0) >> 1)
	}
	return s.MaxHeaders
}

// handOverH2C gives the connection, with the preface read so far, to
// the HTTP/2 server.
func (c *conn) handOverH2C() {
	pre := make([]byte, c.in.w-c.in.r)
	copy(pre, c.in.buf[c.in.r:c.in.w])
	c.release()
	c.srv.forget(c)
	go c.srv.H2C(&prefixConn{Conn: c.nc, pre: pre})
}

// prefixConn replays bytes read before the connection changed hands.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// run serves a parsed request with the handler.
func (c *conn) run(ex *exchange) (keep, hijacked bool) {
	q := &ex.q
	r := &q.Request
	r.RemoteAddr = c.remote
	// WithContext's copy does not escape: the pooled request takes the
	// connection's context without an allocation.
	*r = *r.WithContext(c.ctx)
	var b *body
	switch {
	case q.chunk:
		b = &body{c: c, chunked: true}
	case q.Request.ContentLength > 0:
		b = &body{c: c, remain: q.Request.ContentLength}
	default:
		q.Request.Body = http.NoBody
	}
	if b != nil {
		q.Request.Body = b
	}
	w := &ex.w
	w.start(c, ex)
	c.ex = ex
	defer func() { c.ex = nil }()
	aborted := c.call(w, &q.Request)
	if b != nil {
		b.closed.Store(true) // a late Read must not reach the next request
	}
	if w.hijacked {
		return false, true
	}
	if aborted {
		return false, false
	}
	if b != nil && !b.complete() {
		w.closeAfter = true // the next bytes may be this body's
	}
	if err := w.finish(); err != nil {
		return false, false
	}
	return !w.closeAfter, false
}

// call runs the handler; aborted: it panicked (http.ErrAbortHandler
// quietly), and the connection must close without a clean response.
func (c *conn) call(w *response, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			aborted = true
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logf("h1: panic serving %s: %v\n%s", c.remote, v, buf)
			}
		}
	}()
	c.srv.Handler.ServeHTTP(w, r)
	return false
}

// refuse answers a request the parser refused, and the connection closes.
func (c *conn) refuse(e *Error) {
	var b [256]byte
	out := append(b[:0], "HTTP/1.1 "...)
	out = appendStatus(out, e.Status)
	out = append(out, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	out = appendInt(out, int64(len(e.Msg)))
	out = append(out, "\r\n\r\n"...)
	out = append(out, e.Msg...)
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.nc.Write(out)
}

// continue100 sends "100 Continue" before the first body read of a
// request that expects it, unless the response has begun.
func (c *conn) continue100() {
	ex := c.ex
	if ex == nil || !ex.q.expect || ex.w.wroteHead || ex.w.sent100 {
		return
	}
	ex.w.sent100 = true
	_, _ = c.nc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exchange is a request and its response writer, pooled together.
type exchange struct {
	q request
	w response
}

var exchanges = sync.Pool{New: func() any {
	ex := &exchange{}
	ex.q.hdr = make(http.Header, 16)
	ex.q.Request.Header = ex.q.hdr
	ex.w.hdr = make(http.Header, 16)
	return ex
}}

// reset clears ex for the next request, keeping its maps' buckets and
// the line cache.
func (ex *exchange) reset() {
	q := &ex.q
	clear(q.hdr)
	q.Request = http.Request{Header: q.hdr}
	q.url = url0
	clear(q.vals)
	q.vals = q.vals[:0]
	q.chunk, q.expect, q.hasCL, q.nHost = false, false, false, 0
	ex.w.reset()
}

var url0 url.URL

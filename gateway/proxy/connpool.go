package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// conn is one keep-alive connection to a backend. The handler goroutine that
// holds it does all I/O itself: no read/write loop goroutines, no channel
// handoffs (the main cost of net/http.Transport on a one-core proxy).
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	reused   bool

	// For the idle check (idleReadable): the socket's descriptor (-1: no
	// check on this platform or transport) and a byte to peek into.
	fd      int
	peekBuf [1]byte

	abort  func()     // aborts the exchange in flight; made once, see abortFunc
	values valueCache // the previous response's header values
}

// abortFunc returns the hook that aborts c's exchange when the client's
// context ends: a deadline in the past fails the pending read or write.
// Kept on c, it is made once per connection rather than once per request.
func (c *conn) abortFunc() func() {
	if c.abort == nil {
		c.abort = func() { _ = c.nc.SetDeadline(aLongTimeAgo) }
	}
	return c.abort
}

// connPool keeps idle connections to one backend address, most recently used
// first, so the warmest connections are reused and surplus ones age out.
type connPool struct {
	addr    string
	dialer  *net.Dialer
	maxIdle int
	idleTTL time.Duration
	tls     *tls.Config // nil: plain TCP

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

func newConnPool(addr string, connectTimeout time.Duration, maxIdle int, idleTTL time.Duration) *connPool {
	return &connPool{
		addr:    addr,
		dialer:  &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second},
		maxIdle: maxIdle,
		idleTTL: idleTTL,
	}
}

// get returns an idle connection if one is fresh enough and quiet, else
// dials; with fresh it always dials. An idle connection that has become
// readable is closed, never handed out: whatever the backend sent while no
// request was outstanding (a response to nothing, a FIN, a RST) would
// otherwise be read as the answer to the next request.
func (p *connPool) get(ctx context.Context, now time.Time, fresh bool) (*conn, error) {
	p.mu.Lock()
	for n := len(p.idle); n > 0 && !fresh; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if p.idleTTL > 0 && now.Sub(c.lastUsed) > p.idleTTL {
			p.mu.Unlock()
			c.close()
			p.mu.Lock()
			continue
		}
		p.mu.Unlock()
		if c.idleReadable() {
			c.close()
			p.mu.Lock()
			continue
		}
		c.reused = true
		return c, nil
	}
	p.mu.Unlock()
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	raw := nc
	if p.tls != nil {
		if nc, err = p.handshake(ctx, nc); err != nil {
			return nil, err
		}
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(nc)
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(nc)
	c := &conn{nc: nc, br: br, bw: bw}
	// Over TLS the TCP socket is peeked: any record arriving on an idle
	// connection (close_notify, an alert) means it is not to be reused.
	c.initIdleCheck(raw)
	return c, nil
}

// put returns a healthy connection for reuse, or closes it when the pool is
// full or closed. The caller has checked that the response ended where its
// framing said; a byte still buffered means the backend sent more than
// that, and the connection is closed rather than trusted.
func (p *connPool) put(c *conn, now time.Time) {
	if c.br.Buffered() != 0 {
		c.close()
		return
	}
	c.lastUsed = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// closeIdle closes every idle connection; with final it also refuses
// further puts (the backend left the pool).
func (p *connPool) closeIdle(final bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if final {
		p.closed = true
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

func (c *conn) close() {
	_ = c.nc.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
}

// handshake runs the TLS client handshake on nc, bounded like the dial by
// the connect timeout; a refused certificate fails it (ErrConnect upstream).
func (p *connPool) handshake(ctx context.Context, nc net.Conn) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.dialer.Timeout)
	defer cancel()
	tc := tls.Client(nc, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("tls to %s: %w", p.addr, err)
	}
	return tc, nil
}

package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"net"
	"net/http"
	"sync"
)

// Go's HTTP/1 server accepts a request carrying both Content-Length and
// Transfer-Encoding (it drops Content-Length, as RFC 9112 allows an
// intermediary to) and folds obs-fold continuation lines into the value.
// A front door should refuse both outright: they are the raw material of
// request smuggling. Neither leaves a trace once the request is parsed, so
// framingGuard watches the bytes of each client connection as the server
// reads them. It follows HTTP/1 message boundaries (skipping bodies by the
// same rules the server applies) and queues one verdict per request head;
// the handler takes them in order, since HTTP/1 serves a connection's
// requests one after another.

// maxScanHead bounds how much of a head the guard buffers; a longer head
// is refused by the server itself (431) and stops the guard.
const maxScanHead = 64 << 10

type verdict struct {
	ambiguous bool // Content-Length and Transfer-Encoding together
	obsFold   bool
}

type guardState int

const (
	gHead guardState = iota
	gFixed
	gChunkSize
	gChunkData
	gChunkCRLF
	gTrailers
	gOff // lost or not HTTP/1 (h2c preface, upgraded connection)
)

type guardConn struct {
	net.Conn

	mu       sync.Mutex
	state    guardState
	line     []byte // the current line of a head or chunk-size line
	first    bool   // next head line is the request line
	remain   int64  // bytes left of a fixed body or chunk
	head     verdict
	hasCL    bool
	hasTE    bool
	chunked  bool
	clen     int64
	upgrade  bool
	headSize int
	verdicts []verdict
}

type guardKey struct{}

// guardListener wraps accepted connections in a guardConn.
type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(c), nil
}

func newGuardConn(c net.Conn) *guardConn { return &guardConn{Conn: c, first: true} }

// guardContext stores the connection's guard for its requests
// (http.Server.ConnContext).
func guardContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardConn); ok {
		ctx = context.WithValue(ctx, guardKey{}, g)
		if tc, ok := g.Conn.(*tls.Conn); ok {
			// net/http sets r.TLS only for a *tls.Conn it terminated
			// itself; the handler restores it from here.
			ctx = context.WithValue(ctx, tlsConnKey{}, tc)
		}
	}
	return ctx
}

type tlsConnKey struct{}

// restoreTLS fills r.TLS for HTTPS connections the gateway terminated.
func restoreTLS(r *http.Request) {
	if r.TLS != nil {
		return
	}
	if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
}

// takeVerdict returns the verdict for the request being served on the
// connection of ctx. ok is false when there is no guard or it stopped
// following the connection (then net/http's own checks stand alone).
func takeVerdict(ctx context.Context) (v verdict, ok bool) {
	g, _ := ctx.Value(guardKey{}).(*guardConn)
	if g == nil {
		return v, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.verdicts) == 0 {
		return v, false
	}
	v = g.verdicts[0]
	g.verdicts = g.verdicts[1:]
	return v, true
}

func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.mu.Lock()
		g.scan(p[:n])
		g.mu.Unlock()
	}
	return n, err
}

func (g *guardConn) scan(b []byte) {
	for len(b) > 0 && g.state != gOff {
		switch g.state {
		case gFixed, gChunkData:
			k := int64(len(b))
			if k > g.remain {
				k = g.remain
			}
			b = b[k:]
			g.remain -= k
			if g.remain == 0 {
				if g.state == gFixed {
					g.state = gHead
				} else {
					g.state = gChunkCRLF
				}
			}
		default: // line-oriented states
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				g.appendLine(b)
				return
			}
			g.appendLine(b[:i+1])
			b = b[i+1:]
			line := trimCRLF(g.line)
			g.line = g.line[:0]
			g.onLine(line)
		}
	}
}

func (g *guardConn) appendLine(b []byte) {
	if len(g.line)+len(b) > maxScanHead {
		g.state = gOff // the server refuses such a head itself
		return
	}
	g.line = append(g.line, b...)
}

func trimCRLF(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func (g *guardConn) onLine(line []byte) {
	switch g.state {
	case gHead:
		g.headLine(line)
	case gChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, ok := proxy.ParseChunkSize(bytes.TrimSpace(line))
		switch {
		case !ok:
			g.state = gOff // the server fails the body and closes
		case n == 0:
			g.state = gTrailers
		default:
			g.remain, g.state = n, gChunkData
		}
	case gChunkCRLF:
		if len(line) != 0 {
			g.state = gOff
			return
		}
		g.state = gChunkSize
	case gTrailers:
		if len(line) == 0 {
			g.state = gHead
		}
	}
}

func (g *guardConn) headLine(line []byte) {
	if g.first {
		if len(line) == 0 {
			return // RFC 9112 §2.2: ignore empty lines before a request line
		}
		if bytes.HasPrefix(line, []byte("PRI * HTTP/2.0")) {
			g.state = gOff // h2c with prior knowledge: framing is HTTP/2's
			return
		}
		g.first = false
		g.head, g.hasCL, g.hasTE, g.chunked, g.clen, g.upgrade, g.headSize = verdict{}, false, false, false, 0, false, 0
		return
	}
	g.headSize += len(line)
	if len(line) == 0 {
		g.endHead()
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		g.head.obsFold = true
		return
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return // the server rejects it
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		g.hasCL = true
		if n, ok := parseDecimal(value); ok {
			g.clen = n
		}
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		g.hasTE = true
		toks := bytes.Split(value, []byte(","))
		g.chunked = bytes.EqualFold(bytes.TrimSpace(toks[len(toks)-1]), []byte("chunked"))
	case bytes.EqualFold(name, []byte("Upgrade")):
		g.upgrade = true
	}
}

func (g *guardConn) endHead() {
	g.head.ambiguous = g.hasCL && g.hasTE
	g.verdicts = append(g.verdicts, g.head)
	g.first = true
	switch {
	case g.upgrade:
		// Once upgraded the connection carries another protocol; the
		// handler closes connections whose upgrade did not happen.
		g.state = gOff
	case g.hasTE && g.chunked:
		g.state = gChunkSize
	case g.hasTE:
		g.state = gOff // not chunked: the server refuses it
	case g.hasCL && g.clen > 0:
		g.remain, g.state = g.clen, gFixed
	default:
		g.state = gHead
	}
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

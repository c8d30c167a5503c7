package hygiene

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Go's HTTP/1 server accepts a request carrying both Content-Length and
// Transfer-Encoding (it drops Content-Length, as RFC 9112 allows an
// intermediary to), folds obs-fold continuation lines into the value, and
// ignores Transfer-Encoding in an HTTP/1.0 request. A front door should
// refuse all three: they are the raw material of request smuggling. None
// leaves a trace once the request is parsed, so framingGuard watches the
// bytes of each client connection as the server reads them. It follows
// HTTP/1 message boundaries by net/http's own rules (Go 1.26: net/http's
// readRequest and transfer.go, net/textproto's readMIMEHeader, and
// net/http/internal's chunked reader) and queues one verdict per request
// head; the handler takes them in order, since HTTP/1 serves a
// connection's requests one after another.
//
// The guard fails closed: when it cannot follow the bytes the way the
// server does (a framing header too long to keep, a chunk the server would
// not accept), it stops queueing verdicts, and a request without a verdict
// is refused. It stops following for good only where the connection stops
// being HTTP/1: the h2c preface, or a hijack (a granted upgrade).

const (
	// maxGuardLine bounds what the guard keeps of a head line. Longer
	// lines are still followed: only their start (the field name) matters,
	// unless they frame the body (Content-Length, Transfer-Encoding), which
	// are then refused.
	maxGuardLine = 8 << 10
	// net/http reads chunk-size lines and looks for the end of trailers
	// within its 4 KiB bufio buffer; beyond it the body fails.
	maxChunkLine    = 4096
	maxTrailerBytes = 4096
	// maxQueued bounds the verdicts waiting for their requests. net/http
	// reads ahead at most one buffer of pipelined requests, so a longer
	// queue means the guard is counting something that is not requests.
	maxQueued = 1024
	// tailSize is how much of the end of a long line the guard keeps: a
	// request line's version.
	tailSize = 16
)

// h2cPreface opens an HTTP/2 connection with prior knowledge; net/http
// serves HTTP/2 when the first bytes of a connection are exactly these.
const h2cPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

type verdictKind uint8

const (
	vClean     verdictKind = iota
	vAmbiguous             // Content-Length with Transfer-Encoding
	vObsFold               // a header line folded onto the previous one
	vHTTP10TE              // Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)
	vLost                  // the guard could not follow this request's framing
)

// verdict is the guard's view of one request head.
type verdict struct {
	kind   verdictKind
	fields int   // header field lines, Host included
	at     int64 // offset of the request line in the connection's bytes
}

type guardState uint8

const (
	gHead guardState = iota
	gFixed
	gChunkSize
	gChunkData
	gChunkCR
	gChunkLF
	gTrailers
	gLost // the guard lost track of a connection that is still HTTP/1
	gOff  // not HTTP/1 any more: h2c preface, or hijacked (upgraded)
)

type guardConn struct {
	net.Conn

	off atomic.Bool // gOff, readable without the lock on the read path

	mu      sync.Mutex
	state   guardState
	pos     int64  // bytes followed so far
	pre     int    // bytes of the h2c preface matched at the start; -1 once decided
	line    []byte // the current line, up to maxGuardLine bytes of it
	lineLen int    // the current line's length so far, counting bytes not kept
	tail    [tailSize]byte
	tailLen int  // bytes in tail: the end of a line longer than line keeps
	skip    int  // CR/LF bytes net/http skips before a request after a POST
	first   bool // the next head line is the request line
	remain  uint64
	excess  int64 // net/http's chunk overhead account (internal/chunked.go)
	section int   // bytes of the trailer section so far
	lastCR  bool  // the previous trailer line ended in CRLF

	// The head being read.
	head   verdict
	http10 bool
	post   bool
	fold   bool
	bad    bool // a framing header the guard could not read
	nCL    int
	clen   uint64
	clOK   bool
	nTE    int
	teOK   bool // the one Transfer-Encoding is "chunked"

	q  []verdict // queued verdicts, q[qh:] waiting
	qh int

	// onBody, when set (tests), is told the decoded length of each body
	// the guard followed to its end.
	onBody  func(n uint64)
	bodyLen uint64
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

// Listener wraps ln's connections in the framing guard. The server that
// serves them sets ConnContext and ConnState.
func Listener(ln net.Listener) net.Listener { return guardListener{ln} }

// Guard wraps one connection in the framing guard.
func Guard(c net.Conn) net.Conn { return newGuardConn(c) }

// ConnContext stores the connection's guard for its requests
// (http.Server.ConnContext).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
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

// ConnState stops the guard of a hijacked connection
// (http.Server.ConnState): the handler granted an upgrade, and the bytes
// that follow are another protocol's.
func ConnState(c net.Conn, s http.ConnState) {
	if s != http.StateHijacked {
		return
	}
	if g, ok := c.(*guardConn); ok {
		g.mu.Lock()
		g.stop()
		g.mu.Unlock()
	}
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
// connection of ctx. ok is false when there is no guard or the connection
// is not HTTP/1 any more. An HTTP/1 request the guard has no verdict for
// gets vLost: the guard and the server disagree on where it begins.
func takeVerdict(ctx context.Context) (v verdict, ok bool) {
	g, _ := ctx.Value(guardKey{}).(*guardConn)
	if g == nil {
		return v, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.qh < len(g.q) {
		v = g.q[g.qh]
		g.qh++
		if g.qh == len(g.q) {
			g.q, g.qh = g.q[:0], 0
		}
		return v, true
	}
	if g.state == gOff {
		return v, false
	}
	return verdict{kind: vLost}, true
}

// Refusals of framingRefusal; the connection closes after each, since the
// bytes that follow cannot be trusted to start a request.
var (
	refAmbiguous = Refusal{http.StatusBadRequest, "ambiguous request framing: Content-Length with Transfer-Encoding\n", true}
	refObsFold   = Refusal{http.StatusBadRequest, "obsolete header line folding\n", true}
	refHTTP10TE  = Refusal{http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request\n", true}
	refLost      = Refusal{http.StatusBadRequest, "request framing the gateway cannot follow\n", true}
	refTooMany   = Refusal{http.StatusRequestHeaderFieldsTooLarge, "too many header fields\n", true}
)

// framingRefusal judges r by its connection's verdict (HTTP/1) and counts
// its header fields against maxHeaders (net/http has no such limit; for
// HTTP/1 the guard counted the lines, for HTTP/2 the decoded fields count).
func framingRefusal(r *http.Request, maxHeaders int) *Refusal {
	v, ok := takeVerdict(r.Context())
	var ref *Refusal
	switch v.kind {
	case vAmbiguous:
		ref = &refAmbiguous
	case vObsFold:
		ref = &refObsFold
	case vHTTP10TE:
		ref = &refHTTP10TE
	case vLost:
		ref = &refLost
	}
	if ref != nil {
		c := *ref
		return &c
	}
	n := v.fields
	if !ok {
		n = headerFields(r)
	}
	if n > maxHeaders {
		c := refTooMany
		return &c
	}
	return nil
}

// headerFields counts r's header fields as received: each value, and the
// Host (HTTP/2's :authority) that net/http keeps apart.
func headerFields(r *http.Request) int {
	n := 0
	if r.Host != "" {
		n++
	}
	for _, vv := range r.Header {
		n += len(vv)
	}
	return n
}

func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 && !g.off.Load() {
		g.mu.Lock()
		g.scan(p[:n])
		g.mu.Unlock()
	}
	return n, err
}

func (g *guardConn) stop() {
	g.state = gOff
	g.off.Store(true)
	g.line = nil
}

// lose records that the guard cannot follow the connection any more: no
// further verdicts, so every further request on it is refused.
func (g *guardConn) lose() {
	if g.state != gOff {
		g.state = gLost
		g.line = nil
	}
}

// scan follows the next bytes the server reads.
func (g *guardConn) scan(b []byte) {
	if g.pre >= 0 {
		// net/http serves HTTP/2 if, and only if, the connection opens
		// with the whole preface; a prefix that diverges is HTTP/1.
		for len(b) > 0 && g.pre < len(h2cPreface) {
			if b[0] != h2cPreface[g.pre] {
				matched := g.pre
				g.pre = -1
				g.follow([]byte(h2cPreface[:matched]))
				break
			}
			b = b[1:]
			g.pre++
		}
		if g.pre == len(h2cPreface) {
			g.stop()
			return
		}
		if g.pre >= 0 {
			return
		}
	}
	g.follow(b)
}

func (g *guardConn) follow(b []byte) {
	for len(b) > 0 {
		switch g.state {
		case gLost, gOff:
			return
		case gFixed, gChunkData:
			k := uint64(len(b))
			if k > g.remain {
				k = g.remain
			}
			b = b[k:]
			g.pos += int64(k)
			g.remain -= k
			if g.remain == 0 {
				if g.state == gFixed {
					g.bodyDone()
				} else {
					g.state = gChunkCR
				}
			}
		case gChunkCR, gChunkLF:
			// net/http reads exactly CRLF after chunk data.
			want := byte('\r')
			if g.state == gChunkLF {
				want = '\n'
			}
			if b[0] != want {
				g.lose()
				return
			}
			b = b[1:]
			g.pos++
			if g.state == gChunkCR {
				g.state = gChunkLF
			} else {
				g.state = gChunkSize
			}
		default: // line-oriented states
			if g.state == gHead && g.first && g.lineLen == 0 && g.skip > 0 {
				// After a POST, net/http discards up to four CR or LF
				// bytes before the next request line.
				if b[0] == '\r' || b[0] == '\n' {
					b = b[1:]
					g.pos++
					g.skip--
					continue
				}
				g.skip = 0
			}
			if g.lineLen == 0 && g.first && g.state == gHead {
				g.head = verdict{at: g.pos}
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				g.appendLine(b)
				g.pos += int64(len(b))
				return
			}
			g.appendLine(b[:i+1])
			b = b[i+1:]
			g.pos += int64(i + 1)
			g.onLine()
			if cap(g.line) > 1<<10 {
				g.line = nil // a long line passed: do not hold its buffer
			}
			g.line, g.lineLen, g.tailLen = g.line[:0], 0, 0
		}
	}
}

// appendLine keeps the start of the current line and its last bytes.
func (g *guardConn) appendLine(b []byte) {
	g.lineLen += len(b)
	if room := maxGuardLine - len(g.line); room > 0 {
		k := min(room, len(b))
		g.line = append(g.line, b[:k]...)
		b = b[k:]
	}
	if len(b) == 0 {
		return
	}
	// Beyond what line keeps, remember the last len(tail) bytes.
	if len(b) >= len(g.tail) {
		g.tailLen = copy(g.tail[:], b[len(b)-len(g.tail):])
		return
	}
	keep := min(g.tailLen, len(g.tail)-len(b))
	copy(g.tail[:], g.tail[g.tailLen-keep:g.tailLen])
	g.tailLen = keep + copy(g.tail[keep:], b)
}

// onLine handles a complete line (with its LF) in a line-oriented state.
func (g *guardConn) onLine() {
	raw := g.line
	long := g.lineLen > len(g.line)
	switch g.state {
	case gHead:
		g.headLine(raw, long)
	case gChunkSize:
		g.chunkSizeLine(raw, long)
	case gTrailers:
		g.trailerLine(raw, long)
	}
}

// trimEOL drops the line ending as bufio.Reader.ReadLine does: LF, or CRLF.
func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// trimSpace trims SP and HTAB, as textproto trims header lines. A CR left
// in a line makes the server refuse the head.
func trimSpace(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

func (g *guardConn) headLine(raw []byte, long bool) {
	if g.first {
		g.requestLine(raw, long)
		return
	}
	if !long { // else raw is a kept prefix, without the line ending
		raw = trimEOL(raw)
	}
	if len(raw) == 0 {
		g.endHead()
		return
	}
	if raw[0] == ' ' || raw[0] == '\t' {
		// A continuation line (or, first in the head, an error): the
		// server folds it into the previous value.
		g.fold = true
		return
	}
	g.head.fields++
	kv := trimSpace(raw)
	colon := bytes.IndexByte(kv, ':')
	if colon < 0 {
		if long {
			g.bad = true // no name within what the guard keeps
		}
		return // the server refuses a line without a colon
	}
	name, value := kv[:colon], kv[colon+1:]
	cl, te := framingName(name)
	if !cl && !te {
		return
	}
	if long {
		g.bad = true // its value is longer than the guard keeps
		return
	}
	value = trimSpace(value)
	if cl {
		n, ok := parseContentLength(value)
		if g.nCL == 0 {
			g.clen, g.clOK = n, ok
		} else if !ok || n != g.clen {
			g.clOK = false // the server refuses differing values
		}
		g.nCL++
	} else {
		g.nTE++
		g.teOK = asciiEqualFold(value, "chunked")
	}
}

func (g *guardConn) requestLine(raw []byte, long bool) {
	g.first = false
	g.http10, g.post, g.fold, g.bad = false, false, false, false
	g.nCL, g.clen, g.clOK, g.nTE, g.teOK = 0, 0, false, 0, false
	// The version is the text after the second space: in a request line
	// the server accepts, its last eight bytes.
	end := raw
	if long {
		var buf [2 * tailSize]byte
		n := copy(buf[:], raw[len(raw)-(tailSize-g.tailLen):])
		n += copy(buf[n:], g.tail[:g.tailLen])
		end = buf[:n]
	}
	end = trimEOL(end)
	g.http10 = bytes.HasSuffix(end, []byte(" HTTP/1.0"))
	g.post = bytes.HasPrefix(raw, []byte("POST "))
	if !long && len(trimEOL(raw)) == 0 {
		g.bad = true // the server refuses an empty request line
	}
}

// framingName reports whether a field name is Content-Length or
// Transfer-Encoding, as net/http matches them (ASCII, any case).
func framingName(name []byte) (cl, te bool) {
	switch len(name) {
	case len("Content-Length"):
		return asciiEqualFold(name, "Content-Length"), false
	case len("Transfer-Encoding"):
		return false, asciiEqualFold(name, "Transfer-Encoding")
	}
	return false, false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// parseContentLength is strconv.ParseUint(s, 10, 63), as net/http parses
// Content-Length: digits only (leading zeros allowed), below 2^63.
func parseContentLength(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return 0, false
		}
	}
	return n, true
}

func (g *guardConn) endHead() {
	v := g.head
	switch {
	case g.bad:
		v.kind = vLost
	case g.fold:
		v.kind = vObsFold
	case g.http10 && g.nTE > 0:
		v.kind = vHTTP10TE
	case g.nTE > 0 && g.nCL > 0:
		v.kind = vAmbiguous
	}
	if len(g.q)-g.qh >= maxQueued {
		g.lose()
		return
	}
	g.q = append(g.q, v)
	g.first = true
	g.skip = 0
	if g.post {
		g.skip = 4
	}
	g.bodyLen = 0
	switch {
	case g.bad || g.fold:
		// The server reads folded values the guard did not keep.
		g.lose()
	case g.nTE > 0 && !g.http10:
		// net/http ignores Transfer-Encoding in HTTP/1.0, and otherwise
		// accepts exactly one, "chunked", with a valid Content-Length
		// if any.
		if g.nTE != 1 || !g.teOK || g.nCL > 0 && !g.clOK {
			g.lose()
			return
		}
		g.state, g.excess = gChunkSize, 0
	case g.nCL > 0:
		if !g.clOK {
			g.lose()
			return
		}
		if g.clen == 0 {
			g.bodyDone()
			return
		}
		g.state, g.remain, g.bodyLen = gFixed, g.clen, g.clen
	default:
		g.bodyDone()
	}
}

func (g *guardConn) bodyDone() {
	g.state = gHead
	if g.onBody != nil {
		g.onBody(g.bodyLen)
	}
}

// chunkSizeLine follows net/http/internal's chunkedReader.beginChunk.
func (g *guardConn) chunkSizeLine(raw []byte, long bool) {
	// The line must fit net/http's buffer and end in CRLF, with no
	// other CR.
	if long || g.lineLen > maxChunkLine || len(raw) < 2 || raw[len(raw)-2] != '\r' {
		g.lose()
		return
	}
	p := raw[:len(raw)-2]
	if bytes.IndexByte(p, '\r') >= 0 {
		g.lose()
		return
	}
	g.excess += int64(len(p)) + 2
	for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
		p = p[:len(p)-1]
	}
	if i := bytes.IndexByte(p, ';'); i >= 0 {
		p = p[:i]
	}
	n, ok := parseChunkSize(p)
	if !ok {
		g.lose()
		return
	}
	// The same arithmetic as net/http, overflow included.
	g.excess -= 16 + (2 * int64(n))
	g.excess = max(g.excess, 0)
	if n == 0 {
		g.state, g.section, g.lastCR = gTrailers, 0, false
		return
	}
	if g.excess > 16*1024 {
		g.lose()
		return
	}
	g.state, g.remain = gChunkData, n
	g.bodyLen += n
}

// parseChunkSize is net/http/internal's parseHexUint: 1 to 16 hex digits.
func parseChunkSize(v []byte) (n uint64, ok bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	for _, b := range v {
		switch {
		case '0' <= b && b <= '9':
			b -= '0'
		case 'a' <= b && b <= 'f':
			b = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			b = b - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(b)
	}
	return n, true
}

// trailerLine follows net/http's body.readTrailer, or loses track where
// it cannot be sure to: the section must end, within the server's 4 KiB
// buffer, in CRLF CRLF (or be a lone CRLF), and every field line must be
// one textproto accepts, without continuation lines.
func (g *guardConn) trailerLine(raw []byte, long bool) {
	g.section += g.lineLen
	if long || g.section > maxTrailerBytes {
		g.lose()
		return
	}
	crlf := len(raw) >= 2 && raw[len(raw)-2] == '\r'
	line := trimEOL(raw)
	if len(line) == 0 {
		if !crlf || g.section > 2 && !g.lastCR {
			g.lose()
			return
		}
		g.bodyDone()
		return
	}
	g.lastCR = crlf
	if line[0] == ' ' || line[0] == '\t' {
		g.lose()
		return
	}
	name, value, ok := bytes.Cut(trimSpace(line), []byte(":"))
	if !ok || len(name) == 0 {
		g.lose()
		return
	}
	for _, c := range name {
		if !validFieldNameByte(c) && c != ' ' {
			g.lose()
			return
		}
	}
	for _, c := range value {
		if c != '\t' && (c < ' ' || c == 0x7f) {
			g.lose()
			return
		}
	}
}

// validFieldNameByte reports whether c is a token character (RFC 9110).
func validFieldNameByte(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return c < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

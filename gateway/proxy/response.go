package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// maxResponseHeaderBytes bounds what a backend can make us buffer.
const maxResponseHeaderBytes = 1 << 20

// responseHead is the parsed status line and framing of a backend response.
type responseHead struct {
	status        int
	contentLength int64 // -1 when not given
	chunked       bool
	noBody        bool
	close         bool
	untilClose    bool   // body delimited by connection close
	http10        bool   // an HTTP/1.0 response
	nothingRead   bool   // the connection failed before any byte arrived
	upgrade       string // 101: the protocol switched to
}

// reusable reports whether the framing lets the connection carry another
// exchange; the caller still checks that nothing follows the body.
func (r *responseHead) reusable() bool {
	return !r.untilClose && r.status != http.StatusSwitchingProtocols
}

// maxResponseHeaders bounds the header lines of one response: a flood of
// small headers costs an allocation each and reaches the client whole.
// Envoy's default is 100 in either direction; this leaves room for
// backends that set many cookies.
const maxResponseHeaders = 1000

var (
	errMalformedStatus = errors.New("malformed status line from backend")
	errMalformedHeader = errors.New("malformed header from backend")
	errHeaderTooLarge  = errors.New("backend response header too large")
	errAmbiguousLength = errors.New("backend response has ambiguous length")
	errUpgrade         = errors.New("backend switched protocols unasked")
	errUpgradeOther    = errors.New("backend switched to a protocol other than the one asked for")
	errTooManyHeaders  = errors.New("backend response has too many header fields")
)

// readResponseHead parses the status line and headers into h, skipping
// interim 1xx responses. Hop-by-hop headers are not copied. upgrade is the
// Upgrade the request asked for ("" for none): a 101 is accepted only for
// one of its protocols. On error h is cleared, so the caller can write its
// own error response.
func readResponseHead(br *bufio.Reader, h http.Header, method, upgrade string) (resp responseHead, err error) {
	return readResponseHeadCached(br, h, method, upgrade, nil)
}

// readResponseHeadCached is readResponseHead with the value cache of the
// connection br reads (nil: none).
func readResponseHeadCached(br *bufio.Reader, h http.Header, method, upgrade string, vc *valueCache) (resp responseHead, err error) {
	defer func() {
		if err != nil {
			clear(h)
		}
	}()
	resp.contentLength = -1
	if err := readFinalStatus(br, &resp, upgrade); err != nil {
		return resp, err
	}
	hs := headerScan{cache: vc}
	if err := hs.readHeaders(br, h, &resp); err != nil {
		return resp, err
	}
	return resp, hs.finish(h, &resp, method, upgrade)
}

// readFinalStatus reads status lines until the final one: interim 1xx
// responses (100 Continue, 103 Early Hints) are dropped with their headers,
// and a 101 is final, but only when the request asked for an upgrade.
func readFinalStatus(br *bufio.Reader, resp *responseHead, upgrade string) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			resp.nothingRead = len(line) == 0
			return err
		}
		status, http10, err := parseStatusLine(line)
		if err != nil {
			return err
		}
		resp.status, resp.http10 = status, http10
		switch {
		case status == http.StatusSwitchingProtocols && upgrade == "":
			return errUpgrade
		case status == http.StatusSwitchingProtocols || status >= 200:
			return nil
		}
		if err := skipHeaders(br); err != nil {
			return err
		}
	}
}

// headerScan is what the header section says beyond the fields copied to
// the client, needed once the section has ended.
type headerScan struct {
	connTokens []string // headers the Connection header names
	keepAlive  bool     // Connection listed keep-alive
	declared   []string // the Trailer header's names
	total      int      // bytes read
	lines      int      // fields read
	cache      *valueCache
}

// readHeaders reads the header section into h and resp's framing.
func (s *headerScan) readHeaders(br *bufio.Reader, h http.Header, resp *responseHead) error {
	for {
		line, err := s.nextLine(br)
		if err != nil || len(line) == 0 {
			return err
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errMalformedHeader // obs-fold
		}
		key, val, err := splitField(line)
		if err != nil {
			return err
		}
		if err := s.field(h, resp, key, val); err != nil {
			return err
		}
	}
}

// nextLine reads one header line without its end of line, within the
// section's byte and field bounds; an empty line ends the section.
func (s *headerScan) nextLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errHeaderTooLarge
	}
	if err != nil {
		return nil, err
	}
	if s.total += len(line); s.total > maxResponseHeaderBytes {
		return nil, errHeaderTooLarge
	}
	line = trimEOL(line)
	if len(line) == 0 {
		return line, nil
	}
	if s.lines++; s.lines > maxResponseHeaders {
		return nil, errTooManyHeaders
	}
	return line, nil
}

// splitField splits a header or trailer line into its canonical name and
// its value, refusing a name that is not a token and a value with control
// characters.
func splitField(line []byte) (string, []byte, error) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || !validToken(line[:i]) {
		return "", nil, errMalformedHeader
	}
	val := trimOWS(line[i+1:])
	if !validFieldValue(val) {
		return "", nil, errMalformedHeader
	}
	return canonicalKey(line[:i]), val, nil
}

// field takes one header field: framing and connection headers into resp
// and s, end-to-end ones into h.
func (s *headerScan) field(h http.Header, resp *responseHead, key string, val []byte) error {
	switch key {
	case "Content-Length":
		return s.contentLength(h, resp, val)
	case "Transfer-Encoding":
		if !bytes.EqualFold(val, []byte("chunked")) || resp.chunked {
			return errAmbiguousLength
		}
		resp.chunked = true
	case "Connection":
		s.connection(resp, val)
	case "Trailer":
		for _, tok := range bytes.Split(val, []byte(",")) {
			if tok = bytes.TrimSpace(tok); len(tok) > 0 {
				s.declared = append(s.declared, canonicalKey(tok))
			}
		}
	case "Upgrade":
		resp.upgrade = string(val) // hop-by-hop: not copied
	default:
		if !hopByHop(key) {
			s.add(h, key, val)
		}
	}
	return nil
}

// add appends a field's value to h[key].
func (s *headerScan) add(h http.Header, key string, val []byte) {
	v, one := s.cache.value(s.lines-1, key, val)
	vv := h[key]
	if vv == nil && one != nil {
		h[key] = one
		return
	}
	h[key] = append(vv, v)
	if vv == nil {
		s.cache.keep(s.lines-1, h[key])
	}
}

// contentLength takes a Content-Length: repeats must agree.
func (s *headerScan) contentLength(h http.Header, resp *responseHead, val []byte) error {
	v, one := s.cache.value(s.lines-1, "Content-Length", val)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || (resp.contentLength >= 0 && resp.contentLength != n) {
		return errAmbiguousLength
	}
	resp.contentLength = n
	if one == nil {
		one = []string{v}
		s.cache.keep(s.lines-1, one)
	}
	h["Content-Length"] = one
	return nil
}

// valueCache turns a backend connection's response header values into
// strings without allocating when a value is the one seen at the same
// position of the previous response on that connection: a backend repeats
// most of its head (Content-Type, Server, Cache-Control...). Strings are
// immutable, so one from an earlier response is safe to hand out again
// whatever retains it; the one-element slice holding it is reused only
// while it still holds just that string (nothing rewrote it in place).
type valueCache struct {
	vals  []cachedValue
	bytes int
}

type cachedValue struct {
	key, val string
	one      []string // []string{val}, once a response used it so
}

// maxCachedValues bounds what a connection's cache retains.
const (
	maxCachedValues     = 64
	maxCachedValueBytes = 8 << 10
)

// value returns val as a string, and the cached one-element slice
// holding it when there is one; i is the field's index in the head.
func (c *valueCache) value(i int, key string, val []byte) (string, []string) {
	if c == nil || i >= maxCachedValues {
		return string(val), nil
	}
	if i < len(c.vals) {
		e := &c.vals[i]
		if e.key == key && e.val == string(val) {
			if len(e.one) == 1 && cap(e.one) == 1 && e.one[0] == e.val {
				return e.val, e.one
			}
			e.one = nil
			return e.val, nil
		}
	}
	v := string(val)
	if c.bytes+len(v) > maxCachedValueBytes {
		return v, nil
	}
	for len(c.vals) <= i {
		c.vals = append(c.vals, cachedValue{})
	}
	c.bytes += len(v) - len(c.vals[i].val)
	c.vals[i] = cachedValue{key: key, val: v}
	return v, nil
}

// keep remembers one, a fresh []string{value} of field i, for the next
// response.
func (c *valueCache) keep(i int, one []string) {
	if c != nil && i < len(c.vals) && len(one) == 1 && cap(one) == 1 && c.vals[i].val == one[0] {
		c.vals[i].one = one
	}
}

// connection walks a Connection header in place: "Connection: keep-alive"
// on every response from most backends would otherwise cost a split and a
// slice.
func (s *headerScan) connection(resp *responseHead, val []byte) {
	for rest := val; len(rest) > 0; {
		var tok []byte
		tok, rest, _ = bytes.Cut(rest, []byte(","))
		switch tok = bytes.TrimSpace(tok); {
		case bytes.EqualFold(tok, []byte("close")):
			resp.close = true
		case bytes.EqualFold(tok, []byte("keep-alive")):
			// Keep-Alive is hop-by-hop and dropped anyway; only an
			// HTTP/1.0 response needs to have said it.
			s.keepAlive = true
		case len(tok) == 0:
		default:
			s.connTokens = append(s.connTokens, canonicalKey(tok))
		}
	}
}

// finish applies what the whole header section says: the headers the
// Connection header named go, and the framing is decided.
func (s *headerScan) finish(h http.Header, resp *responseHead, method, upgrade string) error {
	for _, k := range s.connTokens {
		delete(h, k)
	}
	if resp.chunked && resp.contentLength >= 0 {
		return errAmbiguousLength
	}
	if resp.status == http.StatusSwitchingProtocols {
		return grantUpgrade(resp, upgrade)
	}
	if resp.http10 && !s.keepAlive {
		resp.close = true // HTTP/1.0 closes unless it says otherwise (RFC 9112 §9.3)
	}
	if len(s.declared) > 0 && resp.chunked {
		h["Trailer"] = s.declared
	}
	resp.frameBody(method)
	return nil
}

// grantUpgrade accepts a 101 that switched to a protocol the request asked
// for; the tunnel that follows has no body framing.
func grantUpgrade(resp *responseHead, asked string) error {
	if resp.upgrade == "" {
		return errUpgrade // a switch to nothing named
	}
	if !upgradeGranted(asked, resp.upgrade) {
		return errUpgradeOther
	}
	resp.noBody = true
	return nil
}

// frameBody decides where the body ends when the headers do not say: it
// has none after HEAD, 204 and 304, and runs until close without a length.
func (r *responseHead) frameBody(method string) {
	switch {
	case method == http.MethodHead || r.status == http.StatusNoContent || r.status == http.StatusNotModified:
		r.noBody = true
	case !r.chunked && r.contentLength < 0:
		r.untilClose = true
	}
}

// parseStatusLine parses "HTTP/1.x NNN reason"; http10 reports HTTP/1.0.
// The reason phrase is never relayed, but one with a bare CR or another
// control character marks a response no parser should trust.
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	line = trimEOL(line)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return 0, false, errMalformedStatus
	}
	if len(line) > 12 && (line[12] != ' ' || !validFieldValue(line[13:])) {
		return 0, false, errMalformedStatus
	}
	c := line[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0, false, errMalformedStatus
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0'), line[7] == '0', nil
}

// validFieldValue reports whether v is free of control characters other
// than HTAB (RFC 9110 §5.5, RFC 9112 §2.2): a bare CR, LF or NUL that some
// parser downstream would take for the end of a line or of a string.
func validFieldValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS trims optional whitespace (SP and HTAB only: a CR is not
// whitespace here but a byte to refuse).
func trimOWS(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

// upgradeGranted reports whether a 101's Upgrade value names exactly one
// protocol, one of those asked for (compared case-insensitively), and not
// h2c: HTTP/2 cleartext upgrades are never relayed (RFC 9113 §3.1), since
// the client would get a raw HTTP/2 connection to the backend, past every
// route and ACL of the gateway.
func upgradeGranted(asked, got string) bool {
	got = strings.Trim(got, " \t")
	if got == "" || strings.ContainsAny(got, ", \t") || strings.EqualFold(got, "h2c") {
		return false
	}
	for asked != "" {
		var tok string
		tok, asked, _ = strings.Cut(asked, ",")
		if strings.EqualFold(strings.Trim(tok, " \t"), got) {
			return true
		}
	}
	return false
}

func skipHeaders(br *bufio.Reader) error {
	readLine := func() ([]byte, error) { return br.ReadSlice('\n') }
	return eachFieldLine(readLine, func(line []byte) error {
		if !validFieldValue(line) {
			return errMalformedHeader // dropped, but a sign of a broken backend
		}
		return nil
	})
}

// eachFieldLine reads the lines of a header or trailer section with
// readLine up to the empty line that ends it, refusing a section larger
// than maxResponseHeaderBytes, and hands each line, its ending trimmed, to
// field; it stops at the first error.
func eachFieldLine(readLine func() ([]byte, error), field func(line []byte) error) error {
	for total := 0; ; {
		line, err := readLine()
		if err != nil {
			return err
		}
		if total += len(line); total > maxResponseHeaderBytes {
			return errHeaderTooLarge
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return nil
		}
		if err := field(line); err != nil {
			return err
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func validToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return len(b) > 0
}

// commonKeys interns the header names backends send most, so parsing them
// allocates nothing. Lookup by m[string(b)] does not allocate.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Length", "Content-Type", "Date", "Server",
		"Connection", "Transfer-Encoding", "Cache-Control", "Etag", "Last-Modified",
		"Expires", "Vary", "Set-Cookie", "Location", "Content-Encoding", "Keep-Alive",
		"X-Backend-Id", "Trailer", "Accept-Ranges", "Age", "Grpc-Status", "Grpc-Message"} {
		m[k] = k
		m[string(bytes.ToLower([]byte(k)))] = k
	}
	return m
}()

func canonicalKey(b []byte) string {
	if k, ok := commonKeys[string(b)]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(string(b))
}

// clientWriteError marks a failure writing to the client, as opposed to
// reading from the backend.
type clientWriteError struct{ err error }

func (e clientWriteError) Error() string { return "write to client: " + e.err.Error() }
func (e clientWriteError) Unwrap() error { return e.err }

// copyResponseBody streams the body framed by resp from br to w.
func copyResponseBody(w http.ResponseWriter, br *bufio.Reader, resp *responseHead) (int64, error) {
	if resp.noBody {
		return 0, nil
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	fl, _ := w.(http.Flusher)
	c := bodyCopier{w: w, fl: fl, br: br, buf: *bp}
	switch {
	case resp.chunked:
		err := c.chunked()
		return c.n, err
	default: // Content-Length, or -1: until the backend closes
		err := c.exactly(resp.contentLength)
		return c.n, err
	}
}

type bodyCopier struct {
	w     http.ResponseWriter
	fl    http.Flusher
	br    *bufio.Reader
	buf   []byte
	n     int64
	dirty bool // written to the client since the last flush
}

// beforeRead flushes what the client has not yet seen when the next read
// from the backend may block: streamed responses (SSE, long polls) reach
// the client at once, while bulk bodies are still written in large batches.
func (c *bodyCopier) beforeRead() {
	if c.dirty && c.fl != nil && c.br.Buffered() == 0 {
		c.fl.Flush()
		c.dirty = false
	}
}

// exactly copies n bytes, or until EOF when n < 0.
func (c *bodyCopier) exactly(n int64) error {
	for n != 0 {
		p := c.buf
		if n > 0 && int64(len(p)) > n {
			p = p[:n]
		}
		c.beforeRead()
		m, rerr := c.br.Read(p)
		if m > 0 {
			if _, werr := c.w.Write(p[:m]); werr != nil {
				return clientWriteError{werr}
			}
			c.dirty = true
			c.n += int64(m)
			if n > 0 {
				n -= int64(m)
			}
		}
		if rerr != nil {
			if rerr == io.EOF && n < 0 {
				return nil
			}
			if rerr == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return rerr
		}
	}
	return nil
}

var errBadChunk = errors.New("malformed chunked encoding from backend")

func (c *bodyCopier) readLine() ([]byte, error) {
	c.beforeRead()
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errBadChunk
	}
	return line, err
}

func (c *bodyCopier) chunked() error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		line = trimEOL(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions are ignored
		}
		line = bytes.TrimRight(line, " \t")
		size, err := parseHex(line)
		if err != nil {
			return err
		}
		if size == 0 {
			return c.trailers()
		}
		if err := c.exactly(size); err != nil {
			return err
		}
		crlf, err := c.readLine()
		if err != nil {
			return err
		}
		if len(trimEOL(crlf)) != 0 {
			return errBadChunk
		}
	}
}

// ParseChunkSize parses a chunk-size line's hex digits (extensions already
// cut off), as the gateway's framing guard must read chunks exactly as the
// proxy does.
func ParseChunkSize(b []byte) (int64, bool) {
	n, err := parseHex(b)
	return n, err == nil
}

func parseHex(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 15 {
		return 0, errBadChunk
	}
	var n int64
	for _, ch := range b {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch >= 'a' && ch <= 'f':
			d = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return 0, errBadChunk
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// trailers reads the trailer section and hands it to the client side:
// declared trailers by name, others with http.TrailerPrefix.
func (c *bodyCopier) trailers() error {
	h := c.w.Header()
	declared := h["Trailer"]
	return eachFieldLine(c.readLine, func(line []byte) error {
		k, val, err := splitField(line)
		if err != nil {
			return fmt.Errorf("%w: trailer", err)
		}
		v := string(val)
		if hopByHop(k) || k == "Content-Length" {
			return nil
		}
		if listed(declared, k) {
			h[k] = append(h[k], v)
		} else {
			h[http.TrailerPrefix+k] = append(h[http.TrailerPrefix+k], v)
		}
		return nil
	})
}

package h1

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Error is a request the parser refuses: the status to answer with and a
// short body. The connection always closes after one.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// The parser's refusals, allocated once.
var (
	errBareLF       = &Error{http.StatusBadRequest, "bare LF or CR in request head\n"}
	errEmptyLine    = &Error{http.StatusBadRequest, "empty request line\n"}
	errRequestLine  = &Error{http.StatusBadRequest, "malformed request line\n"}
	errMethod       = &Error{http.StatusBadRequest, "invalid method\n"}
	errTarget       = &Error{http.StatusBadRequest, "invalid request target\n"}
	errVersion      = &Error{http.StatusHTTPVersionNotSupported, "unsupported HTTP version\n"}
	errObsFold      = &Error{http.StatusBadRequest, "obsolete header line folding\n"}
	errFieldLine    = &Error{http.StatusBadRequest, "malformed header line\n"}
	errFieldName    = &Error{http.StatusBadRequest, "invalid header name\n"}
	errFieldValue   = &Error{http.StatusBadRequest, "invalid header value\n"}
	errTooMany      = &Error{http.StatusRequestHeaderFieldsTooLarge, "too many header fields\n"}
	errHeadTooLarge = &Error{http.StatusRequestHeaderFieldsTooLarge, "request header too large\n"}
	errHost         = &Error{http.StatusBadRequest, "missing, repeated or malformed Host header\n"}
	errCL           = &Error{http.StatusBadRequest, "invalid or repeated Content-Length\n"}
	errAmbiguous    = &Error{http.StatusBadRequest, "ambiguous request framing: Content-Length with Transfer-Encoding\n"}
	errHTTP10TE     = &Error{http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request\n"}
	errTE           = &Error{http.StatusNotImplemented, "unsupported transfer encoding\n"}
	errExpect       = &Error{http.StatusExpectationFailed, "unsupported Expect\n"}
)

// headEnd finds the end of the request head in b, scanning from *from
// (where the previous call stopped, so a head read in pieces is scanned
// once). It returns the length of the head including its final CRLF CRLF,
// 0 if b does not hold all of it yet, or an error for a line that does
// not end in CRLF: a bare LF ends a line for some parsers and not for
// others, so it is refused outright (RFC 9112 §2.2 allows that).
func headEnd(b []byte, from *int) (int, *Error) {
	i := *from
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			*from = i
			return 0, nil
		}
		j += i
		if j == 0 || b[j-1] != '\r' {
			return 0, errBareLF
		}
		if j == 1 {
			return 0, errEmptyLine
		}
		if j-i == 1 && i > 0 { // an empty line: the end of the head
			return j + 1, nil
		}
		i = j + 1
	}
}

// request is what the parser fills: the request, and the framing it read.
type request struct {
	http.Request
	hdr    http.Header // the pooled map Request.Header starts as
	url    url.URL
	vals   []string // backing for one-value header slices
	cache  lineCache
	key    []byte // scratch for canonicalising a header name
	chunk  bool   // Transfer-Encoding: chunked
	expect bool   // Expect: 100-continue
	hasCL  bool
	nHost  int
}

// parse parses a complete request head (as headEnd delimited it) into q.
// Strings in q never alias head: they come from lineCache, which reuses
// the strings of an earlier request when the line is the same, so a
// client that repeats its headers costs no allocation.
func (q *request) parse(head []byte, maxHeaders int) *Error {
	r := &q.Request
	end := bytes.IndexByte(head, '\n')
	line := head[:end-1]
	if err := q.requestLine(line); err != nil {
		return err
	}
	head = head[end+1:]
	fields := 0
	var te string
	nTE := 0
	for len(head) > 2 {
		end = bytes.IndexByte(head, '\n')
		line, head = head[:end-1], head[end+1:]
		fields++
		if fields > maxHeaders {
			return errTooMany
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errFieldLine
		}
		key, val, err := q.cache.field(fields-1, line, colon, &q.key)
		if err != nil {
			return err
		}
		switch key {
		case "Host":
			q.nHost++
			if q.nHost > 1 || !httpguts.ValidHostHeader(val) {
				return errHost
			}
			if r.URL.Host == "" {
				r.Host = val
			}
			continue // net/http removes Host from the header map too
		case "Content-Length":
			n, ok := parseContentLength(val)
			if !ok || q.hasCL || len(line) > maxFramingLine {
				return errCL
			}
			q.hasCL, r.ContentLength = true, n
		case "Transfer-Encoding":
			if len(line) > maxFramingLine {
				return errTE
			}
			nTE++
			te = val
		case "Connection":
			q.connection(val)
		case "Expect":
			if !strings.EqualFold(val, "100-continue") {
				return errExpect
			}
			q.expect = true
		}
		q.add(key, val)
	}
	if q.nHost == 0 && r.ProtoMinor == 1 {
		return errHost
	}
	if nTE > 0 {
		switch {
		case r.ProtoMinor == 0:
			return errHTTP10TE
		case q.hasCL:
			return errAmbiguous
		case nTE > 1 || !strings.EqualFold(te, "chunked"):
			return errTE
		}
		delete(r.Header, "Transfer-Encoding")
		q.chunk, r.ContentLength = true, -1
		r.TransferEncoding = chunkedTE
	}
	if r.ProtoMinor == 0 {
		r.Close = !q.keepAlive10()
	}
	// As net/http does (fixPragmaCacheControl): HTTP/1.0 caches read
	// Pragma only.
	if p, ok := r.Header["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := r.Header["Cache-Control"]; !ok {
			q.add("Cache-Control", "no-cache")
		}
	}
	return nil
}

var chunkedTE = []string{"chunked"}

// maxFramingLine bounds a Content-Length or Transfer-Encoding line, as
// the framing guard does behind net/http (leading zeros could otherwise
// fill a head).
const maxFramingLine = 8 << 10

// add appends a value without allocating a slice for the first one: the
// slices share q.vals, capped so a handler's append copies.
func (q *request) add(key, val string) {
	h := q.Request.Header
	if vv, ok := h[key]; ok {
		h[key] = append(vv, val)
		return
	}
	if len(q.vals) == cap(q.vals) {
		q.vals = make([]string, 0, max(16, 2*cap(q.vals)))
	}
	n := len(q.vals)
	q.vals = append(q.vals, val)
	h[key] = q.vals[n : n+1 : n+1]
}

// connection reads a Connection value's close token (HTTP/1.1).
func (q *request) connection(v string) {
	for v != "" {
		var tok string
		tok, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.Trim(tok, " \t"), "close") {
			q.Request.Close = true
		}
	}
}

// keepAlive10 reports whether an HTTP/1.0 request asked to keep the
// connection (Connection: keep-alive).
func (q *request) keepAlive10() bool {
	for _, v := range q.Request.Header["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(tok, " \t"), "keep-alive") {
				return true
			}
		}
	}
	return false
}

// requestLine parses "METHOD SP target SP HTTP/1.x" (CRLF removed).
func (q *request) requestLine(line []byte) *Error {
	r := &q.Request
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errRequestLine
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errRequestLine
	}
	target, proto := rest[:sp2], rest[sp2+1:]
	for _, c := range line[:sp1] {
		if !tokenByte[c] {
			return errMethod
		}
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return errTarget
		}
	}
	switch string(proto) {
	case "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		if _, _, ok := http.ParseHTTPVersion(string(proto)); ok {
			return errVersion
		}
		return errRequestLine
	}
	method, uri := q.cache.requestLine(line, sp1, sp1+1+sp2)
	r.Method, r.RequestURI = method, uri
	if method == http.MethodConnect {
		// Authority-form; the gateway refuses CONNECT (hygiene), net/http
		// parses the target as a host, not a path.
		if uri == "" || uri[0] == '/' {
			return errTarget
		}
		u, err := url.ParseRequestURI("http://" + uri)
		if err != nil {
			return errTarget
		}
		q.url = *u
		q.url.Scheme = ""
		r.URL, r.Host = &q.url, q.url.Host
		return nil
	}
	if !simplePath(uri) {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return errTarget
		}
		q.url = *u
	} else {
		path, query, _ := strings.Cut(uri, "?")
		q.url = url.URL{Path: path, RawQuery: query}
	}
	r.URL = &q.url
	r.Host = q.url.Host
	return nil
}

// simplePath reports whether url.ParseRequestURI would give uri's path
// unchanged (no escapes, nothing EscapedPath would re-escape) and the
// rest after the first "?" as RawQuery.
func simplePath(uri string) bool {
	if uri == "" || uri[0] != '/' || uri[len(uri)-1] == '?' {
		return false
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c == '?' {
			return true
		}
		if !pathByte[c] {
			return false
		}
	}
	return true
}

// parseContentLength is net/http's: optional surrounding blanks trimmed
// already, digits only, below 2^63.
func parseContentLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false
		}
	}
	return n, true
}

var tokenByte, pathByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		tokenByte[c] = alnum || c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
		pathByte[c] = alnum || c < 0x80 && strings.IndexByte("-._~/$&+,:;=@", byte(c)) >= 0
	}
}

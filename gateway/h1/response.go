package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// response is the ResponseWriter: it keeps the head and up to
// bodyBufSize of body until the handler returns or flushes, so a small
// response leaves in one writev (head, body) with a Content-Length.
type response struct {
	c   *conn
	ex  *exchange
	hdr http.Header

	status      int
	wroteHeader bool // the handler's final status is set
	wroteHead   bool // the head is on the wire
	sent100     bool
	hijacked    bool
	closeAfter  bool
	head        bool  // a HEAD request
	noBody      bool  // the status or method allows no body
	chunked     bool  // the body goes out chunked
	raw         bool  // HTTP/1.0 without a length: the close ends the body
	cl          int64 // declared Content-Length, or -1
	written     int64
	failed      error // a write to the client failed

	hb   []byte // the head being written (pooled)
	wb   []byte // body bytes not yet written (pooled)
	iov  [4][]byte
	bufs net.Buffers
}

// bodyBufSize is the body a response keeps before it commits to chunked
// (or its declared length) and streams.
const bodyBufSize = 4 << 10

// tailKept is how much of a long write waits for the handler's end.
const tailKept = 512

func (w *response) start(c *conn, ex *exchange) {
	w.c, w.ex = c, ex
	w.status, w.cl = 0, -1
	w.head = ex.q.Method == http.MethodHead
	w.closeAfter = ex.q.Close
}

// reset clears w for the next request; its buffers stay with it (the
// exchange is pooled, an idle connection holds none).
func (w *response) reset() {
	clear(w.hdr)
	*w = response{hdr: w.hdr, hb: w.hb[:0], wb: w.wb[:0]}
}

func (w *response) Header() http.Header { return w.hdr }

func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, ok := parseContentLength(strings.TrimSpace(v[0])); ok {
			w.cl = n
		}
	}
	w.noBody = w.head || code == http.StatusNoContent || code == http.StatusNotModified || code < 200
}

// informational writes a 1xx head now, as net/http does.
func (w *response) informational(code int) {
	if w.wroteHead {
		return
	}
	if code == http.StatusContinue {
		w.sent100 = true
	}
	b := w.headBuf()
	b = append(b, "HTTP/1.1 "...)
	b = appendStatus(b, code)
	b = w.appendFields(b, false)
	b = append(b, "\r\n"...)
	w.hb = b
	w.send(b)
	w.hb = w.hb[:0]
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.noBody {
		if w.head {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	if w.failed != nil {
		return 0, w.failed
	}
	w.written += int64(len(p))
	if w.wb == nil {
		w.wb = make([]byte, 0, bodyBufSize)
	}
	if !w.wroteHead && len(w.wb)+len(p) <= cap(w.wb) {
		w.wb = append(w.wb, p...)
		return len(p), nil
	}
	if !w.wroteHead {
		w.commit(false)
	}
	if w.chunked {
		if len(w.wb)+len(p)+20 <= cap(w.wb) {
			w.wb = appendChunk(w.wb, p)
			return len(p), nil
		}
		var size [20]byte
		w.flushWith(appendChunkSize(size[:0], len(p)), p, crlf)
	} else if len(w.wb)+len(p) <= cap(w.wb) {
		w.wb = append(w.wb, p...)
		return len(p), nil
	} else {
		// The tail stays buffered until the handler returns or flushes:
		// a client must not read a complete response (and move on)
		// before the handler has finished, as with net/http's buffering.
		k := min(len(p), tailKept)
		w.flushWith(nil, p[:len(p)-k], nil)
		w.wb = append(w.wb, p[len(p)-k:]...)
	}
	if w.failed != nil {
		return 0, w.failed
	}
	return len(p), nil
}

func (w *response) WriteString(s string) (int, error) {
	// Through Write: its copy into the buffer is the only one.
	return w.Write(unsafeBytes(s))
}

var crlf = []byte("\r\n")

func appendChunk(b, p []byte) []byte {
	b = appendChunkSize(b, len(p))
	b = append(b, p...)
	return append(b, "\r\n"...)
}

func appendChunkSize(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 16)
	return append(b, "\r\n"...)
}

// commit writes the head into hb; final: the handler has returned, so a
// body that fits the buffer gets a Content-Length.
func (w *response) commit(final bool) {
	w.wroteHead = true
	q := &w.ex.q
	if v := w.hdr["Connection"]; len(v) > 0 && hasToken(v, "close") {
		w.closeAfter = true
	}
	if w.c.srv.shutdown.Load() {
		w.closeAfter = true
	}
	if !w.noBody && w.cl < 0 {
		switch {
		case final:
			w.cl = int64(len(w.wb))
		case q.ProtoMinor == 0:
			w.raw, w.closeAfter = true, true
		default:
			w.chunked = true
		}
	}
	b := w.headBuf()
	b = append(b, "HTTP/1.1 "...)
	b = appendStatus(b, w.status)
	b = w.appendFields(b, true)
	if _, ok := w.hdr["Date"]; !ok {
		b = append(b, "Date: "...)
		b = append(b, date()...)
		b = append(b, "\r\n"...)
	}
	if _, ok := w.hdr["Content-Type"]; !ok && !w.noBody && len(w.wb) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.wb)...)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case w.cl >= 0 && (!w.noBody || w.status != http.StatusNoContent && w.status >= 200):
		// A bodiless answer (HEAD, 304) keeps a length the handler declared.
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.cl, 10)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.closeAfter:
		b = append(b, "Connection: close\r\n"...)
	case q.ProtoMinor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.hb = b
	if w.chunked && len(w.wb) > 0 {
		// What was buffered becomes the first chunk.
		var size [20]byte
		first := w.wb
		w.wb = w.wb[len(w.wb):]
		w.flushWith(appendChunkSize(size[:0], len(first)), first, crlf)
		w.wb = first[:0]
	}
}

// appendFields writes the handler's header fields, skipping the framing
// ones the writer owns (final) and any name or value that could split
// the head.
func (w *response) appendFields(b []byte, final bool) []byte {
	for k, vv := range w.hdr {
		if final {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
				if k == "Trailer" && len(vv) > 0 && w.chunked {
					break
				}
				continue
			}
			if strings.HasPrefix(k, http.TrailerPrefix) {
				continue
			}
		}
		b = appendField(b, k, vv)
	}
	return b
}

// appendField writes name's lines, unless name could split the head.
func appendField(b []byte, name string, vv []string) []byte {
	if !httpguts.ValidHeaderFieldName(name) {
		return b
	}
	for _, v := range vv {
		b = append(b, name...)
		b = append(b, ": "...)
		b = appendValue(b, v)
		b = append(b, "\r\n"...)
	}
	return b
}

// appendValue writes v with CR and LF turned into spaces (as net/http).
func appendValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

func (w *response) headBuf() []byte {
	if w.hb == nil {
		w.hb = make([]byte, 0, bodyBufSize)
	}
	return w.hb[:0]
}

// flushWith writes the head (if pending), the buffered body, and then
// pre, p and post, in one writev.
func (w *response) flushWith(pre, p, post []byte) {
	iov := w.iov[:0]
	if len(w.hb) > 0 {
		iov = append(iov, w.hb)
	}
	if len(w.wb) > 0 {
		iov = append(iov, w.wb)
	}
	for _, s := range [3][]byte{pre, p, post} {
		if len(s) > 0 {
			iov = append(iov, s)
		}
	}
	w.bufs = iov
	if len(w.bufs) > 0 && w.failed == nil {
		if _, err := w.bufs.WriteTo(w.c.nc); err != nil {
			w.failed = err
			w.closeAfter = true
		}
	}
	w.iov = [4][]byte{}
	w.hb = w.hb[:0]
	w.wb = w.wb[:0]
}

func (w *response) send(b []byte) {
	if w.failed != nil {
		return
	}
	if _, err := w.c.nc.Write(b); err != nil {
		w.failed = err
		w.closeAfter = true
	}
}

// Flush sends the head and what is buffered (http.Flusher).
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting the write's error (ResponseController).
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wroteHead {
		w.commit(false)
	}
	w.flushWith(nil, nil, nil)
	return w.failed
}

// finish completes the response after the handler returned.
func (w *response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wroteHead {
		w.commit(true)
	}
	if w.chunked {
		w.wb = append(w.wb, "0\r\n"...)
		w.wb = w.appendTrailers(w.wb)
		w.wb = append(w.wb, "\r\n"...)
	} else if w.cl >= 0 && w.written < w.cl && !w.noBody {
		w.closeAfter = true // the client would wait for bytes never sent
	}
	w.flushWith(nil, nil, nil)
	return w.failed
}

// appendTrailers writes the declared trailers and those set with
// http.TrailerPrefix.
func (w *response) appendTrailers(b []byte) []byte {
	for k, vv := range w.hdr {
		name := ""
		if strings.HasPrefix(k, http.TrailerPrefix) {
			name = k[len(http.TrailerPrefix):]
		} else if hasToken(w.hdr["Trailer"], k) {
			name = k
		}
		switch http.CanonicalHeaderKey(name) {
		case "", "Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Host":
			continue
		}
		b = appendField(b, name, vv)
	}
	return b
}

// hasToken reports whether a comma-separated list holds tok (any case).
func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// Hijack hands the connection over (http.Hijacker), with the bytes read
// past this request's head in the reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHead {
		// What was sent already cannot be taken back; flush the rest.
		w.flushWith(nil, nil, nil)
	}
	w.hijacked = true
	c := w.c
	var br *bufio.Reader
	if n := c.in.w - c.in.r; n > 0 {
		unread := bytes.Clone(c.in.buf[c.in.r:c.in.w])
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(unread), c.nc), max(n, 16))
		_, _ = br.Peek(n)
	} else {
		br = bufio.NewReader(c.nc)
	}
	c.in.r = c.in.w
	c.release()
	_ = c.nc.SetDeadline(time.Time{})
	c.srv.forget(c)
	return c.nc, bufio.NewReadWriter(br, bufio.NewWriter(c.nc)), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
// There is no background read to disturb: a deadline applies to the
// handler's own body reads and writes.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex: reading the body while writing the response is what
// this writer always allows.
func (w *response) EnableFullDuplex() error { return nil }

func appendStatus(b []byte, code int) []byte {
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	return append(b, "\r\n"...)
}

// unsafeBytes views s as bytes for a write that only copies them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// The Date header, formatted once a second.
var dateCache atomic.Pointer[dateStamp]

type dateStamp struct {
	sec  int64
	text string
}

func date() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateStamp{now.Unix(), now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

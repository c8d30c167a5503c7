package compress

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

type state uint8

const (
	stateNew       state = iota // no final status yet
	stateBuffering              // eligible, waiting for MinBytes or a type to sniff
	statePlain                  // passing through unchanged
	stateGzip                   // compressing
)

// writer is the ResponseWriter handed to the wrapped handler.
type writer struct {
	c       *Compressor
	w       http.ResponseWriter
	accepts bool

	state  state
	status int
	buf    []byte // body held while undecided
	gz     *gzip.Writer
}

func (cw *writer) Header() http.Header { return cw.w.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (cw *writer) Unwrap() http.ResponseWriter { return cw.w }

func (cw *writer) WriteHeader(code int) {
	if cw.state != stateNew {
		return
	}
	if code < 200 { // 1xx informational: not the final response
		cw.w.WriteHeader(code)
		return
	}
	cw.status = code
	h := cw.w.Header()
	if !bodyAllowed(code) || code == http.StatusPartialContent ||
		h.Get("Content-Encoding") != "" || hasToken(h["Cache-Control"], "no-transform") {
		cw.plain()
		return
	}
	if _, ok := h["Content-Type"]; ok {
		if !cw.c.compressible(h.Get("Content-Type")) {
			cw.plain()
			return
		}
		addVary(h)
		if !cw.accepts {
			cw.plain()
			return
		}
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n < int64(cw.c.minBytes) {
			cw.plain()
			return
		}
		if _, ok := h["Content-Type"]; ok {
			cw.startGzip()
			return
		}
	}
	cw.state = stateBuffering
}

func (cw *writer) Write(p []byte) (int, error) {
	if cw.state == stateNew {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case stateGzip:
		return cw.gz.Write(p)
	case stateBuffering:
		cw.buf = append(cw.buf, p...)
		if len(cw.buf) >= cw.c.minBytes {
			if err := cw.decide(false); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	return cw.w.Write(p)
}

// Flush decides at once if still buffering (a streaming handler must not be
// held back), then flushes the gzip stream and the underlying writer.
func (cw *writer) Flush() {
	if cw.state == stateNew {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.state == stateBuffering {
		if cw.decide(false) != nil {
			return
		}
	}
	if cw.state == stateGzip {
		if cw.gz.Flush() != nil {
			return
		}
	}
	http.NewResponseController(cw.w).Flush() //nolint:errcheck // best effort, like http.Flusher
}

// decide ends buffering: it sniffs a missing Content-Type, then compresses
// unless the body turned out small (final: the handler is done).
func (cw *writer) decide(final bool) error {
	h := cw.w.Header()
	if _, ok := h["Content-Type"]; !ok {
		if len(cw.buf) == 0 {
			// Flushed before any byte: the type is unknown and nothing can
			// be sniffed, so pass through as net/http would.
			return cw.flushPlain()
		}
		// Sniff now: after compression net/http would sniff gzip bytes.
		h.Set("Content-Type", http.DetectContentType(cw.buf))
		if !cw.c.compressible(h.Get("Content-Type")) {
			return cw.flushPlain()
		}
		addVary(h)
	}
	if !cw.accepts || (final && len(cw.buf) < cw.c.minBytes) {
		return cw.flushPlain()
	}
	cw.startGzip()
	_, err := cw.gz.Write(cw.buf)
	cw.buf = cw.buf[:0]
	return err
}

func (cw *writer) flushPlain() error {
	cw.plain()
	if len(cw.buf) == 0 {
		return nil
	}
	_, err := cw.w.Write(cw.buf)
	cw.buf = cw.buf[:0]
	return err
}

func (cw *writer) plain() {
	cw.state = statePlain
	cw.w.WriteHeader(cw.status)
}

func (cw *writer) startGzip() {
	h := cw.w.Header()
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	h.Set("Content-Encoding", "gzip")
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et)
	}
	cw.state = stateGzip
	cw.gz = cw.c.gzPool.Get().(*gzip.Writer)
	cw.gz.Reset(cw.w)
	cw.w.WriteHeader(cw.status)
}

// finish completes the response after the handler returned.
func (cw *writer) finish() {
	switch cw.state {
	case stateBuffering:
		if len(cw.buf) == 0 {
			cw.plain() // empty body: nothing to compress
			return
		}
		if cw.decide(true) != nil {
			return
		}
		if cw.state != stateGzip {
			return
		}
		fallthrough
	case stateGzip:
		cw.gz.Close() //nolint:errcheck // the client went away; nothing to do
		cw.gz.Reset(nil)
		cw.c.gzPool.Put(cw.gz)
		cw.gz = nil
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func hasToken(lines []string, tok string) bool {
	for _, l := range lines {
		for _, t := range strings.Split(l, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t == "*" || strings.EqualFold(t, "Accept-Encoding") {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

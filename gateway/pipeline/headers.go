package pipeline

import (
	"bufio"
	"net"
	"net/http"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"github.com/drawbridge-dev/drawbridge/gateway/cors"
	"github.com/drawbridge-dev/drawbridge/gateway/headers"
)

// Value gives the headers rules' placeholders ({route} is compiled in).
func (q *Request) Value(v headers.Var) string {
	switch v {
	case headers.ClientIP:
		return clientip.Of(q.R)
	case headers.RequestID:
		return q.TraceID
	case headers.Subject:
		return q.Identity
	case headers.Backend:
		if q.Backend != nil {
			return q.Backend.ID()
		}
	case headers.Host:
		return q.R.Host
	case headers.Method:
		return q.R.Method
	case headers.Path:
		return q.R.URL.Path
	}
	return ""
}

// NewRequestHeaders applies a route's request header rules; it runs after
// auth, so {subject} is known, and the forward still removes hop-by-hop
// headers and sets the forwarding ones after it.
func NewRequestHeaders(c *headers.Compiled, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		c.Apply(q.R.Header, q)
		return next.Serve(q)
	})
}

// NewResponseHeaders applies a route's response header rules to whatever
// answers the request, the gateway's own refusals included: it is the
// outermost stage and applies them when the response head is written.
func NewResponseHeaders(c *headers.Compiled, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		q.W = &headWriter{ResponseWriter: q.W, before: func(h http.Header) { c.Apply(h, q) }}
		return next.Serve(q)
	})
}

// NewCORS answers preflights and adds the CORS headers to the route's
// other responses. It runs before the access rules and auth: a preflight
// carries no credentials and is an OPTIONS the route may not serve.
func NewCORS(p *cors.Policy, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		if cors.IsPreflight(q.R) {
			p.Preflight(q.W, q.R)
			q.Status = http.StatusNoContent
			return nil
		}
		origin := ""
		if o := q.R.Header["Origin"]; len(o) > 0 {
			origin = o[0]
		}
		q.W = &headWriter{ResponseWriter: q.W, before: func(h http.Header) { p.Actual(h, origin) }}
		return next.Serve(q)
	})
}

// headWriter calls before on the response header just before the head is
// written.
type headWriter struct {
	http.ResponseWriter
	before func(http.Header)
	done   bool
}

func (w *headWriter) head() {
	if !w.done {
		w.done = true
		w.before(w.ResponseWriter.Header())
	}
}

func (w *headWriter) WriteHeader(code int) {
	// 1xx heads are interim; the rules are for the final one.
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.head()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.head()
	return w.ResponseWriter.Write(p)
}

func (w *headWriter) Flush() {
	w.head()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack applies the rules first: a protocol switch writes its 101 head
// from the header map itself, after taking the connection over.
func (w *headWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.head()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines).
func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

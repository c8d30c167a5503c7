package pipeline

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/cache"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
)

// NewDeadline bounds the whole request, retries included.
func NewDeadline(d time.Duration, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		ctx, cancel := context.WithTimeout(q.R.Context(), d)
		defer cancel()
		q.R = q.R.WithContext(ctx)
		return next.Serve(q)
	})
}

// NewCount records the status and body size of what the stages after it
// write (static files, cache hits, compressed bodies), in place of what the
// forward saw.
func NewCount(next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		cw := &countingWriter{ResponseWriter: q.W}
		q.W = cw
		err := next.Serve(q)
		q.Status, q.Bytes = cw.status, cw.n
		if q.Status == 0 {
			q.Status = http.StatusOK
		}
		return err
	})
}

// NewPathRewrite applies a route's prefix rewrite to the request path
// itself, for a route that serves files (looked up by that path). target
// is the route's rewritten request target.
func NewPathRewrite(target func(*http.Request) string, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		p, _, _ := strings.Cut(target(q.R), "?")
		r := new(http.Request)
		*r = *q.R
		u := *r.URL
		if dec, err := url.PathUnescape(p); err == nil {
			u.Path, u.RawPath = dec, ""
		}
		r.URL = &u
		q.R = r
		return next.Serve(q)
	})
}

// NewStatic serves files; it ends the chain.
func NewStatic(h *static.Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		h.ServeHTTP(q.W, q.R)
		return nil
	})
}

// NewCache answers from c or fetches through next. Auth has run (and may
// have stripped the credentials): q says who sent the request, as the
// client sent it.
func NewCache(c *cache.Cache, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		var err error
		who := cache.Requester{Authenticated: q.Authenticated, Subject: q.Identity}
		c.ServeAs(q.W, q.R, func(w http.ResponseWriter, r *http.Request) {
			q.W, q.R = w, r
			err = next.Serve(q)
		}, who)
		return err
	})
}

// NewCompress gzips what next writes when the client accepts it.
func NewCompress(c *compress.Compressor, next Handler) Handler {
	return HandlerFunc(func(q *Request) error {
		var err error
		c.Serve(q.W, q.R, func(w http.ResponseWriter, r *http.Request) {
			q.W, q.R = w, r
			err = next.Serve(q)
		})
		return err
	})
}

// countingWriter records the status and body size of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (hijack for
// upgrades, read deadlines).
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

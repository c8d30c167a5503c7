package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/drawbridge-dev/drawbridge/gateway/hygiene"
	"github.com/drawbridge-dev/drawbridge/gateway/pipeline"
	"github.com/drawbridge-dev/drawbridge/gateway/trace"
)

// ServeHTTP is the request path: the checks every request passes (hygiene,
// the HTTPS redirect, load shedding), the route's compiled chain
// (pipeline.Build documents its order), then one record of the outcome.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := g.rt.Load()
	st := requests.Get().(*reqState)
	st.out = meteredWriter{ResponseWriter: w}
	q := &st.q
	q.Reset(&st.out, r, g.clk.Now())
	var rr *routeRuntime
	defer func() {
		g.record(rt, rr, r, st)
		if st.in != nil {
			// The server looks at r.Body's own type after the handler
			// (a body closed early closes the connection).
			r.Body = st.in.ReadCloser
		}
		*st = reqState{} // keeps nothing of this request alive
		requests.Put(st)
	}()
	err := g.serve(rt, st, &rr)
	q.Settle(err)
	if e, ok := err.(*pipeline.Error); ok && e.Abort {
		panic(http.ErrAbortHandler) // recorded first, by the deferred record
	}
}

// requests recycles the per-request state: it escapes into the chain's
// stages, and a request must not cost an allocation for it.
var requests = sync.Pool{New: func() any { return new(reqState) }}

// reqState is a request's pipeline state and the meters of what crossed
// the client connection, which every stage writes and reads through: the
// access log's byte counts include the gateway's own answers.
type reqState struct {
	q   pipeline.Request
	out meteredWriter
	in  *meteredBody // nil without a body
}

// serve admits the request and runs its route's chain; *rr is the route,
// once known.
func (g *Gateway) serve(rt *runtime, st *reqState, rr **routeRuntime) error {
	q := &st.q
	w, r := q.W, q.R
	var hop hygiene.Hop
	// The server's own writer: MaxBytesReader tells it to close the
	// connection after a 413, which it cannot through the meter.
	ref := rt.rules.Check(st.out.ResponseWriter, r, &hop)
	if hop.SawUpgrade {
		// The framing guard stopped following this connection at the
		// Upgrade header: unless the protocol switch happens, it carries
		// no further request. The forward lifts this for an upgrade it relays.
		w.Header().Set("Connection", "close")
	}
	if ref != nil {
		return pipeline.Refuse(w, ref.Status, ref.Msg, strings.TrimSpace(ref.Msg), ref.Close)
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Counted as the stages read it, through the hygiene limits. Not
		// pooled: an h2c transport may still read a body after the
		// request ended.
		st.in = &meteredBody{ReadCloser: r.Body}
		r.Body = st.in
	}
	if t := rt.cfg.TLS; t != nil && t.RedirectHTTP && r.TLS == nil {
		port := ""
		if p := g.httpsPort.Load(); p != nil {
			port = *p
		} else if _, p, err := net.SplitHostPort(t.Listen); err == nil {
			port = p
		}
		http.Redirect(w, r, httpsURL(r, port), http.StatusPermanentRedirect)
		q.Status = http.StatusPermanentRedirect
		return nil
	}
	if n := g.inflight.Add(1); rt.maxConcurrent > 0 && n > rt.maxConcurrent {
		g.inflight.Add(-1)
		w.Header().Set("Retry-After", "1")
		e := pipeline.Refuse(w, http.StatusServiceUnavailable, "gateway overloaded\n", "load shed", false)
		e.Rejected = "gateway_overloaded"
		return e
	}
	g.metrics.Inflight().Inc()
	defer func() {
		g.inflight.Add(-1)
		g.metrics.Inflight().Dec()
	}()
	q.TraceID = trace.EnsureTraceparent(r)
	if *rr = rt.lookup(r); *rr == nil {
		return pipeline.Refuse(w, http.StatusNotFound, "no route for this request\n", "no route", false)
	}
	// Whether the client sent credentials, read before auth strips them:
	// the cache must not share a response to an authenticated request.
	_, q.Authenticated = r.Header["Authorization"]
	q.Upgrade, q.CloseConn = hygiene.PickUpgrade((*rr).upgrades, hop.Upgrade), hop.SawUpgrade
	return (*rr).chain.Serve(q)
}

func (rt *runtime) lookup(r *http.Request) *routeRuntime {
	m := rt.table.Match(r)
	if m == nil {
		return nil
	}
	return rt.routes[m.Index]
}

// httpsURL is r's URL on the HTTPS listener: the same host, the listener's
// port unless it is 443.
func httpsURL(r *http.Request, port string) string {
	host := stripHostPort(r.Host)
	if port != "443" && port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "https://" + host + r.URL.RequestURI()
}

func stripHostPort(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// record is the one record of a request, however it ended: route metrics,
// the refusal counter and the access log line. r is the request as the
// client sent it (after hygiene), not as a stage rewrote it.
func (g *Gateway) record(rt *runtime, rr *routeRuntime, r *http.Request, st *reqState) {
	q := &st.q
	if q.Rejected != "" {
		g.metrics.Rejected(q.Rejected)
	}
	status := q.Status
	dur := g.clk.Now().Sub(q.Start)
	m := g.notFound
	routeName, poolName := "", ""
	if rr != nil {
		m = rr.m
		routeName, poolName = rr.r.Name, rr.r.Pool
	}
	m.Observe(status, dur)
	var tr trace.Route
	if rr != nil {
		tr = trace.Route{Name: rr.r.Name, PathPrefix: rr.r.PathPrefix, Pool: rr.r.Pool}
	}
	trace.Outcome(r, tr, q.Backend, status, q.Reason)
	al := rt.accessLog
	if al == nil {
		return
	}
	backend, upstream := "", ""
	if q.Backend != nil {
		backend, upstream = q.Backend.ID(), q.Backend.Addr()
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("query", al.queryOf(r)),
		slog.String("proto", r.Proto),
		slog.String("client", r.RemoteAddr),
		slog.String("user_agent", r.UserAgent()),
		slog.String("subject", q.Identity),
		slog.Int("status", status),
		slog.Int64("bytes", st.bytesOut(r)),
		slog.Int64("bytes_in", st.in.count()),
		slog.Float64("duration_ms", float64(dur.Microseconds())/1000),
		slog.String("route", routeName),
		slog.String("pool", poolName),
		slog.String("backend", backend),
		slog.String("upstream", upstream),
		slog.Int("tries", q.Tries),
		slog.String("trace_id", q.TraceID),
	}
	if q.Reason != "" {
		attrs = append(attrs, slog.String("error", q.Reason))
	}
	al.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// bytesOut is the response body bytes the client was sent.
func (st *reqState) bytesOut(r *http.Request) int64 {
	if r.Method == http.MethodHead {
		return 0 // the server discards what a HEAD handler writes
	}
	// An upgraded connection's tunnel writes to the hijacked connection,
	// past the meter; the forward counted it.
	return max(st.out.n, st.q.Bytes)
}

// meteredWriter counts the response body bytes written to the client.
type meteredWriter struct {
	http.ResponseWriter
	n int64
}

func (m *meteredWriter) Write(p []byte) (int, error) {
	n, err := m.ResponseWriter.Write(p)
	m.n += int64(n)
	return n, err
}

// ReadFrom keeps the server's sendfile path for static files.
func (m *meteredWriter) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := m.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{m.ResponseWriter}, src)
	}
	m.n += n
	return n, err
}

func (m *meteredWriter) Flush() {
	if f, ok := m.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (hijack for
// upgrades, read and write deadlines).
func (m *meteredWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// meteredBody counts the request body bytes the gateway read.
type meteredBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (m *meteredBody) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	m.n.Add(int64(n))
	return n, err
}

func (m *meteredBody) count() int64 {
	if m == nil {
		return 0
	}
	return m.n.Load()
}

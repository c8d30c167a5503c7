package gateway

import (
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/drawbridge-dev/drawbridge/gateway/accesslog"
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
	st.out = accesslog.ResponseMeter{ResponseWriter: w}
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
	out accesslog.ResponseMeter
	in  *accesslog.BodyMeter // nil without a body
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
		st.in = &accesslog.BodyMeter{ReadCloser: r.Body}
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
	dur := g.clk.Now().Sub(q.Start)
	m := g.notFound
	var tr trace.Route
	if rr != nil {
		m = rr.m
		tr = trace.Route{Name: rr.r.Name, PathPrefix: rr.r.PathPrefix, Pool: rr.r.Pool}
	}
	m.Observe(q.Status, dur)
	trace.Outcome(r, tr, q.Backend, q.Status, q.Reason)
	if rt.accessLog == nil {
		return
	}
	e := accesslog.Entry{Status: q.Status, BytesOut: st.bytesOut(r), BytesIn: st.in.Count(), Duration: dur,
		Route: tr.Name, Pool: tr.Pool, Tries: q.Tries, Subject: q.Identity, TraceID: q.TraceID, Error: q.Reason}
	if q.Backend != nil {
		e.Backend, e.Upstream = q.Backend.ID(), q.Backend.Addr()
	}
	rt.accessLog.Log(r, &e)
}

// bytesOut is the response body bytes the client was sent.
func (st *reqState) bytesOut(r *http.Request) int64 {
	if r.Method == http.MethodHead {
		return 0 // the server discards what a HEAD handler writes
	}
	// An upgraded connection's tunnel writes to the hijacked connection,
	// past the meter; the forward counted it.
	return max(st.out.N, st.q.Bytes)
}

package gateway

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// ServeHTTP is the request path: route, pick, forward, account.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.clk.Now()
	g.inflight.Add(1)
	g.metrics.inflight.Inc()
	defer func() {
		g.inflight.Add(-1)
		g.metrics.inflight.Dec()
	}()
	rt := g.rt.Load()
	traceID := ensureTraceparent(r)

	rr := rt.lookup(r)
	if rr == nil {
		g.answer(w, http.StatusNotFound, "no route for this request\n")
		g.account(rt, nil, nil, r, start, http.StatusNotFound, 0, traceID, "no route")
		return
	}
	p := rr.pool
	v := p.view.Load()

	var b *upstream.Backend
	if v.sticky != nil {
		b = v.sticky.Pin(r, v.lookup)
	}
	pinned := b != nil
	if b == nil {
		req := balance.Request{Now: start.UnixNano()}
		if v.key != nil {
			req.Hash = v.key(r)
		}
		b = v.bal.Pick(&req)
	}
	if b == nil {
		w.Header().Set("Retry-After", "1")
		g.answer(w, http.StatusServiceUnavailable, "no healthy backend\n")
		g.account(rt, rr, nil, r, start, http.StatusServiceUnavailable, 0, traceID, "no healthy backend")
		return
	}
	if v.sticky != nil && !pinned {
		http.SetCookie(w, v.sticky.Cookie(b, start))
	}
	mem := b.Ext.Load().(*member)

	b.Acquire()
	res := mem.up.Forward(w, r, rr.r.Target(r), nil)
	b.Release()
	end := g.clk.Now()

	status := res.Status
	failed := false
	errMsg := ""
	switch res.Kind {
	case proxy.ErrNone:
		failed = status >= 500
		b.ObserveLatency(end.UnixNano(), end.Sub(start))
	case proxy.ErrClientGone:
		// Not the backend's fault; 499 as nginx logs it.
		status = 499
		errMsg = res.Err.Error()
	default:
		failed = true
		b.Failures.Add(1)
		errMsg = res.Err.Error()
		if !res.HeadersSent {
			if res.Kind == proxy.ErrTimeout {
				status = http.StatusGatewayTimeout
				g.answer(w, status, "backend timed out\n")
			} else {
				status = http.StatusBadGateway
				g.answer(w, status, "backend unavailable\n")
			}
		}
	}
	if res.Kind != proxy.ErrClientGone {
		p.report(b, failed)
	}
	if status != 499 {
		mem.m.reqs[classIndex(status)].Inc()
		mem.m.dur.Observe(end.Sub(start).Seconds())
	}
	g.account(rt, rr, b, r, start, status, res.BytesOut, traceID, errMsg)
	if res.HeadersSent && res.Err != nil && res.Kind != proxy.ErrClientGone {
		// The response is half sent: abort the client connection so the
		// client sees a truncated response rather than a complete-looking one.
		panic(http.ErrAbortHandler)
	}
}

func (rt *runtime) lookup(r *http.Request) *routeRuntime {
	m := rt.table.Match(r)
	if m == nil {
		return nil
	}
	return rt.routes[m.Index]
}

// answer writes a short plain-text response of the gateway's own.
func (g *Gateway) answer(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// account records route metrics and the access log line.
func (g *Gateway) account(rt *runtime, rr *routeRuntime, b *upstream.Backend, r *http.Request, start time.Time, status int, bytes int64, traceID, errMsg string) {
	dur := g.clk.Now().Sub(start)
	m := g.notFound
	routeName, poolName := "", ""
	if rr != nil {
		m = rr.m
		routeName, poolName = rr.r.Name, rr.r.Pool
	}
	m.reqs[classIndex(status)].Inc()
	m.dur.Observe(dur.Seconds())
	if rt.accessLog == nil {
		return
	}
	backend := ""
	if b != nil {
		backend = b.ID()
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("proto", r.Proto),
		slog.String("client", r.RemoteAddr),
		slog.Int("status", status),
		slog.Int64("bytes", bytes),
		slog.Float64("duration_ms", float64(dur.Microseconds())/1000),
		slog.String("route", routeName),
		slog.String("pool", poolName),
		slog.String("backend", backend),
		slog.String("trace_id", traceID),
	}
	if errMsg != "" {
		attrs = append(attrs, slog.String("error", errMsg))
	}
	rt.accessLog.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

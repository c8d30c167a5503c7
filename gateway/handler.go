package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// ServeHTTP is the request path: shed, route, bulkhead, then tries of
// pick-and-forward until one answers or the retry policy gives up.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.clk.Now()
	rt := g.rt.Load()
	restoreTLS(r)
	var hop hopInfo
	ref := g.checkRequest(w, r, rt, &hop)
	if hop.sawUpgrade {
		// The framing guard stopped following this connection at the
		// Upgrade header: unless the protocol switch happens, it carries
		// no further request. serve lifts this for an upgrade it relays.
		w.Header().Set("Connection", "close")
	}
	if ref != nil {
		g.refuse(w, ref)
		g.account(rt, nil, nil, r, start, ref.status, 0, "", strings.TrimSpace(ref.msg))
		return
	}
	if t := rt.cfg.TLS; t != nil && t.RedirectHTTP && r.TLS == nil {
		port := ""
		if p := g.httpsPort.Load(); p != nil {
			port = *p
		} else if _, p, err := net.SplitHostPort(t.Listen); err == nil {
			port = p
		}
		http.Redirect(w, r, httpsURL(r, port), http.StatusPermanentRedirect)
		g.account(rt, nil, nil, r, start, http.StatusPermanentRedirect, 0, "", "")
		return
	}
	if n := g.inflight.Add(1); rt.maxConcurrent > 0 && n > rt.maxConcurrent {
		g.inflight.Add(-1)
		g.metrics.rejected.WithLabelValues("gateway_overloaded").Inc()
		w.Header().Set("Retry-After", "1")
		g.answer(w, http.StatusServiceUnavailable, "gateway overloaded\n")
		g.account(rt, nil, nil, r, start, http.StatusServiceUnavailable, 0, "", "load shed")
		return
	}
	g.metrics.inflight.Inc()
	defer func() {
		g.inflight.Add(-1)
		g.metrics.inflight.Dec()
	}()
	traceID := ensureTraceparent(r)

	rr := rt.lookup(r)
	if rr == nil {
		g.answer(w, http.StatusNotFound, "no route for this request\n")
		g.account(rt, nil, nil, r, start, http.StatusNotFound, 0, traceID, "no route")
		return
	}
	if ref := rr.access.check(w, r); ref != nil {
		g.refuse(w, ref)
		g.account(rt, rr, nil, r, start, ref.status, 0, traceID, strings.TrimSpace(ref.msg))
		return
	}
	var identity string
	// Whether the client sent credentials, read before auth strips them:
	// the cache must not share a response to an authenticated request.
	_, authenticated := r.Header["Authorization"]
	limited := false // the route's token is taken
	if rr.auth != nil {
		authenticated = true
		var ok bool
		if limited, ok = g.limitBeforeAuth(w, r, rt, rr, start, traceID); !ok {
			return
		}
		id, aerr := rr.auth.Authenticate(w, r) // answers 401/403 itself
		if aerr != nil {
			g.chargeAuthFailure(r, rr, aerr, limited)
			g.account(rt, rr, nil, r, start, aerr.Status, 0, traceID, aerr.Error())
			return
		}
		identity = id.Subject
	} else if _, spoofed := r.Header[rr.idHeader]; spoofed {
		delete(r.Header, rr.idHeader) // only the gateway may assert an identity
	}
	if rl := rr.limit; rl != nil && !limited {
		d := rl.limiter.Allow(rl.key(r, identity))
		if !d.Allowed {
			g.rateLimited(w, r, rt, rr, start, traceID, d, "rate_limit", "rate limited")
			return
		}
		d.WriteHeaders(w.Header())
	}
	if err := rr.bulkhead.Acquire(r.Context()); err != nil {
		g.metrics.rejected.WithLabelValues("route_concurrency").Inc()
		w.Header().Set("Retry-After", "1")
		g.answer(w, http.StatusServiceUnavailable, "route at capacity\n")
		g.account(rt, rr, nil, r, start, http.StatusServiceUnavailable, 0, traceID, err.Error())
		return
	}
	defer rr.bulkhead.Release()

	x := exchange{g: g, rt: rt, rr: rr, w: w, r: r, client: r.Context(), start: start, traceID: traceID,
		upgrade: rr.pickUpgrade(hop.upgrade), closeConn: hop.sawUpgrade, identity: identity, authenticated: authenticated}
	if rr.pool != nil {
		x.v = rr.pool.view.Load()
	}
	if rr.overall > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), rr.overall)
		defer cancel()
		x.r = r.WithContext(ctx)
	}
	if rr.handler == nil {
		x.serve()
		return
	}
	// Static files, the cache and compression sit in front of (or instead
	// of) the forward; the request carries the exchange to the end of the
	// chain, and the outcome is accounted here, cache hits included.
	cw := &countingWriter{ResponseWriter: w}
	x.chained = true
	cr := x.r.WithContext(context.WithValue(x.r.Context(), exchangeKey{}, &x))
	if rr.pool == nil && (rr.r.StripPrefix || rr.r.RewritePrefix != "") {
		// Files are looked up by the request path, so the route's prefix
		// rewrite applies to the path itself.
		target := rr.r.Target(cr)
		p, _, _ := strings.Cut(target, "?")
		u := *cr.URL
		if dec, err := url.PathUnescape(p); err == nil {
			u.Path, u.RawPath = dec, ""
		}
		cr.URL = &u
	}
	rr.handler.ServeHTTP(cw, cr)
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	g.account(rt, rr, x.lastB, r, start, status, cw.n, traceID, x.errMsg)
}

// limitBeforeAuth applies the limits that must run before the credentials
// are checked, as nginx's limit_req runs before auth_basic: a guess refused
// here costs no bcrypt, and failed logins count against the route's limit.
// It answers 429 itself and reports !ok when the request is refused, and
// taken when the route's token was charged already.
func (g *Gateway) limitBeforeAuth(w http.ResponseWriter, r *http.Request, rt *runtime, rr *routeRuntime, start time.Time, traceID string) (taken, ok bool) {
	if f := rr.failures; f != nil {
		if d := f.limiter.Peek(ratelimit.ClientIP(r)); !d.Allowed {
			g.rateLimited(w, r, rt, rr, start, traceID, d, "auth_failures", "too many failed authentications")
			return false, false
		}
	}
	rl := rr.limit
	if rl == nil {
		return false, true
	}
	if rl.byIdentity {
		// No identity yet. Failures are charged to the client address
		// (the key's own fallback) once they happen; an address whose
		// bucket is spent is refused now. Successes take from the
		// subject's bucket, so users behind one address are not limited
		// together.
		if d := rl.limiter.Peek(rl.key(r, "")); !d.Allowed {
			g.rateLimited(w, r, rt, rr, start, traceID, d, "rate_limit", "rate limited")
			return false, false
		}
		return false, true
	}
	d := rl.limiter.Allow(rl.key(r, ""))
	if !d.Allowed {
		g.rateLimited(w, r, rt, rr, start, traceID, d, "rate_limit", "rate limited")
		return false, false
	}
	d.WriteHeaders(w.Header())
	return true, true
}

// chargeAuthFailure counts a refused authentication: against the client's
// failure budget when wrong credentials were presented (a 401 with a
// Method; a request without credentials guesses nothing, and browsers send
// one before every prompt; a 403 had valid ones), and against the route's
// limit when that is keyed by identity and so was not charged yet.
func (g *Gateway) chargeAuthFailure(r *http.Request, rr *routeRuntime, aerr *auth.Error, taken bool) {
	if f := rr.failures; f != nil && aerr.Status == http.StatusUnauthorized && aerr.Method != "" {
		f.limiter.Allow(ratelimit.ClientIP(r))
	}
	if rl := rr.limit; rl != nil && !taken {
		rl.limiter.Allow(rl.key(r, ""))
	}
}

// rateLimited answers and accounts a request refused by a rate limit.
func (g *Gateway) rateLimited(w http.ResponseWriter, r *http.Request, rt *runtime, rr *routeRuntime, start time.Time, traceID string, d ratelimit.Decision, reason, msg string) {
	ratelimit.Reject(w, d)
	g.metrics.rejected.WithLabelValues(reason).Inc()
	g.account(rt, rr, nil, r, start, http.StatusTooManyRequests, 0, traceID, msg)
}

type exchangeKey struct{}

// forwardHandler ends a route's handler chain: it forwards to the pool.
var forwardHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	x := r.Context().Value(exchangeKey{}).(*exchange)
	x.w, x.r = w, r
	x.serve()
})

// countingWriter records the status and body size of a chained response.
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

// exchange is one client request across its tries.
type exchange struct {
	g       *Gateway
	rt      *runtime
	rr      *routeRuntime
	v       *poolView
	w       http.ResponseWriter
	r       *http.Request
	client  context.Context // the client's own context, without the route deadline
	start   time.Time
	traceID string
	// upgrade is the protocol to ask the backend to switch to ("" none);
	// closeConn: the request carried an Upgrade header (see ServeHTTP).
	upgrade   string
	closeConn bool
	// identity is the authenticated subject ("" without auth);
	// authenticated is true when the client sent credentials at all.
	identity      string
	authenticated bool

	hash     uint64
	hashed   bool
	tried    [8]*upstream.Backend
	nTried   int
	attempt  proxy.Attempt
	body     []byte // buffered body for replay; nil when not replayable
	canRetry bool
	retries  int

	// chained: the outer handler accounts; serve leaves its result here.
	chained bool
	lastB   *upstream.Backend
	errMsg  string
}

// account records the request unless a handler chain accounts for it.
func (x *exchange) account(b *upstream.Backend, status int, bytes int64, errMsg string) {
	if x.chained {
		x.lastB, x.errMsg = b, errMsg
		return
	}
	x.g.account(x.rt, x.rr, b, x.r, x.start, status, bytes, x.traceID, errMsg)
}

func (x *exchange) excluded(b *upstream.Backend) bool {
	for _, t := range x.tried[:x.nTried] {
		if t == b {
			return true
		}
	}
	return false
}

func (x *exchange) exclude(b *upstream.Backend) {
	if x.nTried < len(x.tried) {
		x.tried[x.nTried] = b
		x.nTried++
	}
}

func (x *exchange) serve() {
	pol := x.rr.retry
	x.attempt = proxy.Attempt{URI: x.rr.r.Target(x.r), Timeout: x.rr.perTry}
	replay := pol != nil && pol.methods[x.r.Method]
	var maxBody int64
	if replay {
		maxBody = pol.maxBody
	}
	replayable, err := x.prepareBody(replay, maxBody)
	if err != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		} else if errors.Is(err, errTooSlow) {
			status = http.StatusRequestTimeout
		}
		x.w.Header().Set("Connection", "close")
		x.g.answer(x.w, status, strings.ToLower(http.StatusText(status))+"\n")
		x.account(nil, status, 0, err.Error())
		return
	}
	if x.upgrade != "" {
		x.attempt.Upgrade = x.upgrade
		replayable = false // a protocol switch is never retried
		// A 101 carries the backend's head, not the close set for a
		// request whose upgrade is not relayed; beforeHeaders closes the
		// connection again if the backend does not switch.
		x.w.Header().Del("Connection")
	}
	x.canRetry = replay && replayable
	if x.canRetry {
		pol.budget.Begin()
		defer pol.budget.End()
	}

	var (
		last    proxy.Result
		lastB   *upstream.Backend
		status  int
		errMsg  string
		holding bool // a retry-budget reservation for the try about to run
	)
	defer func() {
		if holding {
			pol.budget.RetryDone()
		}
	}()
	for try := 0; ; try++ {
		b, mem, pinned, rejected := x.pick(try == 0)
		if b == nil {
			if try == 0 {
				x.w.Header().Set("Retry-After", "1")
				msg := "no healthy backend"
				if rejected != nil {
					msg = "backends at capacity"
				}
				x.g.answer(x.w, http.StatusServiceUnavailable, msg+"\n")
				x.account(nil, http.StatusServiceUnavailable, 0, msg)
				return
			}
			break // no other backend to retry on: answer with the last failure
		}
		x.attempt.BeforeHeaders = x.beforeHeaders(b, pinned)
		if x.attempt.Upgrade != "" {
			pool, backend := x.rr.pool, b
			x.attempt.OnTunnel = func(c io.Closer) func() { return pool.trackTunnel(backend, c) }
		}
		if x.body != nil {
			x.attempt.Body, x.attempt.BodyLen = bytes.NewReader(x.body), int64(len(x.body))
		}
		reserved := false
		x.attempt.Intercept = nil
		// Only a policy that retries on statuses looks at responses (the
		// closure would otherwise cost an allocation per request for nothing).
		if x.canRetry && try < pol.maxRetries && len(pol.statuses) > 0 {
			x.attempt.Intercept = func(status int, h http.Header) bool {
				if !pol.statuses[status] {
					return false
				}
				if d, ok := resilience.RetryAfter(h, x.g.clk.Now()); ok && d > pol.retryAfterMax {
					return false // the backend asks for more patience than we have
				}
				reserved = pol.budget.TryRetry()
				return reserved
			}
		}

		tryStart := x.g.clk.Now()
		b.Acquire()
		last = mem.up.Forward(x.w, x.r, &x.attempt)
		b.Release()
		mem.bulk.Release()
		lastB = b
		if holding { // this try was the retry the reservation was for
			pol.budget.RetryDone()
			holding = false
		}
		failed := x.record(b, mem, last, tryStart, x.g.clk.Now())
		if !failed || last.HeadersSent || last.Kind == proxy.ErrClientGone || last.Kind == proxy.ErrClientBody {
			break
		}
		// A failed try with nothing sent: retry elsewhere if allowed.
		switch {
		case last.Discarded:
			holding = reserved // Intercept reserved it before discarding
		case !x.canRetry || try >= pol.maxRetries || !pol.kinds[last.Kind]:
		case last.Kind == proxy.ErrConnect:
			// The try never reached a backend, so retrying it elsewhere
			// adds no load to any: no budget needed.
			holding = false
		case pol.budget.TryRetry():
			holding = true
		}
		if !last.Discarded && !(x.canRetry && try < pol.maxRetries && pol.kinds[last.Kind] && (last.Kind == proxy.ErrConnect || holding)) {
			break
		}
		x.exclude(b)
		x.retries++
		x.g.metrics.retries.WithLabelValues(x.rr.r.Name).Inc()
		if !x.backoff(try, last.Header) {
			break
		}
	}

	switch {
	case last.Kind == proxy.ErrClientGone && x.client.Err() == nil && x.r.Context().Err() != nil:
		// Our route deadline, not the client, ended it.
		status, errMsg = http.StatusGatewayTimeout, "route timeout exceeded"
		if !last.HeadersSent {
			x.g.answer(x.w, status, "request timed out\n")
		}
	case last.Kind == proxy.ErrClientBody:
		// The client's body broke (malformed chunking, over the size
		// limit, too slow): answer it and close, the framing is suspect.
		status, errMsg = http.StatusBadRequest, errString(last.Err)
		var tooLarge *http.MaxBytesError
		if errors.As(last.Err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		} else if errors.Is(last.Err, errTooSlow) {
			status = http.StatusRequestTimeout
		}
		if !last.HeadersSent {
			x.w.Header().Set("Connection", "close")
			x.g.answer(x.w, status, strings.ToLower(http.StatusText(status))+"\n")
		}
	case last.Kind == proxy.ErrClientGone:
		status, errMsg = 499, errString(last.Err) // nginx's "client closed request"
	case last.Discarded:
		// No backend was left to retry a refused response on.
		status, errMsg = http.StatusBadGateway, "no backend left to retry status "+strconv.Itoa(last.Status)
		x.g.answer(x.w, status, "backend unavailable\n")
	case last.Kind != proxy.ErrNone && !last.HeadersSent:
		errMsg = errString(last.Err)
		if last.Kind == proxy.ErrTimeout {
			status = http.StatusGatewayTimeout
			x.g.answer(x.w, status, "backend timed out\n")
		} else {
			status = http.StatusBadGateway
			x.g.answer(x.w, status, "backend unavailable\n")
		}
	default:
		status, errMsg = last.Status, errString(last.Err)
	}
	x.account(lastB, status, last.BytesOut, errMsg)
	if last.HeadersSent && last.Err != nil && last.Kind != proxy.ErrClientGone {
		// The response is half sent: abort the client connection so the
		// client sees a truncated response rather than a complete-looking one.
		panic(http.ErrAbortHandler)
	}
}

// beforeHeaders returns what the gateway adds to a response head: the
// sticky cookie for a fresh pick, and Connection: close when the request
// carried an Upgrade header but no switch happened (the connection-level
// guard stops following a connection at an Upgrade header, so it must not
// carry another request). It runs again after a retry cleared the head.
func (x *exchange) beforeHeaders(b *upstream.Backend, pinned bool) func(http.Header) {
	var cookie string
	if x.v.sticky != nil && !pinned {
		cookie = x.v.sticky.Cookie(b, x.start).String()
	}
	upgrade := x.attempt.Upgrade != "" || x.closeConn
	if cookie == "" && !upgrade {
		return nil
	}
	return func(h http.Header) {
		if cookie != "" {
			h.Add("Set-Cookie", cookie)
		}
		if upgrade {
			h.Set("Connection", "close")
		}
	}
}

// prepareBody reads the start of the request body before any backend is
// contacted: a malformed chunked body is then refused without a backend
// ever seeing the request, and a small body is kept whole so a retry can
// replay it. It reports whether the request can be replayed.
func (x *exchange) prepareBody(replay bool, max int64) (replayable bool, err error) {
	r := x.r
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true, nil
	}
	if r.ContentLength > 0 {
		if !replay || r.ContentLength > max {
			return false, nil // forwarded as it streams in, never replayed
		}
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return false, err
		}
		x.body = buf
		return true, nil
	}
	// Chunked: read what fits the replay limit (or one read's worth).
	limit := max
	if !replay || limit < 4096 {
		limit = 4096
	}
	buf := make([]byte, 0, min(limit+1, 64<<10))
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			if replay {
				x.body = buf
				return true, nil
			}
			x.attempt.Body, x.attempt.BodyLen = bytes.NewReader(buf), int64(len(buf))
			return false, nil
		}
		if rerr != nil {
			return false, rerr
		}
		if !replay {
			break // one read proves the framing starts well
		}
	}
	x.attempt.Body, x.attempt.BodyLen = io.MultiReader(bytes.NewReader(buf), r.Body), -1
	return false, nil
}

// pick chooses the next backend: the sticky pin on the first try, else the
// strategy, skipping backends whose breaker or bulkhead refuses.
func (x *exchange) pick(first bool) (b *upstream.Backend, mem *member, pinned bool, rejected error) {
	v := x.v
	if !x.hashed && v.key != nil {
		x.hash, x.hashed = v.key(x.r), true
	}
	for i := 0; i <= len(v.members); i++ {
		b = nil
		if first && i == 0 && v.sticky != nil {
			b = v.sticky.Pin(x.r, v.lookup)
			pinned = b != nil
		}
		if b == nil {
			pinned = false
			req := balance.Request{Now: x.start.UnixNano(), Hash: x.hash}
			if x.nTried > 0 {
				req.Exclude = x.excluded
			}
			if b = v.bal.Pick(&req); b == nil {
				// A reload may have swapped the membership after this
				// request loaded the view and drained every member it
				// knew: look again at the current one.
				if nv := x.rr.pool.view.Load(); nv != v {
					x.v, v = nv, nv
					i--
					continue
				}
				return nil, nil, false, rejected
			}
		}
		mem = b.Ext.Load().(*member)
		if mem.breaker != nil && !mem.breaker.Allow() {
			breakerRefused(x.r.Context(), b)
			x.exclude(b) // half-open with its probes taken
			continue
		}
		if err := mem.bulk.Acquire(x.r.Context()); err != nil {
			if mem.breaker != nil {
				mem.breaker.Done(false) // not the backend's fault
			}
			x.g.metrics.rejected.WithLabelValues("backend_concurrency").Inc()
			rejected = err
			if errors.Is(err, resilience.ErrQueueFull) || errors.Is(err, resilience.ErrQueueTimeout) {
				x.exclude(b)
				continue
			}
			return nil, nil, false, err
		}
		return b, mem, pinned, nil
	}
	return nil, nil, false, rejected
}

// record accounts one try: latency, outlier detection, breaker, metrics.
// It reports whether the try failed.
func (x *exchange) record(b *upstream.Backend, mem *member, res proxy.Result, start, end time.Time) bool {
	failed := false
	switch res.Kind {
	case proxy.ErrNone:
		failed = res.Status >= 500
		b.ObserveLatency(end.UnixNano(), end.Sub(start))
	case proxy.ErrClientGone, proxy.ErrClientBody:
	default:
		failed = true
		b.Failures.Add(1)
	}
	if res.Kind != proxy.ErrClientGone && res.Kind != proxy.ErrClientBody {
		x.rr.pool.report(b, failed)
		if mem.breaker != nil {
			breakerDone(x.r.Context(), mem.breaker, b, failed)
		}
		status := res.Status
		if status == 0 {
			status = http.StatusBadGateway
			if res.Kind == proxy.ErrTimeout {
				status = http.StatusGatewayTimeout
			}
		}
		mem.m.reqs[classIndex(status)].Inc()
		mem.m.dur.Observe(end.Sub(start).Seconds())
	} else if mem.breaker != nil {
		mem.breaker.Done(false)
	}
	return failed
}

// backoff waits before a retry: full jitter, or the backend's Retry-After
// when that is longer. It reports false when the request ended meanwhile.
func (x *exchange) backoff(try int, h http.Header) bool {
	pol := x.rr.retry
	d := resilience.Backoff(try, pol.backoffBase, pol.backoffMax)
	if ra, ok := resilience.RetryAfter(h, x.g.clk.Now()); ok && ra > d {
		d = ra
	}
	if d <= 0 {
		return x.r.Context().Err() == nil
	}
	done := make(chan struct{})
	t := x.g.clk.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-x.r.Context().Done():
		t.Stop()
		return false
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
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

// refuse answers a request the gateway will not serve.
func (g *Gateway) refuse(w http.ResponseWriter, ref *refusal) {
	if ref.close {
		w.Header().Set("Connection", "close")
	}
	g.answer(w, ref.status, ref.msg)
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
	traceOutcome(r, rr, b, status, errMsg)
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

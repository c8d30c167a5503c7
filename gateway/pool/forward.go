package pool

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/hygiene"
	"github.com/drawbridge-dev/drawbridge/gateway/mirror"
	"github.com/drawbridge-dev/drawbridge/gateway/pipeline"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
	"github.com/drawbridge-dev/drawbridge/gateway/split"
	"github.com/drawbridge-dev/drawbridge/gateway/trace"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Forward ends a route's chain: it forwards to the pool, trying backends
// until one answers or the retry policy gives up. A route's chain is built
// before its configuration commits, so the route, pool and retry policy are
// set by Commit, before the chain serves.
type Forward struct {
	clk     clock.Clock
	metrics *Metrics

	route *route.Route
	pool  *Pool
	// A split route picks one of pools per request; nil split: pool.
	split  *split.Picker
	pools  []*Pool
	mirror *mirror.Sender // copies a share of requests to a shadow pool; nil: none
	retry  *retryPolicy   // nil: no retries
	perTry time.Duration  // 0 = the pool's response_header timeout
}

// NewForward returns a forward stage that Commit completes.
func NewForward(clk clock.Clock, m *Metrics) *Forward { return &Forward{clk: clk, metrics: m} }

// Commit sets the route the stage forwards for: its pool, retry policy
// (nil: none) and per-try timeout.
func (f *Forward) Commit(r *route.Route, p *Pool, retry *config.Retry, perTry time.Duration) {
	f.route, f.pool, f.retry, f.perTry = r, p, compileRetry(retry), perTry
}

// CommitSplit makes a committed stage spread its requests across pools,
// pools[i] the pool of sp's target i.
func (f *Forward) CommitSplit(sp *split.Picker, pools []*Pool) {
	f.split, f.pools, f.pool = sp, pools, pools[0]
}

// CommitMirror makes a committed stage copy requests to shadow as c says.
func (f *Forward) CommitMirror(c *mirror.Config, shadow *Pool) {
	pick := func() string {
		b := shadow.view.Load().bal.Pick(&balance.Request{Now: f.clk.Now().UnixNano()})
		if b == nil {
			return ""
		}
		return b.Addr()
	}
	f.mirror = mirror.New(*c, pick, f.metrics.mirror(f.route.Name))
}

func (f *Forward) Serve(q *pipeline.Request) error {
	if f.mirror != nil && q.Upgrade == "" {
		f.mirror.Maybe(q.R, f.route.Target(q.R))
	}
	p := f.pool
	if f.split != nil {
		p = f.pools[f.split.Pick(q.R)]
	}
	// The exchange escapes (the balancer and the proxy take pointers into
	// it): recycled, it costs no allocation per request.
	x := exchanges.Get().(*exchange)
	*x = exchange{f: f, p: p, q: q, w: q.W, r: q.R, v: p.view.Load()}
	err := x.serve()
	*x = exchange{} // keeps nothing of this request alive
	exchanges.Put(x)
	return err
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// exchange is one client request across its tries.
type exchange struct {
	f *Forward
	p *Pool // the pool this request forwards to
	q *pipeline.Request
	v *poolView
	w http.ResponseWriter
	r *http.Request

	hash     uint64
	hashed   bool
	tried    [8]*upstream.Backend
	nTried   int
	attempt  proxy.Attempt
	body     []byte // buffered body for replay; nil when not replayable
	canRetry bool
	retries  int
	// holding: a retry-budget reservation for the try about to run.
	holding  bool
	tryStart time.Time
	// pickReq is the balancer's question, here rather than on pick's
	// stack: it escapes through the Balancer interface.
	pickReq balance.Request
	// reserved: Intercept reserved the retry budget in this try (a field,
	// since the closure would move a local to the heap on every try).
	reserved bool
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

// serve runs the tries and answers: the backend's response, or the
// gateway's own when no try succeeded.
func (x *exchange) serve() error {
	if err := x.prepare(); err != nil {
		return err
	}
	pol := x.f.retry
	if x.canRetry {
		pol.budget.Begin()
		defer pol.budget.End()
	}
	defer func() {
		if x.holding {
			pol.budget.RetryDone()
		}
	}()
	var (
		last  proxy.Result
		lastB *upstream.Backend
	)
	for try := 0; ; try++ {
		b, mem, pinned, rejected := x.pick(try == 0)
		if b == nil {
			if try == 0 {
				return x.unavailable(rejected)
			}
			break // no other backend to retry on: answer with the last failure
		}
		var reserved bool
		x.q.Backend = b // known while the response is written ({backend} in header rules)
		last, reserved = x.try(b, mem, pinned, try)
		lastB = b
		failed := x.record(b, mem, last, x.f.clk.Now())
		if !x.retry(try, &last, failed, reserved) {
			break
		}
		x.exclude(b)
		x.retries++
		x.f.metrics.retries.WithLabelValues(x.f.route.Name).Inc()
		if !x.backoff(try, last.Header) {
			break
		}
	}
	x.q.Backend, x.q.Bytes, x.q.Tries = lastB, last.BytesOut, x.attempt.Tries
	return x.outcome(&last)
}

// prepare sets up the attempt and reads the start of the body; a body that
// breaks already is answered here.
func (x *exchange) prepare() error {
	pol := x.f.retry
	x.attempt = proxy.Attempt{URI: x.f.route.Target(x.r), Timeout: x.f.perTry}
	replay := pol != nil && pol.methods[x.r.Method]
	var maxBody int64
	if replay {
		maxBody = pol.maxBody
	}
	replayable, err := x.prepareBody(replay, maxBody)
	if err != nil {
		status := bodyStatus(err)
		return pipeline.Refuse(x.w, status, strings.ToLower(http.StatusText(status))+"\n", err.Error(), true)
	}
	if x.q.Upgrade != "" {
		x.attempt.Upgrade = x.q.Upgrade
		replayable = false // a protocol switch is never retried
		// A 101 carries the backend's head, not the close set for a
		// request whose upgrade is not relayed; beforeHeaders closes the
		// connection again if the backend does not switch.
		x.w.Header().Del("Connection")
	}
	x.canRetry = replay && replayable
	return nil
}

// bodyStatus is the answer to a client body that broke: too large, too
// slow, or malformed.
func bodyStatus(err error) int {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, hygiene.ErrTooSlow):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// unavailable answers when the first pick found no backend.
func (x *exchange) unavailable(rejected error) error {
	x.w.Header().Set("Retry-After", "1")
	msg := "no healthy backend"
	if rejected != nil {
		msg = "backends at capacity"
	}
	return pipeline.Refuse(x.w, http.StatusServiceUnavailable, msg+"\n", msg, false)
}

// try forwards once to b. reserved: the response was discarded for a
// retry, and the retry budget reserved for it.
func (x *exchange) try(b *upstream.Backend, mem *member, pinned bool, try int) (res proxy.Result, reserved bool) {
	pol := x.f.retry
	x.reserved = false
	x.attempt.BeforeHeaders = x.beforeHeaders(b, pinned)
	if x.attempt.Upgrade != "" {
		pool, backend := x.p, b
		x.attempt.OnTunnel = func(c io.Closer) func() { return pool.trackTunnel(backend, c) }
	}
	if x.body != nil {
		x.attempt.Body, x.attempt.BodyLen = bytes.NewReader(x.body), int64(len(x.body))
	}
	x.attempt.Intercept = nil
	// Only a policy that retries on statuses looks at responses (the
	// closure would otherwise cost an allocation per request for nothing).
	if x.canRetry && try < pol.maxRetries && len(pol.statuses) > 0 {
		x.attempt.Intercept = func(status int, h http.Header) bool {
			if !pol.statuses[status] {
				return false
			}
			if d, ok := resilience.RetryAfter(h, x.f.clk.Now()); ok && d > pol.retryAfterMax {
				return false // the backend asks for more patience than we have
			}
			x.reserved = pol.budget.TryRetry()
			return x.reserved
		}
	}
	x.tryStart = x.f.clk.Now()
	b.Acquire()
	res = mem.up.Forward(x.w, x.r, &x.attempt)
	b.Release()
	mem.bulk.Release()
	if x.holding { // this try was the retry the reservation was for
		pol.budget.RetryDone()
		x.holding = false
	}
	return res, x.reserved
}

// retry is the one retry decision: whether a failed try with nothing sent
// is tried again elsewhere. A retry that adds load to a backend holds a
// retry-budget reservation (x.holding) until its try ends.
func (x *exchange) retry(try int, last *proxy.Result, failed, reserved bool) bool {
	if !failed || last.HeadersSent || last.Kind == proxy.ErrClientGone || last.Kind == proxy.ErrClientBody {
		return false
	}
	pol := x.f.retry
	switch {
	case last.Discarded:
		x.holding = reserved // Intercept reserved it before discarding
		return true
	case !x.canRetry || try >= pol.maxRetries || !pol.kinds[last.Kind]:
		return false
	case last.Kind == proxy.ErrConnect:
		// The try never reached a backend, so retrying it elsewhere adds
		// no load to any: no budget needed.
		return true
	default:
		x.holding = pol.budget.TryRetry()
		return x.holding
	}
}

// outcome answers what the last try left unanswered and says how the
// request ended.
func (x *exchange) outcome(last *proxy.Result) error {
	var e *pipeline.Error
	switch {
	case last.Kind == proxy.ErrClientGone && x.q.Client.Err() == nil && x.r.Context().Err() != nil:
		// Our route deadline, not the client, ended it.
		e = &pipeline.Error{Status: http.StatusGatewayTimeout, Reason: "route timeout exceeded"}
		if !last.HeadersSent {
			pipeline.Answer(x.w, e.Status, "request timed out\n")
		}
	case last.Kind == proxy.ErrClientBody:
		// The client's body broke (malformed chunking, over the size
		// limit, too slow): answer it and close, the framing is suspect.
		e = &pipeline.Error{Status: bodyStatus(last.Err), Reason: errString(last.Err)}
		if !last.HeadersSent {
			x.w.Header().Set("Connection", "close")
			pipeline.Answer(x.w, e.Status, strings.ToLower(http.StatusText(e.Status))+"\n")
		}
	case last.Kind == proxy.ErrClientGone:
		e = &pipeline.Error{Status: 499, Reason: errString(last.Err)} // nginx's "client closed request"
	case last.Discarded:
		// No backend was left to retry a refused response on.
		e = pipeline.Refuse(x.w, http.StatusBadGateway, "backend unavailable\n", "no backend left to retry status "+strconv.Itoa(last.Status), false)
	case last.Kind == proxy.ErrTimeout && !last.HeadersSent:
		e = pipeline.Refuse(x.w, http.StatusGatewayTimeout, "backend timed out\n", errString(last.Err), false)
	case last.Kind != proxy.ErrNone && !last.HeadersSent:
		e = pipeline.Refuse(x.w, http.StatusBadGateway, "backend unavailable\n", errString(last.Err), false)
	default:
		x.q.Status, x.q.Reason = last.Status, errString(last.Err)
	}
	if last.HeadersSent && last.Err != nil && last.Kind != proxy.ErrClientGone {
		// The response is half sent: the client must see it truncated.
		if e == nil {
			e = &pipeline.Error{Status: last.Status, Reason: x.q.Reason}
		}
		e.Abort = true
	}
	if e == nil {
		return nil
	}
	return e
}

// beforeHeaders returns what the gateway adds to a response head: the
// sticky cookie for a fresh pick, and Connection: close when the request
// carried an Upgrade header but no switch happened (the connection-level
// guard stops following a connection at an Upgrade header, so it must not
// carry another request). It runs again after a retry cleared the head.
func (x *exchange) beforeHeaders(b *upstream.Backend, pinned bool) func(http.Header) {
	var cookie string
	if x.v.sticky != nil && !pinned {
		cookie = x.v.sticky.Cookie(b, x.q.Start).String()
	}
	upgrade := x.attempt.Upgrade != "" || x.q.CloseConn
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

// ext reaches a backend's member from the backend a strategy picked.
var ext upstream.Ext[member]

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
			req := &x.pickReq
			*req = balance.Request{Now: x.q.Start.UnixNano(), Hash: x.hash}
			if x.nTried > 0 {
				req.Exclude = x.excluded
			}
			if b = v.bal.Pick(req); b == nil {
				// A reload may have swapped the membership after this
				// request loaded the view and drained every member it
				// knew: look again at the current one.
				if nv := x.p.view.Load(); nv != v {
					x.v, v = nv, nv
					i--
					continue
				}
				return nil, nil, false, rejected
			}
		}
		mem = ext.Load(b)
		if mem.breaker != nil && !mem.breaker.Allow() {
			trace.BreakerRefused(x.r.Context(), b)
			x.exclude(b) // half-open with its probes taken
			continue
		}
		if err := mem.bulk.Acquire(x.r.Context()); err != nil {
			if mem.breaker != nil {
				mem.breaker.Done(false) // not the backend's fault
			}
			x.f.metrics.rejected.WithLabelValues("backend_concurrency").Inc()
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
func (x *exchange) record(b *upstream.Backend, mem *member, res proxy.Result, end time.Time) bool {
	start := x.tryStart
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
		x.p.report(b, failed)
		if mem.breaker != nil {
			trace.BreakerDone(x.r.Context(), mem.breaker, b, failed)
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
	pol := x.f.retry
	d := resilience.Backoff(try, pol.backoffBase, pol.backoffMax)
	if ra, ok := resilience.RetryAfter(h, x.f.clk.Now()); ok && ra > d {
		d = ra
	}
	if d <= 0 {
		return x.r.Context().Err() == nil
	}
	done := make(chan struct{})
	t := x.f.clk.AfterFunc(d, func() { close(done) })
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

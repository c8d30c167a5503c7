// Package proxy forwards one HTTP request to one chosen backend and streams
// the answer back. It owns backend connections; choosing the backend,
// routing and error pages belong to the caller.
package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
)

// HostMode says which Host header the backend sees.
type HostMode int

const (
	HostPreserve HostMode = iota // the client's Host
	HostBackend                  // the backend's address
	HostLiteral                  // a configured value
)

// Options configure forwarding to one pool's backends.
type Options struct {
	HostMode              HostMode
	HostValue             string
	ConnectTimeout        time.Duration
	ResponseHeaderTimeout time.Duration
	IdleConnTimeout       time.Duration
	MaxIdleConns          int
	// H2C speaks HTTP/2 to backends: with prior knowledge (h2c) without
	// TLS, negotiated by ALPN (h2) with it.
	H2C bool
	// TLS, when set, wraps every backend connection in TLS (HTTP/1.1 only).
	// An empty ServerName becomes the backend's host. A new pointer (a
	// reload) means new Upstreams, so plain and TLS never share connections.
	TLS *tls.Config
}

// ErrorKind classifies a failed forward so that the caller can answer
// 502 or 504 and feed outlier detection.
type ErrorKind int

const (
	ErrNone       ErrorKind = iota
	ErrConnect              // could not connect: 502
	ErrTimeout              // no response in time: 504
	ErrProtocol             // reset, malformed or truncated response: 502
	ErrClientGone           // the client went away; nothing to answer
	ErrClientBody           // reading the client's body failed (malformed, too large, too slow): 400
)

// Result describes what happened to one forwarded request.
type Result struct {
	Status      int // status the backend answered (0 if none)
	Kind        ErrorKind
	Err         error
	HeadersSent bool  // response headers already went to the client
	BytesOut    int64 // response body bytes written to the client
	// Discarded: Intercept refused the response; nothing reached the client.
	Discarded bool
	// Upgraded: the connection switched protocols and was tunnelled until
	// one side closed it.
	Upgraded bool
	// Header is the discarded response's header (for Retry-After).
	Header http.Header
}

// Attempt is one try of a request on one backend.
type Attempt struct {
	URI string // request target: path and query, as rewritten by the route
	// Body, when non-nil, replaces r.Body for this try: a buffered body
	// replayed across retries, BodyLen bytes long.
	Body    io.Reader
	BodyLen int64
	// Timeout bounds the wait for the response head; 0 uses the pool's.
	Timeout time.Duration
	// Intercept sees the status and header before anything reaches the
	// client; returning true discards the response so the caller can retry.
	Intercept func(status int, h http.Header) bool
	// BeforeHeaders runs just before the response head goes to the client,
	// for headers of the gateway's own (a sticky cookie).
	BeforeHeaders func(h http.Header)
	// Upgrade is the protocol an HTTP/1.1 client asked to switch to
	// (Upgrade header, e.g. "websocket"); "" for ordinary requests.
	Upgrade string
	// OnTunnel, when set, is told about an upgraded connection so it can be
	// closed if its backend leaves; it returns the function to call when
	// the tunnel ends.
	OnTunnel func(io.Closer) (done func())
	// Tries counts the tries made with this Attempt: Forward adds one
	// before each, so a caller that reuses one Attempt across a request's
	// retries reads the try number here (and the trace shows it).
	Tries int
}

func (a *Attempt) headerTimeout(def time.Duration) time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return def
}

// Upstream is one backend's forwarding endpoint: its address and its pool of
// keep-alive connections.
type Upstream struct {
	addr  string
	opts  Options
	conns *connPool
	h2    *http.Transport // only for H2C
	tls   bool            // the h2 transport dials TLS
}

// NewUpstream prepares forwarding to addr.
func NewUpstream(addr string, o Options) *Upstream {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = 64
	}
	u := &Upstream{addr: addr, opts: o, tls: o.TLS != nil}
	var tlsCfg *tls.Config
	if o.TLS != nil {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		alpn := "http/1.1" // the exchange engine speaks only HTTP/1.1
		if o.H2C {
			alpn = "h2"
		}
		tlsCfg = tlsterm.ForBackend(o.TLS, host, alpn)
	}
	if o.H2C {
		p := new(http.Protocols)
		if tlsCfg != nil {
			p.SetHTTP2(true) // h2 only: a backend offering just HTTP/1.1 is refused, not downgraded
		} else {
			p.SetUnencryptedHTTP2(true)
		}
		u.h2 = &http.Transport{
			Protocols:             p,
			TLSClientConfig:       tlsCfg,
			TLSHandshakeTimeout:   o.ConnectTimeout,
			DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout}).DialContext,
			ResponseHeaderTimeout: o.ResponseHeaderTimeout,
			IdleConnTimeout:       o.IdleConnTimeout,
			MaxIdleConnsPerHost:   o.MaxIdleConns,
			DisableCompression:    true,
		}
	} else {
		u.conns = newConnPool(addr, o.ConnectTimeout, o.MaxIdleConns, o.IdleConnTimeout)
		u.conns.tls = tlsCfg
	}
	return u
}

// Addr is the backend address.
func (u *Upstream) Addr() string { return u.addr }

// Close drops idle connections and refuses new idle ones; requests in flight
// finish on their own connections.
func (u *Upstream) Close() {
	if u.conns != nil {
		u.conns.closeIdle(true)
	}
	if u.h2 != nil {
		u.h2.CloseIdleConnections()
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Forward makes one try of r on the backend and streams the response to w.
// Unless Result.HeadersSent, nothing was written to w and the caller
// answers the error or retries.
func (u *Upstream) Forward(w http.ResponseWriter, r *http.Request, a *Attempt) Result {
	a.Tries++
	if trace.SpanFromContext(r.Context()).IsRecording() {
		return u.forwardTraced(w, r, a)
	}
	return u.forward(w, r, a)
}

func (u *Upstream) forward(w http.ResponseWriter, r *http.Request, a *Attempt) Result {
	if u.h2 != nil {
		return u.forwardStd(w, r, a)
	}
	return u.forwardH1(w, r, a)
}

func (u *Upstream) host(r *http.Request) string {
	switch u.opts.HostMode {
	case HostBackend:
		return u.addr
	case HostLiteral:
		return u.opts.HostValue
	}
	return r.Host
}

// requestBody is the body to send upstream and its length (-1: unknown,
// sent chunked); nil when there is none.
func requestBody(r *http.Request, a *Attempt) (body io.Reader, length int64) {
	if a.Body != nil {
		if a.BodyLen == 0 {
			return nil, 0
		}
		return a.Body, a.BodyLen
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, 0
	}
	return r.Body, r.ContentLength
}

func (u *Upstream) writeHead(bw stringWriter, r *http.Request, uri, upgrade string, fh *forwardingHeaders, hasBody bool, length int64) {
	bw.WriteString(r.Method)
	bw.WriteString(" ")
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(u.host(r))
	bw.WriteString("\r\n")
	// The client's Connection list is the caller's to apply before it adds
	// headers of its own (the gateway does so on arrival): applied here, it
	// could name and remove a header the caller asserts, such as the
	// authenticated identity. Connection itself is hop-by-hop and dropped;
	// the forwarding headers below are written after the copy, whatever
	// the client listed.
	for k, vv := range r.Header {
		if hopByHop(k) || rewritten(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	fh.writeFields(bw)
	if upgrade != "" {
		// Upgrade and Connection are hop-by-hop; asking the backend to
		// switch protocols is ours to do again on this hop.
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(upgrade)
		bw.WriteString("\r\n")
	}
	if hasBody {
		if length > 0 {
			bw.WriteString("Content-Length: ")
			bw.WriteString(strconv.FormatInt(length, 10))
			bw.WriteString("\r\n")
		} else {
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		}
	} else if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
}

func writeField(bw stringWriter, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// writeFieldWith writes a field whose value write writes.
func writeFieldWith(bw stringWriter, k string, write func(stringWriter)) {
	bw.WriteString(k)
	bw.WriteString(": ")
	write(bw)
	bw.WriteString("\r\n")
}

// errBodyShort means the client sent less body than it announced.
var errBodyShort = clientBodyError{errors.New("request body shorter than Content-Length")}

// clientBodyError marks a failure reading the client's body, as opposed to
// writing to the backend.
type clientBodyError struct{ err error }

func (e clientBodyError) Error() string { return e.err.Error() }
func (e clientBodyError) Unwrap() error { return e.err }

func (u *Upstream) forwardH1(w http.ResponseWriter, r *http.Request, a *Attempt) Result {
	ctx := r.Context()
	body, length := requestBody(r, a)
	fh := makeForwardingHeaders(r)
	for attempt := 0; ; attempt++ {
		// The second attempt dials: the idle connections left are as
		// likely to be stale as the one that just failed.
		c, err := u.conns.get(ctx, time.Now(), attempt > 0)
		if err != nil {
			if ctx.Err() != nil {
				return Result{Kind: ErrClientGone, Err: err}
			}
			u.conns.closeIdle(false) // the backend is unreachable: its idle conns are dead
			return Result{Kind: ErrConnect, Err: err}
		}
		res, retry := u.exchange(ctx, c, w, r, a, &fh, body, length)
		// A reused keep-alive connection may have been closed by the backend
		// just before we wrote: retry once on a fresh one, as net/http does,
		// when nothing of the request body was consumed and no answer came.
		if retry && attempt == 0 {
			continue
		}
		if res.Kind == ErrProtocol && c.reused {
			// A pooled connection broke: the backend probably restarted, so
			// every connection idle since then is stale too. Dropping them
			// spares the next requests (and outlier detection) that failure.
			u.conns.closeIdle(false)
		}
		return res
	}
}

// setReadDeadline sets c's read deadline, unless ctx has ended: the abort
// hook of exchange may have fired just before, and its deadline in the past
// must win, or the read would wait on a backend that waits on the client
// who left (seen under rapid reset).
func setReadDeadline(ctx context.Context, c *conn, t time.Time) {
	_ = c.nc.SetReadDeadline(t)
	if ctx.Err() != nil {
		_ = c.nc.SetDeadline(aLongTimeAgo)
	}
}

// exchange does one request/response on c. retry reports a failure on a
// reused connection before anything irrevocable happened.
func (u *Upstream) exchange(ctx context.Context, c *conn, w http.ResponseWriter, r *http.Request, a *Attempt, fh *forwardingHeaders, body io.Reader, length int64) (res Result, retry bool) {
	// Abort the backend exchange when the client goes away, so the backend
	// slot and the in-flight count are released at once. A context that
	// can never end (h1's, without a route timeout) needs no hook, which
	// spares the hook's allocations.
	stop := neverFired
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, c.abortFunc())
	}
	defer stop()

	if res, retry, sent := u.send(ctx, c, r, a, fh, body, length); !sent {
		return res, retry
	}
	headerTimeout := a.headerTimeout(u.opts.ResponseHeaderTimeout)
	var deadline time.Time
	if headerTimeout > 0 {
		deadline = time.Now().Add(headerTimeout)
	}
	if p := probeOf(w); p != nil {
		if err := awaitResponse(ctx, c, p, deadline); err != nil {
			c.close()
			if err == errClientClosed {
				return Result{Kind: ErrClientGone, Err: err}, false
			}
			res = headFailure(ctx, err)
			return res, res.Kind == ErrProtocol && c.reused && body == nil
		}
	} else if headerTimeout > 0 {
		setReadDeadline(ctx, c, deadline)
	}
	resp, err := readResponseHeadCached(c.br, w.Header(), r.Method, a.Upgrade, &c.values)
	if err != nil {
		c.close()
		res = headFailure(ctx, err)
		return res, res.Kind == ErrProtocol && c.reused && body == nil && resp.nothingRead
	}
	if a.Intercept != nil && a.Intercept(resp.status, w.Header()) {
		return u.refuse(c, w, r, &resp, stop), false
	}
	if headerTimeout > 0 {
		setReadDeadline(ctx, c, time.Time{})
	}
	if resp.status == http.StatusSwitchingProtocols {
		stop() // the tunnel outlives this request's context
		return u.tunnel(w, c, &resp, a), false
	}
	return u.relay(ctx, c, w, r, a, &resp, stop), false
}

// clientProbe is offered by a ResponseWriter whose request context does
// not end when the client leaves (gateway/h1 has no background read): a
// non-blocking look at the client connection.
type clientProbe interface{ ClientGone() bool }

// probeOf finds w's probe through the wrappers' Unwrap (as
// http.ResponseController does); nil when there is none.
func probeOf(w http.ResponseWriter) clientProbe {
	for {
		if p, ok := w.(clientProbe); ok {
			return p
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// clientProbeInterval is how often a wait for a backend's answer looks
// whether a client without a cancelling context left: the bound on how
// long a backend works for a client that is gone.
var clientProbeInterval = time.Second

var errClientClosed = errors.New("client closed its connection while the backend was working")

// awaitResponse waits for the first byte of the response head in slices
// of clientProbeInterval, asking p between them whether the client left;
// deadline (zero: none) bounds the whole wait, as the head's. It leaves
// c's read deadline at deadline. A fast backend costs one more deadline
// update than a plain read; a slow one, a non-blocking peek per interval,
// and no goroutine either way.
func awaitResponse(ctx context.Context, c *conn, p clientProbe, deadline time.Time) error {
	for {
		slice := time.Now().Add(clientProbeInterval)
		last := !deadline.IsZero() && !slice.Before(deadline)
		if last {
			slice = deadline
		}
		setReadDeadline(ctx, c, slice)
		_, err := c.br.Peek(1)
		if err == nil {
			setReadDeadline(ctx, c, deadline)
			return nil
		}
		if last || !isTimeout(err) || ctx.Err() != nil {
			return err
		}
		if p.ClientGone() {
			return errClientClosed
		}
	}
}

// send writes the request head and body to c. When that fails (sent is
// false) c is closed, res says why, and retry whether nothing irrevocable
// happened on a reused connection.
func (u *Upstream) send(ctx context.Context, c *conn, r *http.Request, a *Attempt, fh *forwardingHeaders, body io.Reader, length int64) (res Result, retry, sent bool) {
	hasBody := body != nil
	u.writeHead(c.bw, r, a.URI, a.Upgrade, fh, hasBody, length)
	if hasBody {
		if err := copyRequestBody(c.bw, body, length); err != nil {
			// The backend got a truncated request; the connection goes.
			c.close()
			return bodyFailure(ctx, err), false, false
		}
	}
	if err := c.bw.Flush(); err != nil {
		c.close()
		res = failure(ctx, err)
		return res, res.Kind == ErrProtocol && c.reused && !hasBody, false
	}
	return Result{}, false, true
}

// failure classifies a broken exchange: the client left, or the backend
// connection failed.
func failure(ctx context.Context, err error) Result {
	if ctx.Err() != nil {
		return Result{Kind: ErrClientGone, Err: err}
	}
	return Result{Kind: ErrProtocol, Err: err}
}

// bodyFailure classifies a failed request body copy. A body that failed to
// read is the client's fault even when the failure also cancelled the
// request context (net/http cancels it on a read deadline): the client may
// still be there for a 4xx.
func bodyFailure(ctx context.Context, err error) Result {
	var be clientBodyError
	if errors.As(err, &be) {
		return Result{Kind: ErrClientBody, Err: be.err}
	}
	return failure(ctx, err)
}

// headFailure classifies a failure reading the response head.
func headFailure(ctx context.Context, err error) Result {
	if ctx.Err() == nil && isTimeout(err) {
		return Result{Kind: ErrTimeout, Err: err}
	}
	return failure(ctx, err)
}

// refuse drops a response Intercept refused. The connection is kept when
// the refused body is small enough to skip and ended exactly where its
// framing said.
func (u *Upstream) refuse(c *conn, w http.ResponseWriter, r *http.Request, resp *responseHead, stop func() bool) Result {
	res := Result{Status: resp.status, Discarded: true, Header: w.Header().Clone()}
	clear(w.Header())
	keep := stop() && !resp.close && !r.Close && resp.reusable() && discardBody(c.br, resp)
	if keep {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	u.release(c, keep)
	return res
}

// relay sends the response head and streams its body to the client.
func (u *Upstream) relay(ctx context.Context, c *conn, w http.ResponseWriter, r *http.Request, a *Attempt, resp *responseHead, stop func() bool) Result {
	if a.BeforeHeaders != nil {
		a.BeforeHeaders(w.Header())
	}
	w.WriteHeader(resp.status)
	res := Result{Status: resp.status, HeadersSent: true}
	n, err := copyResponseBody(w, c.br, resp)
	res.BytesOut = n
	if err != nil {
		c.close()
		f := failure(ctx, err)
		res.Kind, res.Err = f.Kind, f.Err
		return res
	}
	// Only a connection whose abort hook has not fired may be pooled: a
	// client that left just now would otherwise leave a deadline in the past
	// on a connection the next request picks up. Nor one with bytes left
	// after the response's end (a body on HEAD, 204 or 304, bytes past
	// Content-Length or the last chunk): the next request would read them
	// as its response.
	u.release(c, stop() && !resp.close && !r.Close && resp.reusable() && c.br.Buffered() == 0)
	return res
}

// release returns c to the idle pool when it can carry another exchange,
// and closes it otherwise.
func (u *Upstream) release(c *conn, reusable bool) {
	if reusable {
		u.conns.put(c, time.Now())
	} else {
		c.close()
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// neverFired is the stop function of an abort hook that was not needed:
// it reports, truthfully, that the hook never ran.
func neverFired() bool { return true }

// maxDiscard is the largest refused response body read to keep its
// connection; larger ones cost less to close.
const maxDiscard = 64 << 10

// discardBody reads a refused response's body off the connection and
// reports whether the connection can be reused: only when the body ended
// exactly where its framing said, with nothing after it.
func discardBody(br *bufio.Reader, resp *responseHead) bool {
	switch {
	case resp.noBody:
	case resp.chunked || resp.untilClose || resp.contentLength > maxDiscard:
		return false
	default:
		n, err := br.Discard(int(resp.contentLength))
		if err != nil || int64(n) != resp.contentLength {
			return false
		}
	}
	return br.Buffered() == 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// copyRequestBody streams the client's body upstream: exactly length bytes,
// or chunk-encoded when the length is unknown. What arrives is flushed at
// once unless the client is done, so the backend sees a streamed upload as
// it comes while a small body still leaves with its head in one write.
func copyRequestBody(bw *bufio.Writer, body io.Reader, length int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	chunked := length < 0
	var sent int64
	for {
		n, rerr := body.Read(buf)
		if rerr != nil && rerr != io.EOF {
			rerr = clientBodyError{rerr}
		}
		if n > 0 {
			if !chunked && sent+int64(n) > length {
				n = int(length - sent) // never send more than announced
			}
			if chunked {
				var hdr [20]byte
				h := strconv.AppendInt(hdr[:0], int64(n), 16)
				bw.Write(append(h, '\r', '\n'))
			}
			if _, err := bw.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				bw.WriteString("\r\n")
			}
			sent += int64(n)
			if rerr == nil {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF || (!chunked && sent >= length) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if chunked {
		_, err := bw.WriteString("0\r\n\r\n")
		return err
	}
	if sent < length {
		return errBodyShort
	}
	return nil
}

package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// forwardStd forwards through net/http's Transport. It serves the h2c
// backends (gRPC among them), where the Transport's HTTP/2 framing is
// needed; HTTP/1.1 backends take the leaner forwardH1 path.
func (u *Upstream) forwardStd(w http.ResponseWriter, r *http.Request, a *Attempt) Result {
	// The per-try timeout covers only the wait for the response head: a
	// streamed gRPC response may legitimately last far longer.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var headTimer *time.Timer
	if t := a.headerTimeout(u.opts.ResponseHeaderTimeout); t > 0 {
		headTimer = time.AfterFunc(t, cancel)
	}
	resp, err := u.h2.RoundTrip(u.stdRequest(r, a).WithContext(ctx))
	timedOut := headTimer != nil && !headTimer.Stop()
	if err != nil {
		return stdFailure(ctx, err, timedOut)
	}
	defer resp.Body.Close()
	if timedOut { // the head arrived just as the timer fired
		return Result{Kind: ErrTimeout, Err: context.DeadlineExceeded}
	}
	if a.Intercept != nil && a.Intercept(resp.StatusCode, resp.Header) {
		return Result{Status: resp.StatusCode, Discarded: true, Header: resp.Header}
	}
	h := w.Header()
	copyStdResponseHeader(h, resp)
	if a.BeforeHeaders != nil {
		a.BeforeHeaders(h)
	}
	w.WriteHeader(resp.StatusCode)
	res := Result{Status: resp.StatusCode, HeadersSent: true}
	if res.BytesOut, res.Kind, res.Err = streamStdBody(ctx, w, resp.Body); res.Err != nil {
		return res
	}
	for k, vv := range resp.Trailer {
		if listed(h["Trailer"], k) {
			h[k] = vv
		} else {
			h[http.TrailerPrefix+k] = vv
		}
	}
	return res
}

// stdRequest is the request to send the backend: the client's end-to-end
// headers and the forwarding ones.
func (u *Upstream) stdRequest(r *http.Request, a *Attempt) *http.Request {
	fh := makeForwardingHeaders(r)
	scheme := "http"
	if u.tls {
		scheme = "https"
	}
	out := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Scheme: scheme, Host: u.addr, Opaque: a.URI},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     make(http.Header, len(r.Header)+6),
		Host:       u.host(r),
	}
	if body, length := requestBody(r, a); body != nil {
		out.Body = io.NopCloser(body)
		out.ContentLength = length
	}
	copyStdRequestHeader(out.Header, r.Header)
	out.Header["X-Forwarded-For"] = value(fh.writeXFF)
	out.Header["X-Forwarded-Proto"] = []string{fh.proto}
	if fh.xfh != "" {
		out.Header["X-Forwarded-Host"] = []string{fh.xfh}
	}
	out.Header["Forwarded"] = value(fh.writeForwarded)
	out.Header["Via"] = value(fh.writeVia)
	return out
}

// copyStdRequestHeader copies the client's end-to-end headers. As in
// writeHead, the client's Connection list was the caller's to apply: here
// it could only remove headers the caller asserts.
func copyStdRequestHeader(dst, src http.Header) {
	for k, vv := range src {
		if k == "Te" {
			// gRPC needs "TE: trailers" end to end; other TE values are hop-by-hop.
			if listed(vv, "trailers") {
				dst["Te"] = []string{"trailers"}
			}
			continue
		}
		if hopByHop(k) || rewritten(k) {
			continue
		}
		dst[k] = vv
	}
}

// stdFailure classifies a round trip that brought no response head.
func stdFailure(ctx context.Context, err error, timedOut bool) Result {
	switch {
	case timedOut:
		return Result{Kind: ErrTimeout, Err: err}
	case ctx.Err() != nil:
		return Result{Kind: ErrClientGone, Err: err}
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return Result{Kind: ErrTimeout, Err: err}
	case isDialError(err):
		return Result{Kind: ErrConnect, Err: err}
	}
	return Result{Kind: ErrProtocol, Err: err}
}

// copyStdResponseHeader copies the backend's end-to-end headers and
// announces the trailers the Transport saw declared.
func copyStdResponseHeader(h http.Header, resp *http.Response) {
	respConn := connectionTokens(resp.Header)
	for k, vv := range resp.Header {
		if hopByHop(k) || (respConn != nil && listed(respConn, k)) {
			continue
		}
		h[k] = vv
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = names
	}
}

// streamStdBody copies the response body to the client, flushing after each
// read so that a gRPC stream reaches the client as it comes.
func streamStdBody(ctx context.Context, w http.ResponseWriter, body io.Reader) (int64, ErrorKind, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	fl, _ := w.(http.Flusher)
	buf := *bp
	var total int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, ErrClientGone, werr
			}
			total += int64(n)
			if fl != nil {
				fl.Flush()
			}
		}
		if rerr == io.EOF {
			return total, ErrNone, nil
		}
		if rerr != nil {
			return total, failure(ctx, rerr).Kind, rerr
		}
	}
}

// isDialError reports a failure to establish the connection.
func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

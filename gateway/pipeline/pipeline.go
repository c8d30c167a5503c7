// Package pipeline is a route's request path as a chain of stages, in the
// manner of Caddy's middleware handlers and Traefik's middleware chains.
// Each stage is built once per configuration with New...(cfg, next), does
// one thing, and is testable alone; Build puts a route's stages in the one
// order documented on it.
//
// A stage that refuses a request answers it itself and returns an *Error
// saying what it answered and why; the gateway records every request once,
// from the Request's outcome, whatever stage ended it.
package pipeline

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Handler is one stage of a route's chain.
type Handler interface {
	Serve(q *Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(q *Request) error

// Serve calls f(q).
func (f HandlerFunc) Serve(q *Request) error { return f(q) }

// Request is one client request on its way down a chain: the writer and
// request the next stage sees (stages may replace both), what earlier
// stages learned, and the outcome the record reads.
type Request struct {
	W http.ResponseWriter
	R *http.Request

	Start time.Time
	// Client is the client's own context, without the route's deadline.
	Client  context.Context
	TraceID string
	// Upgrade is the protocol the backend is asked to switch to ("" none);
	// CloseConn: the request carried an Upgrade header, so the connection
	// carries no further request unless the switch happens.
	Upgrade   string
	CloseConn bool
	// Authenticated: the client sent credentials (read before auth strips
	// them: the cache must not share a response to such a request).
	// Identity is the subject auth proved ("" without auth).
	Authenticated bool
	Identity      string

	// The outcome, set by the stage that answered.
	Status  int
	Bytes   int64
	Backend *upstream.Backend
	// Tries is how many tries the forward made (retries included).
	Tries  int
	Reason string
	// Rejected is the drawbridge_rejected_total reason, "" when none.
	Rejected string
}

// Reset makes q the fresh state of a new request.
func (q *Request) Reset(w http.ResponseWriter, r *http.Request, start time.Time) {
	*q = Request{W: w, R: r, Start: start, Client: r.Context()}
}

// Settle folds the chain's result into the outcome. An *Error overrides
// the status and gives the reason.
func (q *Request) Settle(err error) {
	e, ok := err.(*Error)
	if !ok {
		if q.Status == 0 {
			q.Status = http.StatusOK
		}
		if err != nil && q.Reason == "" {
			q.Reason = err.Error()
		}
		return
	}
	q.Status, q.Reason, q.Rejected = e.Status, e.Reason, e.Rejected
}

// Error is a request a stage ended: it has answered Status already.
type Error struct {
	Status int
	Reason string // logged as the request's error
	// Rejected names the refusal in drawbridge_rejected_total ("" none).
	Rejected string
	// Abort: the response is half sent; the client connection is aborted
	// once the request is recorded, so the client sees a truncated
	// response rather than a complete-looking one.
	Abort bool
	// Auth is the failed authentication that ended the request, if that is
	// what did: the limits in front of auth charge it.
	Auth *auth.Error
}

func (e *Error) Error() string { return strconv.Itoa(e.Status) + " " + e.Reason }

// Answer writes a short plain-text response of the gateway's own.
func Answer(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Refuse answers status with body and returns the Error recording it;
// close also ends the connection (the framing may be desynchronised).
func Refuse(w http.ResponseWriter, status int, body, reason string, close bool) *Error {
	if close {
		w.Header().Set("Connection", "close")
	}
	Answer(w, status, body)
	return &Error{Status: status, Reason: reason}
}

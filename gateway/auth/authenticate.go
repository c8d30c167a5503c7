package auth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
)

// Identity is who a request authenticated as.
type Identity struct {
	Subject string // API key name, JWT "sub", or Basic user
	Method  string // MethodAPIKey, MethodJWT or MethodBasic
}

// Identity.Method values.
const (
	MethodAPIKey = "api_key"
	MethodJWT    = "jwt"
	MethodBasic  = "basic"
)

// Error is why a request was refused: Status is 401 or 403, Reason is for
// logs (never sent to the client, as it would help an attacker).
type Error struct {
	Status int
	Method string // scheme that was tried; empty if no credentials were sent
	Reason string
	bearer bool // a bearer token was rejected: use the RFC 6750 error challenge
}

func (e *Error) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("%d: %s", e.Status, e.Reason)
	}
	return fmt.Sprintf("%d: %s: %s", e.Status, e.Method, e.Reason)
}

// Preallocated errors for the common paths, so a refusal costs nothing.
var (
	errNoCredentials = &Error{Status: http.StatusUnauthorized, Reason: "no credentials"}
	errUnknownAPIKey = &Error{Status: http.StatusUnauthorized, Method: MethodAPIKey, Reason: "unknown key"}
	errUnknownBearer = &Error{Status: http.StatusUnauthorized, Method: MethodAPIKey, Reason: "unknown key", bearer: true}
	errBadScheme     = &Error{Status: http.StatusUnauthorized, Reason: "unsupported authorization scheme"}
	errForbidden     = &Error{Status: http.StatusForbidden, Reason: "subject not allowed"}
)

// Check authenticates r without writing anything or changing r. The error,
// when not nil, is an *Error.
func (a *Authenticator) Check(r *http.Request) (Identity, error) {
	return a.allowed(a.identify(r))
}

func (a *Authenticator) identify(r *http.Request) (Identity, error) {
	if a.apiKeys != nil {
		if v := r.Header[a.apiKeys.header]; len(v) > 0 {
			return a.apiKeys.verify(v[0])
		}
	}
	v := r.Header["Authorization"]
	if len(v) == 0 {
		return Identity{}, errNoCredentials
	}
	scheme, cred, _ := strings.Cut(v[0], " ")
	cred = strings.TrimLeft(cred, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer") && a.bearerBad != "":
		if a.jwt != nil && (a.apiKeys == nil || !a.apiKeys.bearer || strings.Count(cred, ".") == 2) {
			return a.jwt.verify(cred)
		}
		id, err := a.apiKeys.verify(cred)
		if err != nil {
			err = errUnknownBearer // same, but answered with the RFC 6750 challenge
		}
		return id, err
	case strings.EqualFold(scheme, "Basic") && a.basic != nil:
		return a.basic.verify(r, a.clk.Now())
	}
	return Identity{}, errBadScheme
}

// Authenticate checks r. On success it sets the forward header (after
// removing any client-sent value), strips credentials if configured, and
// returns a nil error. On failure it writes the 401 or 403 response itself
// and returns why (Status tells which, for logs and metrics); the caller
// must not write anything else.
func (a *Authenticator) Authenticate(w http.ResponseWriter, r *http.Request) (Identity, *Error) {
	_, span := telemetry.Child(r.Context(), "auth")
	defer span.End()
	id, err := a.Check(r)
	traceOutcome(span, id, err)
	if err != nil {
		e := err.(*Error)
		a.refuse(w, e)
		return Identity{}, e
	}
	h := r.Header
	for _, name := range a.strip {
		delete(h, name)
	}
	// Assigning replaces every client-sent value of the forward header.
	h[a.forward] = []string{id.Subject}
	return id, nil
}

// ForwardHeader is the canonical name of the header that carries the subject.
func (a *Authenticator) ForwardHeader() string { return a.forward }

func (a *Authenticator) refuse(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.Status == http.StatusForbidden {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("403 forbidden\n"))
		return
	}
	for _, c := range a.challenges {
		if e.bearer && strings.HasPrefix(c, "Bearer ") {
			c = a.bearerBad
		}
		h.Add("Www-Authenticate", c)
	}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 unauthorized\n"))
}

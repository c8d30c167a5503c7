package auth

import (
	"net/http"
	"strings"
)

// CheckCredentials authenticates a username and password that came
// without HTTP (an MQTT CONNECT): a password shaped like a JWT (three
// dot-separated parts) is verified as one when jwt is configured, the
// username then being ignored; otherwise the pair is checked against the
// Basic users, through the same credential cache. allow_subjects applies
// as in Check. The error, when not nil, is an *Error whose Status is 401
// (bad or missing credentials) or 403 (subject not allowed).
func (a *Authenticator) CheckCredentials(user, password string) (Identity, error) {
	var id Identity
	var err error
	switch {
	case a.jwt != nil && strings.Count(password, ".") == 2:
		id, err = a.jwt.verify(password)
	case a.basic != nil:
		// The Basic verifier reads an Authorization header; building one
		// keeps a single code path (and cache) for both protocols.
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, password)
		id, err = a.basic.verify(r, a.clk.Now())
	case a.jwt != nil:
		err = invalidToken("password is not a JWT")
	default:
		err = errNoCredentials
	}
	return a.allowed(id, err)
}

// allowed applies allow_subjects to an identification's outcome.
func (a *Authenticator) allowed(id Identity, err error) (Identity, error) {
	if err != nil {
		return Identity{}, err
	}
	if a.allow != nil {
		if _, ok := a.allow[id.Subject]; !ok {
			return id, errForbidden
		}
	}
	return id, nil
}

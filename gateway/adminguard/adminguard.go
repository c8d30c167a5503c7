// Package adminguard decides who may change state through the admin API:
// loopback clients naming the listener by a loopback host, or anyone with
// the configured token; never a cross-site browser request.
package adminguard

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
)

// TokenEnv is the environment variable the commands read the admin token
// from.
const TokenEnv = "DRAWBRIDGE_ADMIN_TOKEN"

// Changes protects the admin API's state-changing endpoints, in the
// spirit of Caddy's admin API (localhost, origin enforcement):
//
//   - Cross-site requests from a browser are refused (403): Sec-Fetch-Site
//     must be same-origin or none, or the Origin must match the Host. A web
//     page the operator happens to visit cannot drain backends.
//   - With a token configured, "Authorization: Bearer TOKEN" admits a client
//     from anywhere; a wrong token is refused (401) even from loopback.
//   - Without a token header, only loopback clients that name the admin
//     listener by a loopback Host (localhost, 127.0.0.0/8, ::1) are admitted.
//     The Host check defeats DNS rebinding, where a remote page's name
//     resolves to 127.0.0.1 and its requests are same-origin to itself.
//
// The remote address is the socket's: no forwarding header is trusted. A
// proxy on the same host that forwards remote clients to the admin
// listener makes them loopback clients; put the token in front of such
// setups instead.
func Changes(token string) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: the admin API accepts changes only from its own pages and non-browser clients", http.StatusForbidden)
	}))
	return func(next http.Handler) http.Handler {
		return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code, why := authorize(r, token); code != 0 {
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="drawbridge admin"`)
				}
				http.Error(w, why, code)
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// authorize returns 0 when r may change state, else the status and
// the reason to answer with.
func authorize(r *http.Request, token string) (int, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		presented, ok := strings.CutPrefix(h, "Bearer ")
		if ok && token != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(token)) == 1 {
			return 0, ""
		}
		return http.StatusUnauthorized, "invalid admin token"
	}
	if a, ok := clientip.Addr(r); ok && a.IsLoopback() && isLoopbackHost(r.Host) {
		return 0, ""
	}
	if token != "" {
		return http.StatusUnauthorized, "admin token required (Authorization: Bearer ...)"
	}
	return http.StatusForbidden, "admin changes are accepted from loopback only; set " + TokenEnv + " to admit remote clients with a token"
}

// isLoopbackHost reports whether a Host header names this machine by a
// loopback name or address.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

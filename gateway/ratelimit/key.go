package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"golang.org/x/net/http/httpguts"
)

// KeyFunc picks the bucket for a request. identity is the authenticated
// subject (empty when the route has no authentication).
type KeyFunc func(r *http.Request, identity string) string

// ParseKey turns a key spec from the config into a KeyFunc:
//
//	"ip"          client address from RemoteAddr (the gateway is the front
//	              door, so no forwarded-for header is trusted). IPv6 clients
//	              are keyed by their /64, since one host usually owns a whole
//	              /64 and could otherwise rotate addresses to dodge the limit.
//	"header:NAME" the value of request header NAME
//	"identity"    the authenticated subject (API key name, JWT sub, user)
//	"route"       one bucket shared by every request on the route
//
// When the header or identity is absent, "header:" and "identity" fall back to
// the client address, prefixed with a NUL byte so it cannot collide with a
// header value or subject (neither may contain NUL).
func ParseKey(spec string) (KeyFunc, error) {
	switch {
	case spec == "ip":
		return func(r *http.Request, _ string) string { return ClientKey(r) }, nil
	case spec == "identity":
		return func(r *http.Request, id string) string {
			if id != "" {
				return id
			}
			return "\x00" + ClientKey(r)
		}, nil
	case spec == "route":
		return func(*http.Request, string) string { return "" }, nil
	case strings.HasPrefix(spec, "header:"):
		name := strings.TrimSpace(strings.TrimPrefix(spec, "header:"))
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("ratelimit: key %q: %q is not a valid header name", spec, name)
		}
		canon := http.CanonicalHeaderKey(name) // once, not per request
		return func(r *http.Request, _ string) string {
			if v := r.Header[canon]; len(v) > 0 && v[0] != "" {
				return v[0]
			}
			return "\x00" + ClientKey(r)
		}, nil
	}
	return nil, fmt.Errorf("ratelimit: key %q: want ip, header:NAME, identity or route", spec)
}

// ClientKey is r's client (clientip.Of) as a limiter key: an IPv6 client
// is its /64, since one host usually holds a whole /64 and would
// otherwise get a bucket per address. It allocates only for IPv6.
func ClientKey(r *http.Request) string {
	host := clientip.Of(r)
	if strings.IndexByte(host, ':') < 0 {
		return host // IPv4 fast path: no parse, no allocation
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a.Is4In6() {
		return a.Unmap().String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

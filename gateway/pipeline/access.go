package pipeline

import (
	"net/http"
	"net/netip"
	"strings"
)

// AccessConfig is a route's method allowlist and client address lists.
type AccessConfig struct {
	Methods    []string
	AllowCIDRs []string
	DenyCIDRs  []string
}

type access struct {
	methods map[string]bool
	allow   string // value of the Allow header on 405
	allowed []netip.Prefix
	denied  []netip.Prefix
	next    Handler
}

// MethodOverrides are the headers with which common frameworks let a POST
// stand for another method.
var MethodOverrides = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// NewAccess refuses methods outside the allowlist (405) and clients outside
// the address lists (403). With nothing configured it is next itself. The
// CIDRs are validated by config.
func NewAccess(c AccessConfig, next Handler) (Handler, error) {
	if len(c.Methods) == 0 && len(c.AllowCIDRs) == 0 && len(c.DenyCIDRs) == 0 {
		return next, nil
	}
	a := &access{next: next}
	if len(c.Methods) > 0 {
		a.methods = map[string]bool{}
		for _, m := range c.Methods {
			a.methods[m] = true
		}
		a.allow = strings.Join(c.Methods, ", ")
	}
	var err error
	if a.allowed, err = parsePrefixes(c.AllowCIDRs); err != nil {
		return nil, err
	}
	if a.denied, err = parsePrefixes(c.DenyCIDRs); err != nil {
		return nil, err
	}
	return a, nil
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (a *access) Serve(q *Request) error {
	if a.methods != nil {
		if !a.methods[q.R.Method] {
			q.W.Header().Set("Allow", a.allow)
			return Refuse(q.W, http.StatusMethodNotAllowed, "method not allowed\n", "method not allowed", false)
		}
		// Frameworks that honour a method override would run a method
		// the allowlist refused.
		for _, k := range MethodOverrides {
			delete(q.R.Header, k)
		}
	}
	if len(a.allowed) > 0 || len(a.denied) > 0 {
		ap, err := netip.ParseAddrPort(q.R.RemoteAddr)
		if err != nil {
			return Refuse(q.W, http.StatusForbidden, "forbidden\n", "forbidden", false)
		}
		ip := ap.Addr().Unmap()
		if len(a.allowed) > 0 && !containsAddr(a.allowed, ip) || containsAddr(a.denied, ip) {
			return Refuse(q.W, http.StatusForbidden, "forbidden\n", "forbidden", false)
		}
	}
	return a.next.Serve(q)
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

package pipeline

import (
	"net/http"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
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
	allowed clientip.Prefixes
	denied  clientip.Prefixes
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
	if a.allowed, err = clientip.ParsePrefixes(c.AllowCIDRs); err != nil {
		return nil, err
	}
	if a.denied, err = clientip.ParsePrefixes(c.DenyCIDRs); err != nil {
		return nil, err
	}
	return a, nil
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
		ip, ok := clientip.Addr(q.R)
		if !ok || len(a.allowed) > 0 && !a.allowed.Contains(ip) || a.denied.Contains(ip) {
			return Refuse(q.W, http.StatusForbidden, "forbidden\n", "forbidden", false)
		}
	}
	return a.next.Serve(q)
}

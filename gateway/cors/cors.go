// Package cors answers a route's CORS preflights and adds the CORS headers
// to its actual responses, following the Fetch standard's CORS protocol
// (https://fetch.spec.whatwg.org/#http-cors-protocol).
//
// A refused origin, method or header gets no Access-Control-* header at
// all, so the browser refuses; the response still says Vary: Origin when
// the headers depend on the origin, so a shared cache does not hand one
// origin's answer to another.
package cors

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
	"golang.org/x/net/http/httpguts"
)

// Config is a route's cors block; the comments on its fields are the
// reference's text.
type Config struct {
	AllowOrigins     []string      `yaml:"allow_origins"`     // required; exact ("https://app.example.com"), wildcard ("https://*.example.com": one or more labels), "null" only if listed, or "*" (not with credentials)
	AllowMethods     []string      `yaml:"allow_methods"`     // within the route's allow_methods if it has one; default [GET, HEAD, POST]
	AllowHeaders     []string      `yaml:"allow_headers"`     // request headers a preflight may ask for (case-insensitive); default none
	ExposeHeaders    []string      `yaml:"expose_headers"`    // response headers scripts may read; default none
	AllowCredentials bool          `yaml:"allow_credentials"` // cookies and Authorization; default false
	MaxAge           time.Duration `yaml:"max_age"`           // how long a browser caches a preflight; default 0 (not sent)
}

// Validate reports c's problems by key relative to the block.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if len(c.AllowOrigins) == 0 {
		v.Add("allow_origins", "required")
	}
	for i, o := range c.AllowOrigins {
		key := "allow_origins[" + strconv.Itoa(i) + "]"
		switch {
		case o == "*":
			if c.AllowCredentials {
				v.Add(key, `"*" is not allowed with allow_credentials: list the origins`)
			}
		case o == "null":
		default:
			if why := badOrigin(o); why != "" {
				v.Add(key, "%q: %s", o, why)
			}
		}
	}
	for i, m := range c.AllowMethods {
		if m == "" || !isToken(m) {
			v.Add("allow_methods["+strconv.Itoa(i)+"]", "invalid method %q", m)
		}
	}
	for i, h := range c.AllowHeaders {
		if !httpguts.ValidHeaderFieldName(h) {
			v.Add("allow_headers["+strconv.Itoa(i)+"]", "invalid header name %q", h)
		}
	}
	for i, h := range c.ExposeHeaders {
		if !httpguts.ValidHeaderFieldName(h) {
			v.Add("expose_headers["+strconv.Itoa(i)+"]", "invalid header name %q", h)
		}
	}
	if c.MaxAge < 0 || c.MaxAge%time.Second != 0 {
		v.Add("max_age", "must be a whole, non-negative number of seconds")
	}
	return v.Errs
}

// badOrigin says what is wrong with an origin pattern ("" nothing).
func badOrigin(o string) string {
	scheme, host, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return `want scheme://host[:port] with scheme http or https`
	}
	if o != strings.ToLower(o) {
		return "must be lower-case (browsers send origins lower-case)"
	}
	if strings.HasPrefix(host, "*.") {
		host = host[2:]
	}
	name, port, hasPort := strings.Cut(host, ":")
	if name == "" || strings.ContainsAny(name, "*/?#@ ") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return "want scheme://host[:port], a wildcard only as the first label (https://*.example.com)"
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "invalid port"
		}
	}
	return ""
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// Policy is a compiled cors block.
type Policy struct {
	any         bool // "*"
	exact       map[string]bool
	wild        []wildcard
	methods     map[string]bool
	headers     map[string]bool // lower-case
	allowMeth   string
	expose      string
	credentials bool
	maxAge      string
}

// wildcard is "scheme://*.suffix[:port]" split at the star.
type wildcard struct{ prefix, suffix string }

// New compiles c (validated).
func New(c Config) *Policy {
	p := &Policy{exact: map[string]bool{}, methods: map[string]bool{}, headers: map[string]bool{}, credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			p.any = true
		case strings.Contains(o, "://*."):
			pre, suf, _ := strings.Cut(o, "*")
			p.wild = append(p.wild, wildcard{pre, suf})
		default:
			p.exact[o] = true
		}
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "POST"}
	}
	for _, m := range methods {
		p.methods[m] = true
	}
	p.allowMeth = strings.Join(methods, ", ")
	for _, h := range c.AllowHeaders {
		p.headers[strings.ToLower(h)] = true
	}
	p.expose = strings.Join(c.ExposeHeaders, ", ")
	if c.MaxAge > 0 {
		p.maxAge = strconv.FormatInt(int64(c.MaxAge/time.Second), 10)
	}
	return p
}

// Allowed reports whether origin may read the route's responses.
func (p *Policy) Allowed(origin string) bool {
	if p.exact[origin] {
		return true
	}
	if origin == "null" { // only ever an exact entry; "*" does not cover it
		return false
	}
	for _, w := range p.wild {
		if len(origin) > len(w.prefix)+len(w.suffix) && strings.HasPrefix(origin, w.prefix) &&
			strings.HasSuffix(origin, w.suffix) && labels(origin[len(w.prefix):len(origin)-len(w.suffix)]) {
			return true
		}
	}
	return p.any
}

// labels reports whether s is one or more DNS labels: what a wildcard's
// star may stand for (no port, path, userinfo or empty label).
func labels(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '-' {
		return false
	}
	prev := byte('.')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '.' && prev != '.':
		default:
			return false
		}
		prev = c
	}
	return prev != '.'
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) > 0 && len(r.Header["Access-Control-Request-Method"]) > 0
}

// Preflight answers a preflight request with 204: the CORS headers when
// the origin and method are allowed, none otherwise. Of the requested
// headers it allows those configured; the browser refuses the request if
// that is not all of them.
func (p *Policy) Preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Vary"] = append(h["Vary"], "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	origin := r.Header.Get("Origin")
	if p.Allowed(origin) && p.methods[r.Header.Get("Access-Control-Request-Method")] {
		p.origin(h, origin)
		h["Access-Control-Allow-Methods"] = []string{p.allowMeth}
		if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
			if allowed := p.allowHeaders(req); allowed != "" {
				h["Access-Control-Allow-Headers"] = []string{allowed}
			}
		}
		if p.maxAge != "" {
			h["Access-Control-Max-Age"] = []string{p.maxAge}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowHeaders is the configured subset of the requested header names.
func (p *Policy) allowHeaders(req []string) string {
	var out []string
	for _, line := range req {
		for _, n := range strings.Split(line, ",") {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" && p.headers[n] {
				out = append(out, n)
			}
		}
	}
	return strings.Join(out, ", ")
}

// Actual sets, on h, the headers of the response to an actual (not
// preflight) request from origin ("" for a request without one): any the
// backend set are replaced, so only the gateway's policy speaks.
func (p *Policy) Actual(h http.Header, origin string) {
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	if !p.any || p.credentials || len(p.exact) > 0 || len(p.wild) > 0 {
		h["Vary"] = append(h["Vary"], "Origin")
	}
	if origin == "" || !p.Allowed(origin) {
		return
	}
	p.origin(h, origin)
	if p.expose != "" {
		h["Access-Control-Expose-Headers"] = []string{p.expose}
	}
}

func (p *Policy) origin(h http.Header, origin string) {
	if p.any && !p.exact[origin] && origin != "null" && len(p.wild) == 0 && !p.credentials {
		h["Access-Control-Allow-Origin"] = []string{"*"}
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
}

// Package route matches requests to routes (host, path prefix, method,
// headers) and computes the request target sent upstream. Matching is a
// pure function of the request.
package route

import (
	"net/http"
	"net/url"
	"strings"
)

// Route is one compiled routing rule.
type Route struct {
	Name          string
	Host          string // "" any; "api.example.com"; "*.example.com"
	PathPrefix    string // "/" matches everything
	Methods       []string
	Headers       []Header
	StripPrefix   bool
	RewritePrefix string // "" = no rewrite; implies strip
	Pool          string
	// Index is the route's position in its table, for per-route state kept
	// by the caller in slices.
	Index int
}

// Header is an exact-match header condition.
type Header struct {
	Name  string // canonical
	Value string
}

// Table is an ordered set of routes: the first match wins.
type Table struct {
	routes []*Route
}

// NewTable builds a table; routes keep their order and get their Index.
func NewTable(routes []*Route) *Table {
	for i, r := range routes {
		r.Index = i
		r.Host = strings.ToLower(r.Host)
		if r.PathPrefix == "" {
			r.PathPrefix = "/"
		}
		for j := range r.Headers {
			r.Headers[j].Name = http.CanonicalHeaderKey(r.Headers[j].Name)
		}
	}
	return &Table{routes: routes}
}

// Routes returns the routes in order.
func (t *Table) Routes() []*Route { return t.routes }

// Match returns the first route that matches r, or nil.
func (t *Table) Match(r *http.Request) *Route {
	for _, rt := range t.routes {
		if rt.matches(r) {
			return rt
		}
	}
	return nil
}

func (rt *Route) matches(r *http.Request) bool {
	if rt.Host != "" && !hostMatches(rt.Host, r.Host) {
		return false
	}
	if !PrefixMatches(rt.PathPrefix, r.URL.Path) {
		return false
	}
	if len(rt.Methods) > 0 {
		ok := false
		for _, m := range rt.Methods {
			if m == r.Method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, h := range rt.Headers {
		vv := r.Header[h.Name]
		ok := false
		for _, v := range vv {
			if v == h.Value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// hostMatches compares a lower-case pattern with a request Host, ignoring
// case and any port. "*.example.com" matches one or more labels before
// example.com, not example.com itself.
func hostMatches(pattern, host string) bool {
	host = stripPort(host)
	if strings.HasPrefix(pattern, "*.") {
		suffix := pattern[1:] // ".example.com"
		return len(host) > len(suffix) && strings.EqualFold(host[len(host)-len(suffix):], suffix)
	}
	return strings.EqualFold(host, pattern)
}

func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// PrefixMatches reports whether path lies under prefix on a segment
// boundary: "/v1" matches "/v1" and "/v1/x" but not "/v10". A prefix ending
// in "/" matches any path that starts with it.
func PrefixMatches(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	if len(path) == len(prefix) || strings.HasSuffix(prefix, "/") {
		return true
	}
	return path[len(prefix)] == '/'
}

// Target returns the request target (path and query) to send upstream.
// Without a rewrite it is exactly what the client sent.
func (rt *Route) Target(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		if uri == "*" {
			return uri
		}
		// absolute-form or missing: rebuild from the parsed URL.
		uri = r.URL.EscapedPath()
		if uri == "" {
			uri = "/"
		}
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	if !rt.StripPrefix && rt.RewritePrefix == "" || rt.PathPrefix == "/" && rt.RewritePrefix == "" {
		return uri
	}
	path, query := uri, ""
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		path, query = uri[:i], uri[i:]
	}
	prefix := strings.TrimSuffix(rt.PathPrefix, "/")
	var rest string
	if strings.HasPrefix(path, prefix) {
		rest = path[len(prefix):]
	} else {
		// The client percent-encoded part of the prefix: work on the
		// decoded path, re-escaped.
		dec := r.URL.Path
		rest = strings.TrimPrefix(dec, prefix)
		rest = (&url.URL{Path: rest}).EscapedPath()
	}
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	if rt.RewritePrefix != "" {
		base := strings.TrimSuffix(rt.RewritePrefix, "/")
		return base + rest + query
	}
	return rest + query
}

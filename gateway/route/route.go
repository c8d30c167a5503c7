// Package route matches requests to routes (host, path prefix, method,
// headers) and computes the request target sent upstream. Matching is a
// pure function of the request.
package route

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
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
	// Regex, when set, is the route's rewrite_regex: the path becomes
	// Regex.ReplaceAllString(path, Replacement). Not with a prefix rewrite.
	Regex       *regexp.Regexp
	Replacement string
	Pool        string
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

// Match returns the first route that matches r, or nil. Paths are
// compared without their segment parameters (see RoutingPath).
func (t *Table) Match(r *http.Request) *Route {
	p := RoutingPath(r.URL.Path)
	for _, rt := range t.routes {
		if rt.matches(r, p) {
			return rt
		}
	}
	return nil
}

// RoutingPath is the path that routes are matched against: p with the
// parameters of every segment (";" up to the next "/") removed. Servlet
// containers and some frameworks read /admin;x and /admin;x/y as /admin
// and /admin/y, so routing treats ";" as the end of a segment's name and
// those paths lie under /admin; a backend that takes ";" literally sees a
// different resource, which a stricter route cannot expose. It allocates
// only for paths that contain ";".
func RoutingPath(p string) string {
	i := strings.IndexByte(p, ';')
	if i < 0 {
		return p
	}
	b := make([]byte, 0, len(p))
	for i >= 0 {
		b = append(b, p[:i]...)
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			return string(b)
		}
		p = p[i+j:]
		i = strings.IndexByte(p, ';')
	}
	return string(append(b, p...))
}

func (rt *Route) matches(r *http.Request, path string) bool {
	if rt.Host != "" && !hostMatches(rt.Host, r.Host) {
		return false
	}
	if !PrefixMatches(rt.PathPrefix, path) {
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

// RegexConfig is a route's rewrite_regex block; the comments on its fields
// are the reference's text.
type RegexConfig struct {
	Pattern     string `yaml:"pattern"`     // required; Go regexp (RE2, linear time), matched against the path as sent (percent-encoded), query excluded
	Replacement string `yaml:"replacement"` // the matched part becomes this ($1, ${name} expand, as Go's Regexp.ReplaceAllString); no "?" or "#"; the result must be a clean path starting with "/", else 500
}

// Validate reports the problems of c by key relative to the block.
func (c *RegexConfig) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if c.Pattern == "" {
		v.Add("pattern", "required")
	} else if _, err := regexp.Compile(c.Pattern); err != nil {
		v.Add("pattern", "invalid regexp: %v", err)
	}
	if strings.ContainsFunc(c.Replacement, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '?' || r == '#' || r == '\\' }) {
		v.Add("replacement", "%q holds a space, control character, \"?\", \"#\" or backslash (the query is kept as the client sent it)", c.Replacement)
	}
	return v.Errs
}

// Groups is the number of capture groups in a valid pattern, -1 for an
// invalid or empty one.
func (c *RegexConfig) Groups() int {
	re, err := regexp.Compile(c.Pattern)
	if c.Pattern == "" || err != nil {
		return -1
	}
	return re.NumSubexp()
}

// ErrUnsafeRewrite: a rewrite_regex made a path the gateway would not have
// accepted from a client.
var ErrUnsafeRewrite = errors.New("rewrite_regex made an unsafe path")

// CheckedTarget is Target with the regex rewrite's result checked like a
// client's path: it starts with "/", is clean (no "." or ".." segment,
// encoded or not, no "//"), its escapes are well formed, and it encodes no
// slash, backslash or control character the client's path did not. match
// is the regex's submatches on the path (nil without a match or a regex).
func (rt *Route) CheckedTarget(r *http.Request) (target string, match []string, err error) {
	target = rt.Target(r)
	if rt.Regex == nil {
		return target, nil, nil
	}
	orig, _, _ := strings.Cut(requestTarget(r), "?")
	match = rt.Regex.FindStringSubmatch(orig)
	if match == nil {
		return target, nil, nil // unchanged: hygiene checked it
	}
	p, _, _ := strings.Cut(target, "?")
	if err := checkPath(p, orig); err != nil {
		return target, match, fmt.Errorf("%w: %q: %v", ErrUnsafeRewrite, p, err)
	}
	return target, match, nil
}

// checkPath checks a rewritten escaped path p made from orig.
func checkPath(p, orig string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New(`does not start with "/"`)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' || c == '?' {
			return fmt.Errorf("invalid byte %q", c)
		}
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return errors.New("malformed percent-encoding")
	}
	if strings.ContainsFunc(dec, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' }) {
		return errors.New("encodes a control character or backslash")
	}
	for _, enc := range []string{"%2f", "%5c"} {
		if strings.Count(strings.ToLower(p), enc) > strings.Count(strings.ToLower(orig), enc) {
			return errors.New("encodes a slash or backslash the request did not")
		}
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		d, _ := url.PathUnescape(seg)
		switch {
		case d == "." || d == "..":
			return errors.New(`has a "." or ".." segment`)
		case seg == "" && i < len(segs)-1:
			return errors.New(`has an empty segment ("//")`)
		}
	}
	return nil
}

// requestTarget is r's target as the client sent it (after hygiene), in
// origin-form.
func requestTarget(r *http.Request) string {
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
	return uri
}

// Target returns the request target (path and query) to send upstream.
// Without a rewrite it is exactly what the client sent. A regex rewrite's
// result is not checked here: CheckedTarget does, in the route's chain.
func (rt *Route) Target(r *http.Request) string {
	uri := requestTarget(r)
	if uri == "*" {
		return uri
	}
	if rt.Regex != nil {
		p, query, _ := strings.Cut(uri, "?")
		p = rt.Regex.ReplaceAllString(p, rt.Replacement)
		if query != "" || strings.HasSuffix(uri, "?") {
			return p + "?" + query
		}
		return p
	}
	if !rt.StripPrefix && rt.RewritePrefix == "" || rt.PathPrefix == "/" && rt.RewritePrefix == "" {
		return uri
	}
	path, query := uri, ""
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		path, query = uri[:i], uri[i:]
	}
	prefix := strings.TrimSuffix(rt.PathPrefix, "/")
	rest, ok := cutPrefix(path, prefix)
	if !ok {
		// The client percent-encoded part of the prefix: work on the
		// decoded path, re-escaped.
		dec := r.URL.Path
		if rest, ok = cutPrefix(dec, prefix); !ok {
			rest = dec
		}
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

// cutPrefix removes prefix from path as routing matched it: segment
// parameters in path are skipped where the prefix has a segment boundary,
// and the parameters of the prefix's last segment go with it
// ("/v1;x/users" less "/v1" is "/users").
func cutPrefix(path, prefix string) (string, bool) {
	if strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] != ';') {
		return path[len(prefix):], true
	}
	i, j := 0, 0
	for j < len(prefix) {
		switch {
		case i < len(path) && path[i] == prefix[j]:
			i, j = i+1, j+1
		case i < len(path) && path[i] == ';' && prefix[j] == '/':
			i = skipParams(path, i)
		default:
			return "", false
		}
	}
	if i < len(path) && path[i] == ';' {
		i = skipParams(path, i)
	}
	return path[i:], true
}

// skipParams returns the index of the "/" that ends the parameters
// starting at path[i], or len(path).
func skipParams(path string, i int) int {
	if k := strings.IndexByte(path[i:], '/'); k >= 0 {
		return i + k
	}
	return len(path)
}

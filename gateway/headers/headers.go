// Package headers sets, adds and removes a route's request and response
// headers, in the manner of Caddy's header/request_header and Traefik's
// headers middleware. Values may use placeholders ({client_ip},
// {request_id}, {subject}, {route}, {host}, {method}, {path}; {backend} on
// responses only), compiled once per configuration so a request only
// fills them in.
//
// The rules never touch what the gateway itself owns: hop-by-hop headers,
// Host, Content-Length, the forwarding headers and the identity header auth
// asserts are refused at load.
package headers

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
	"golang.org/x/net/http/httpguts"
)

// Config is a route's headers block; the comments on its fields are the
// reference's text.
type Config struct {
	Request  Rules `yaml:"request"`  // applied after auth, before the forward
	Response Rules `yaml:"response"` // applied to every response of the route, the gateway's own answers included
}

// Rules are one side's header changes, applied remove, then set, then add.
type Rules struct {
	Set    map[string]string `yaml:"set"`    // header -> value; replaces any value
	Add    map[string]string `yaml:"add"`    // header -> value; appended to any value
	Remove []string          `yaml:"remove"` // header names removed
}

// Empty reports whether c changes nothing.
func (c *Config) Empty() bool { return c.Request.empty() && c.Response.empty() }

func (r *Rules) empty() bool { return len(r.Set) == 0 && len(r.Add) == 0 && len(r.Remove) == 0 }

// Var is a placeholder.
type Var uint8

// The placeholders.
const (
	ClientIP Var = iota + 1
	RequestID
	Subject
	Route
	Backend
	Host
	Method
	Path
)

var vars = map[string]Var{
	"client_ip": ClientIP, "request_id": RequestID, "subject": Subject, "route": Route,
	"backend": Backend, "host": Host, "method": Method, "path": Path,
}

// Source gives a request's placeholder values.
type Source interface {
	Value(v Var) string
}

// Validate reports c's problems by key relative to the block. identity
// names the identity header(s) the route's auth asserts, also refused.
func (c *Config) Validate(identity ...string) yamlconf.Errors {
	var v yamlconf.Check
	c.Request.validate(&v, "request", false, identity)
	c.Response.validate(&v, "response", true, identity)
	return v.Errs
}

func (r *Rules) validate(v *yamlconf.Check, side string, response bool, identity []string) {
	check := func(key, name string) {
		if !httpguts.ValidHeaderFieldName(name) {
			v.Add(key, "invalid header name %q", name)
		} else if why := protected(name, identity); why != "" {
			v.Add(key, "%s is %s: the gateway owns it", http.CanonicalHeaderKey(name), why)
		}
	}
	for _, m := range []struct {
		op string
		m  map[string]string
	}{{"set", r.Set}, {"add", r.Add}} {
		for _, name := range slices.Sorted(maps.Keys(m.m)) {
			key := side + "." + m.op + "." + name
			check(key, name)
			if _, err := compile(m.m[name], response); err != "" {
				v.Add(key, "%s", err)
			}
		}
	}
	for i, name := range r.Remove {
		check(side+".remove["+strconv.Itoa(i)+"]", name)
	}
}

// protected says why the gateway keeps name for itself ("" it does not).
func protected(name string, identity []string) string {
	// CGI, WSGI and PHP read "_" as "-": X_Forwarded_For would reach them
	// as X-Forwarded-For.
	k := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
	switch {
	case k == "Connection" || k == "Transfer-Encoding" || k == "Upgrade" || k == "Keep-Alive" ||
		k == "Te" || k == "Trailer" || strings.HasPrefix(k, "Proxy-"):
		return "hop-by-hop"
	case k == "Host" || k == "Content-Length":
		return "framing"
	case strings.HasPrefix(k, "X-Forwarded-") || k == "Forwarded":
		return "a forwarding header"
	}
	for _, id := range identity {
		if strings.EqualFold(id, k) {
			return "the identity header"
		}
	}
	return ""
}

// template is a value: literal parts and placeholders, alternating.
type template struct {
	lit  []string // len(lit) == len(vars)+1
	vars []Var
}

func compile(s string, response bool) (template, string) {
	var t template
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return t, "unclosed placeholder in " + strconv.Quote(s)
		}
		name := s[i+1 : i+j]
		v, ok := vars[name]
		switch {
		case !ok:
			return t, "unknown placeholder {" + name + "}; known: {client_ip} {request_id} {subject} {route} {backend} {host} {method} {path}"
		case v == Backend && !response:
			return t, "{backend} is known only on responses (after the backend is picked)"
		}
		t.lit = append(t.lit, s[:i])
		t.vars = append(t.vars, v)
		s = s[i+j+1:]
	}
	t.lit = append(t.lit, s)
	if !httpguts.ValidHeaderFieldValue(strings.Join(t.lit, "")) {
		return t, "invalid header value " + strconv.Quote(strings.Join(t.lit, ""))
	}
	return t, ""
}

// expand fills t in; "" and false if a filled-in value would not be a valid
// field value (a decoded path may hold control characters).
func (t *template) expand(src Source, route string) (string, bool) {
	if len(t.vars) == 0 {
		return t.lit[0], true
	}
	if len(t.vars) == 1 && t.lit[0] == "" && t.lit[1] == "" {
		s := value(src, t.vars[0], route)
		return s, httpguts.ValidHeaderFieldValue(s)
	}
	var b strings.Builder
	for i, v := range t.vars {
		b.WriteString(t.lit[i])
		b.WriteString(value(src, v, route))
	}
	b.WriteString(t.lit[len(t.lit)-1])
	s := b.String()
	return s, httpguts.ValidHeaderFieldValue(s)
}

func value(src Source, v Var, route string) string {
	if v == Route {
		return route
	}
	return src.Value(v)
}

type setRule struct {
	name string // canonical
	t    template
}

// Compiled is one side's rules, ready to apply.
type Compiled struct {
	route    string
	remove   []string
	set, add []setRule
}

// Compile builds the rules of one side of c (validated); route is the
// route's name, {route}'s value. It returns nil for a side with no rules,
// so the route's chain has no stage for it.
func Compile(r Rules, route string, response bool) *Compiled {
	if r.empty() {
		return nil
	}
	c := &Compiled{route: route}
	for _, n := range r.Remove {
		c.remove = append(c.remove, http.CanonicalHeaderKey(n))
	}
	for _, n := range slices.Sorted(maps.Keys(r.Set)) {
		t, _ := compile(r.Set[n], response)
		c.set = append(c.set, setRule{http.CanonicalHeaderKey(n), t})
	}
	for _, n := range slices.Sorted(maps.Keys(r.Add)) {
		t, _ := compile(r.Add[n], response)
		c.add = append(c.add, setRule{http.CanonicalHeaderKey(n), t})
	}
	return c
}

// Apply changes h: remove, then set, then add. A rule whose filled-in
// value is not a valid field value is skipped (its set still removes).
func (c *Compiled) Apply(h http.Header, src Source) {
	for _, n := range c.remove {
		delete(h, n)
	}
	for i := range c.set {
		s := &c.set[i]
		if v, ok := s.t.expand(src, c.route); ok {
			h[s.name] = []string{v}
		} else {
			delete(h, s.name)
		}
	}
	for i := range c.add {
		s := &c.add[i]
		if v, ok := s.t.expand(src, c.route); ok {
			h[s.name] = append(h[s.name], v)
		}
	}
}

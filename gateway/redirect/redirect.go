// Package redirect answers a route's requests with a redirect built from a
// template, without a pool:
//
//	redirect: {to: "https://{host}/v2{path}", status: 301}
//
// Placeholders: {scheme} (of the client's own connection: a client's
// X-Forwarded-Proto is not trusted), {host} (without port), {hostport},
// {path}, {query} (raw, without "?"), {uri} (path?query) and {match.N},
// the route's rewrite_regex captures (empty when the pattern does not
// match). {path}, {query} and {uri} are the request's after the route's
// rewrite (prefix or regex).
//
// What comes from the request cannot move the redirect elsewhere: values
// are percent-encoded where a URL may not hold them (CR and LF among them),
// a leading run of slashes in {path} or {uri} is one slash (so "//evil.com"
// is not a protocol-relative target), and when the template writes the
// scheme and host itself, a Location whose scheme, host or userinfo differ
// is refused with 500 rather than sent.
package redirect

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config is a route's redirect block; the comments on its fields are the
// reference's text.
type Config struct {
	To     string `yaml:"to"`     // required; an http(s) URL or a path starting with "/"; placeholders {scheme} {host} {hostport} {path} {query} {uri} {match.N}
	Status int    `yaml:"status"` // 301, 302, 303, 307 or 308; default 302
}

// SetDefaults fills in the default status.
func (c *Config) SetDefaults() {
	if c.Status == 0 {
		c.Status = http.StatusFound
	}
}

// Validate reports the problems of c by key relative to the block;
// groups is the number of capture groups {match.N} may name (-1: the route
// has no rewrite_regex, so none).
func (c *Config) Validate(groups int) yamlconf.Errors {
	var v yamlconf.Check
	switch c.Status {
	case 0, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		v.Add("status", "%d is not a redirect status: use 301, 302, 303, 307 or 308", c.Status)
	}
	if c.To == "" {
		v.Add("to", "required")
	} else if _, err := compile(c.To, groups); err != nil {
		v.Add("to", "%v", err)
	}
	return v.Errs
}

// part is a literal (name == "") or a placeholder.
type part struct {
	lit  string
	name string // scheme host hostport path query uri match
	n    int    // match.N
}

type template struct {
	parts []part
	// fixed is the scheme and host the template writes itself, "" when a
	// placeholder decides them or the target is a path.
	scheme, host string
	relative     bool // the target is a path on the same origin
}

// compile parses a template and checks that it makes a URL.
func compile(to string, groups int) (*template, error) {
	t := &template{}
	rest := to
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed %q in %q", "{", to)
		}
		name := rest[i+1 : i+j]
		p := part{name: name}
		switch {
		case name == "scheme" || name == "host" || name == "hostport" || name == "path" || name == "query" || name == "uri":
		case strings.HasPrefix(name, "match."):
			n, err := strconv.Atoi(name[len("match."):])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("unknown placeholder {%s}", name)
			}
			if groups < 0 {
				return nil, fmt.Errorf("{%s} needs the route's rewrite_regex (its captures)", name)
			}
			if n > groups {
				return nil, fmt.Errorf("{%s}: rewrite_regex.pattern has %d capture groups", name, groups)
			}
			p.name, p.n = "match", n
		default:
			return nil, fmt.Errorf("unknown placeholder {%s}: use {scheme} {host} {hostport} {path} {query} {uri} or {match.N}", name)
		}
		t.parts = append(t.parts, p)
		rest = rest[i+j+1:]
	}
	for _, p := range t.parts {
		if strings.ContainsFunc(p.lit, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '}' }) {
			return nil, fmt.Errorf("invalid character in %q (spaces, control characters and a lone \"}\" are not allowed)", to)
		}
	}
	// A sample expansion must be an http(s) URL with a host, or a path.
	sample := t.expand(&values{scheme: "https", host: "example.com", hostport: "example.com:8443", path: "/p", query: "q=1"})
	u, err := url.Parse(sample)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q does not make a URL: %v", to, err)
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(sample, "/") && !strings.HasPrefix(sample, "//"):
		t.relative = true
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil:
	default:
		return nil, fmt.Errorf(`%q must make an http(s) URL with a host ("https://{host}{uri}") or a path ("/..."), not %q`, to, sample)
	}
	// The template fixes the origin when its first literal holds the
	// scheme and a host that no {host}, {hostport} or {match.N} goes on
	// to extend ("https://api.{host}/" builds its host on purpose).
	if len(t.parts) > 0 && t.parts[0].name == "" {
		lit := t.parts[0].lit
		next := ""
		if len(t.parts) > 1 {
			next = t.parts[1].name
		}
		ends := next != "host" && next != "hostport" && next != "match"
		if lu, err := url.Parse(lit); err == nil && lu.Host != "" &&
			(ends || strings.ContainsAny(lit[len(lu.Scheme)+3:], "/?#")) {
			t.scheme, t.host = lu.Scheme, lu.Host
		}
	}
	return t, nil
}

type values struct {
	scheme, host, hostport, path, query string
	match                               []string
}

func (t *template) expand(v *values) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.name {
		case "":
			b.WriteString(p.lit)
		case "scheme":
			b.WriteString(v.scheme)
		case "host":
			escape(&b, v.host)
		case "hostport":
			escape(&b, v.hostport)
		case "path":
			escape(&b, oneSlash(v.path))
		case "query":
			escape(&b, v.query)
		case "uri":
			escape(&b, oneSlash(v.path))
			if v.query != "" {
				b.WriteByte('?')
				escape(&b, v.query)
			}
		case "match":
			if p.n < len(v.match) {
				escape(&b, v.match[p.n])
			}
		}
	}
	return b.String()
}

// oneSlash makes a leading run of slashes one: "//evil.com/x" would be a
// protocol-relative target.
func oneSlash(p string) string {
	if len(p) < 2 || p[0] != '/' || p[1] != '/' {
		return p
	}
	return "/" + strings.TrimLeft(p, "/")
}

// escape writes s with every byte a URL may not hold, and "\" (a slash to
// browsers), percent-encoded.
func escape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#<>\\^`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// Redirect is a compiled redirect; safe for concurrent use.
type Redirect struct {
	t      *template
	status int
}

// New compiles cfg; groups as for Validate.
func New(cfg Config, groups int) (*Redirect, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(groups).Err(); err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	t, _ := compile(cfg.To, groups)
	return &Redirect{t: t, status: cfg.Status}, nil
}

// Status is the configured redirect status.
func (rd *Redirect) Status() int { return rd.status }

// Location expands the template for r. target is the request target after
// the route's rewrite ("/path?query"); match is the rewrite_regex's
// submatches (nil when it did not match or there is none). It fails when
// the result would leave the origin the template fixes, or is no URL.
func (rd *Redirect) Location(r *http.Request, target string, match []string) (string, error) {
	v := values{scheme: "http", hostport: r.Host, match: match}
	if r.TLS != nil {
		v.scheme = "https"
	}
	v.host = v.hostport
	if h, _, err := splitHostPort(r.Host); err == nil {
		v.host = h
	}
	if target == "*" { // OPTIONS *: the server as a whole
		target = "/"
	}
	v.path, v.query, _ = strings.Cut(target, "?")
	loc := rd.t.expand(&v)
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("redirect target %q is no URL: %v", loc, err)
	}
	switch {
	case rd.t.relative:
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || u.Scheme != "" || u.Host != "" {
			return "", fmt.Errorf("redirect target %q is not a path", loc)
		}
	case u.User != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return "", fmt.Errorf("redirect target %q is not an http(s) URL with a host", loc)
	case rd.t.host != "" && (u.Scheme != rd.t.scheme || u.Host != rd.t.host):
		return "", fmt.Errorf("redirect target %q leaves %s://%s", loc, rd.t.scheme, rd.t.host)
	}
	return loc, nil
}

// splitHostPort is net.SplitHostPort for a Host that may have no port;
// brackets of an IPv6 literal stay, as a URL needs them.
func splitHostPort(h string) (string, string, error) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.Contains(h[i:], "]") {
		return h, "", nil
	}
	return h[:i], h[i+1:], nil
}

// Serve answers r with the redirect to loc, with a short body as
// http.Redirect writes (none for HEAD); it returns the bytes written.
func (rd *Redirect) Serve(w http.ResponseWriter, r *http.Request, loc string) int64 {
	h := w.Header()
	h["Location"] = []string{loc}
	body := ""
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		body = "<a href=\"" + html.EscapeString(loc) + "\">" + http.StatusText(rd.status) + "</a>.\n"
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(rd.status)
	if r.Method == http.MethodHead || body == "" {
		return 0
	}
	n, _ := w.Write([]byte(body))
	return int64(n)
}

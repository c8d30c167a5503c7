package config

import (
	"strings"
	"testing"
)

// Redirect routes and regex rewrites: each refusal names its key and line.
func TestRedirectAndRewriteErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"redirect and pool", `
routes:
  - name: r
    pool: p
    redirect: {to: "https://example.com/"}
` + pool, `t.yaml:4: routes[0].redirect: a route has one of pool, static or redirect`},
		{"redirect and static", `
routes:
  - name: r
    static: {root: .}
    redirect: {to: "https://example.com/"}
` + pool, `t.yaml:4: routes[0].redirect: a route has one of pool, static or redirect`},
		{"redirect status", `
routes:
  - name: r
    redirect: {to: "/x", status: 200}
` + pool, `t.yaml:3: routes[0].redirect.status: 200 is not a redirect status: use 301, 302, 303, 307 or 308`},
		{"redirect unknown placeholder", `
routes:
  - name: r
    redirect:
      to: "https://{hots}/"
` + pool, `t.yaml:4: routes[0].redirect.to: unknown placeholder {hots}: use {scheme} {host} {hostport} {path} {query} {uri} or {match.N}`},
		{"redirect match without regex", `
routes:
  - name: r
    redirect: {to: "/v{match.1}"}
` + pool, `t.yaml:3: routes[0].redirect.to: {match.1} needs the route's rewrite_regex (its captures)`},
		{"redirect match past groups", `
routes:
  - name: r
    rewrite_regex: {pattern: "^/a/(.*)$", replacement: "/$1"}
    redirect: {to: "/v{match.2}"}
` + pool, `t.yaml:4: routes[0].redirect.to: {match.2}: rewrite_regex.pattern has 1 capture groups`},
		{"redirect no scheme", `
routes:
  - name: r
    redirect: {to: "{host}/x"}
` + pool, `t.yaml:3: routes[0].redirect.to: "{host}/x" must make an http(s) URL with a host ("https://{host}{uri}") or a path ("/..."), not "example.com/x"`},
		{"redirect protocol relative", `
routes:
  - name: r
    redirect: {to: "//evil.com{path}"}
` + pool, `t.yaml:3: routes[0].redirect.to: "//evil.com{path}" must make an http(s) URL with a host ("https://{host}{uri}") or a path ("/..."), not "//evil.com/p"`},
		{"redirect with compress", `
routes:
  - name: r
    redirect: {to: "/x"}
    compress: {}
` + pool, `t.yaml:4: routes[0].compress: not used with redirect`},
		{"bad regex", `
routes:
  - name: r
    pool: p
    rewrite_regex: {pattern: "^/(a", replacement: "/$1"}
` + pool, "t.yaml:4: routes[0].rewrite_regex.pattern: invalid regexp: error parsing regexp: missing closing ): `^/(a`"},
		{"regex and prefix", `
routes:
  - name: r
    pool: p
    rewrite_prefix: /x
    rewrite_regex: {pattern: "^/a", replacement: "/b"}
` + pool, "t.yaml:5: routes[0].rewrite_regex: not with rewrite_prefix or strip_prefix: a route rewrites its path one way"},
		{"regex replacement query", `
routes:
  - name: r
    pool: p
    rewrite_regex: {pattern: "^/a", replacement: "/b?x=1"}
` + pool, `t.yaml:4: routes[0].rewrite_regex.replacement: "/b?x=1" holds a space, control character, "?", "#" or backslash (the query is kept as the client sent it)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(strings.TrimPrefix(tc.yaml, "\n")))
			if err == nil {
				t.Fatalf("Parse succeeded; want\n%s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	c, err := Parse("t.yaml", []byte(`
routes:
  - name: r
    rewrite_regex: {pattern: "^/api/v(\\d+)/(.*)$", replacement: "/v$1/$2"}
    redirect: {to: "https://{host}/v{match.1}/{match.2}"}
`+pool))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].Redirect.Status; got != 302 {
		t.Errorf("default status %d, want 302", got)
	}
}

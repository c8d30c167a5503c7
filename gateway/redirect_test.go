package gateway

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// noFollow returns redirects to the test instead of following them.
func noFollow(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

func sendTo(t *testing.T, c *http.Client, method, url, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return testkit.Do(t, c, req)
}

// A redirect route answers at the gateway, with placeholders filled from
// the request, and is logged like any other answer; a value from the
// request cannot add a header or move the target to another origin.
func TestRedirectRoute(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	logs := &testkit.Buffer{}
	cfg := parseConfig(t, fmt.Sprintf(`
admin: {enabled: false}
access_log: {enabled: true}
routes:
	- name: moved
		match: {host: old.test}
		redirect: {to: "https://{host}/v2{uri}", status: 301}
	- name: fixed
		match: {host: fixed.test}
		redirect: {to: "https://www.example.com{path}"}
	- name: local
		match: {path_prefix: /go}
		strip_prefix: true
		redirect: {to: "{path}", status: 308}
	- name: versioned
		match: {path_prefix: /api}
		rewrite_regex: {pattern: "^/api/v(\\d+)/(.*)$", replacement: "/v$1/$2"}
		redirect: {to: "https://new.test/{match.2}?version={match.1}", status: 307}
	- name: api
		pool: p
pools: [{name: p, backends: [{address: %s}]}]
`, be.Addr()))
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	c := noFollow(gw.Client())

	cases := []struct {
		method, path, host string
		status             int
		loc                string
	}{
		{"GET", "/a/b?x=1", "old.test:8080", 301, "https://old.test/v2/a/b?x=1"},
		{"HEAD", "/a", "old.test", 301, "https://old.test/v2/a"},
		{"POST", "/a", "old.test", 301, "https://old.test/v2/a"},
		{"GET", "/p/q?z", "fixed.test", 302, "https://www.example.com/p/q"},
		{"GET", "/go/docs?x=1", "any.test", 308, "/docs"},
		// Hygiene makes "//" one slash before routing; the redirect would too.
		{"GET", "/go//evil.com/x", "any.test", 308, "/evil.com/x"},
		{"GET", "/api/v3/users/7", "any.test", 307, "https://new.test/users/7?version=3"},
		// An encoded CR LF in the query stays encoded: no header is added.
		{"GET", "/a?x=%0d%0aSet-Cookie:%20a=b", "old.test", 301, "https://old.test/v2/a?x=%0d%0aSet-Cookie:%20a=b"},
	}
	for _, tc := range cases {
		resp, body := sendTo(t, c, tc.method, gw.URL+tc.path, tc.host)
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.loc {
			t.Errorf("%s %s%s: %d Location %q; want %d %q", tc.method, tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.loc)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a header was injected: %q", tc.path, resp.Header.Get("Set-Cookie"))
		}
		switch tc.method {
		case "GET":
			if !strings.HasPrefix(body, `<a href="`) || !strings.Contains(body, http.StatusText(tc.status)) {
				t.Errorf("%s %s: body %q", tc.method, tc.path, body)
			}
		default:
			if body != "" {
				t.Errorf("%s %s: body %q, want none", tc.method, tc.path, body)
			}
		}
	}
	// A path from the client cannot extend the host the template writes.
	if resp, _ := sendTo(t, c, "GET", gw.URL+"/api/v1/x", "fixed.test"); resp.StatusCode != 302 || resp.Header.Get("Location") != "https://www.example.com/api/v1/x" {
		t.Errorf("fixed: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	rec.mu.Lock()
	if n := len(rec.reqs); n != 0 {
		t.Errorf("the backend saw %d requests; redirects are answered at the gateway", n)
	}
	rec.mu.Unlock()

	lines := accessLines(t, logs, len(cases)+1)
	for i, tc := range cases {
		l := lines[i]
		if l["status"] != float64(tc.status) || l["route"] == "" || l["route"] == nil {
			t.Errorf("access log line %d: %v, want status %d and the route", i, l, tc.status)
		}
	}
	if lines[0]["route"] != "moved" || lines[4]["route"] != "local" {
		t.Errorf("routes logged: %v, %v", lines[0]["route"], lines[4]["route"])
	}
}

// A regex rewrite changes the path the backend sees and keeps the query;
// a rewrite that would make a path hygiene refuses is answered 500 and
// never forwarded.
func TestRegexRewrite(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	cfg := parseConfig(t, fmt.Sprintf(`
admin: {enabled: false}
access_log: {enabled: false}
routes:
	- name: dots
		match: {path_prefix: /dots}
		rewrite_regex: {pattern: "^/dots/([^x]*)x(.*)$", replacement: "/$1/$2"}
		pool: p
	- name: api
		rewrite_regex: {pattern: "^/api/v(\\d+)/(.*)$", replacement: "/v$1/$2"}
		pool: p
pools: [{name: p, backends: [{address: %s}]}]
`, be.Addr()))
	_, gw := startGateway(t, cfg, Options{})
	for path, want := range map[string]string{
		"/api/v3/users?x=1&y": "/v3/users?x=1&y",
		"/api/v12/a%20b":      "/v12/a%20b",
		"/other?q":            "/other?q", // no match: as sent
		"/dots/ax.b":          "/a/.b",
	} {
		code, body, h := get(t, gw.Client(), gw.URL+path)
		if code != 200 || h.Get("X-Path") != want {
			t.Errorf("%s: %d %q, backend saw %q; want %q", path, code, body, h.Get("X-Path"), want)
		}
	}
	rec.mu.Lock()
	seen := len(rec.reqs)
	rec.mu.Unlock()
	code, body, _ := get(t, gw.Client(), gw.URL+"/dots/..x../etc/passwd")
	if code != 500 || !strings.Contains(body, "path rewrite") {
		t.Errorf("unsafe rewrite: %d %q, want 500", code, body)
	}
	rec.mu.Lock()
	if len(rec.reqs) != seen {
		t.Errorf("an unsafe rewrite reached the backend: %s", rec.reqs[len(rec.reqs)-1].URL.RequestURI())
	}
	rec.mu.Unlock()
}

// On a static route, files are found by the regex-rewritten path.
func TestRegexRewriteStatic(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v2", "app.js"), []byte("v2 app"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, fmt.Sprintf(`
admin: {enabled: false}
access_log: {enabled: false}
routes:
	- name: assets
		rewrite_regex: {pattern: "^/assets/(\\w+)-(\\d+)\\.js$", replacement: "/v$2/$1.js"}
		static: {root: %s}
pools: [{name: p, backends: [{address: "127.0.0.1:1"}]}]
`, dir))
	_, gw := startGateway(t, cfg, Options{})
	if code, body, _ := get(t, gw.Client(), gw.URL+"/assets/app-2.js"); code != 200 || body != "v2 app" {
		t.Errorf("rewritten static path: %d %q", code, body)
	}
	if code, _, _ := get(t, gw.Client(), gw.URL+"/assets/app-3.js"); code != 404 {
		t.Errorf("missing file: %d, want 404", code)
	}
}

package route

import (
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestRegexTarget(t *testing.T) {
	rt := &Route{PathPrefix: "/", Regex: regexp.MustCompile(`^/api/v(\d+)/(.*)$`), Replacement: "/v$1/$2"}
	cases := []struct {
		uri, want string
		match     []string
		unsafe    bool
	}{
		{"/api/v3/users?x=1", "/v3/users?x=1", []string{"/api/v3/users", "3", "users"}, false},
		{"/api/v3/a%20b", "/v3/a%20b", []string{"/api/v3/a%20b", "3", "a%20b"}, false},
		{"/other?x", "/other?x", nil, false}, // no match: as sent
		{"/api/v1/", "/v1/", []string{"/api/v1/", "1", ""}, false},
		{"/api/v1/%2e%2e/admin", "/v1/%2e%2e/admin", []string{"/api/v1/%2e%2e/admin", "1", "%2e%2e/admin"}, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", tc.uri, nil)
		if got := rt.Target(r); got != tc.want {
			t.Errorf("Target(%q) = %q, want %q", tc.uri, got, tc.want)
		}
		got, m, err := rt.CheckedTarget(r)
		if got != tc.want || strings.Join(m, ",") != strings.Join(tc.match, ",") || (err != nil) != tc.unsafe {
			t.Errorf("CheckedTarget(%q) = %q, %q, %v; want %q, %q, unsafe %v", tc.uri, got, m, err, tc.want, tc.match, tc.unsafe)
		}
		if err != nil && !errors.Is(err, ErrUnsafeRewrite) {
			t.Errorf("%q: %v is not ErrUnsafeRewrite", tc.uri, err)
		}
	}
}

// A replacement can build from captures what hygiene would have refused
// from a client; CheckedTarget refuses each.
func TestRegexUnsafe(t *testing.T) {
	cases := []struct{ pattern, repl, uri, why string }{
		{`^/a/(.*)$`, "$1", "/a/x", `start with "/"`},
		{`^/a/([^x]*)x(.*)$`, "/$1/$2", "/a/..x..", `"." or ".."`},
		{`^/a/(.*)$`, "//$1", "/a/evil.com", `empty segment`},
		{`^/a/([^/]*)/(.*)$`, "/$1%2f$2", "/a/b/c", "encodes a slash"},
		{`^/a/(\w+)$`, "/%$1", "/a/zz", "percent-encoding"},
		{`^/a/(\w+)$`, "/$1%0a", "/a/b", "control character"},
	}
	for _, tc := range cases {
		rt := &Route{PathPrefix: "/", Regex: regexp.MustCompile(tc.pattern), Replacement: tc.repl}
		_, _, err := rt.CheckedTarget(httptest.NewRequest("GET", tc.uri, nil))
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s -> %s on %s: %v, want %q", tc.pattern, tc.repl, tc.uri, err, tc.why)
		}
	}
	// The client's own encoded slash may pass through.
	rt := &Route{PathPrefix: "/", Regex: regexp.MustCompile(`^/a/(.*)$`), Replacement: "/b/$1"}
	if _, _, err := rt.CheckedTarget(httptest.NewRequest("GET", "/a/x%2Fy", nil)); err != nil {
		t.Errorf("client's %%2F: %v", err)
	}
}

func TestRegexConfig(t *testing.T) {
	c := RegexConfig{Pattern: "^/(a", Replacement: "/x"}
	if err := c.Validate().Err(); err == nil || !strings.Contains(err.Error(), "pattern: invalid regexp: error parsing regexp: missing closing )") {
		t.Errorf("invalid pattern: %v", err)
	}
	if c.Groups() != -1 {
		t.Errorf("Groups of an invalid pattern = %d", c.Groups())
	}
	c = RegexConfig{Pattern: `^/(a)(?P<n>b)$`, Replacement: "/x y"}
	if err := c.Validate().Err(); err == nil || !strings.Contains(err.Error(), "replacement") {
		t.Errorf("replacement with a space: %v", err)
	}
	if c.Groups() != 2 {
		t.Errorf("Groups = %d, want 2", c.Groups())
	}
}

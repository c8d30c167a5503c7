package route

import (
	"net/http/httptest"
	"testing"
)

func TestPrefixMatches(t *testing.T) {
	cases := []struct {
		prefix, path string
		want         bool
	}{
		{"/", "/anything", true},
		{"/v1", "/v1", true},
		{"/v1", "/v1/", true},
		{"/v1", "/v1/users", true},
		{"/v1", "/v10", false},
		{"/v1", "/v", false},
		{"/v1/", "/v1/x", true},
		{"/v1/", "/v1", false},
		{"/static/", "/static/app.js", true},
	}
	for _, c := range cases {
		if got := PrefixMatches(c.prefix, c.path); got != c.want {
			t.Errorf("PrefixMatches(%q, %q) = %v", c.prefix, c.path, got)
		}
	}
}

func TestTarget(t *testing.T) {
	cases := []struct {
		route  Route
		uri    string
		target string
	}{
		{Route{PathPrefix: "/"}, "/a/b?x=1", "/a/b?x=1"},
		{Route{PathPrefix: "/v1"}, "/v1/users?id=2", "/v1/users?id=2"},
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1/users?id=2", "/users?id=2"},
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1", "/"},
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1?x", "/?x"},
		{Route{PathPrefix: "/v1/", StripPrefix: true}, "/v1/users", "/users"},
		{Route{PathPrefix: "/v2", RewritePrefix: "/api"}, "/v2/users", "/api/users"},
		{Route{PathPrefix: "/v2", RewritePrefix: "/api/"}, "/v2/users", "/api/users"},
		{Route{PathPrefix: "/v2", RewritePrefix: "/"}, "/v2/users", "/users"},
		{Route{PathPrefix: "/v2", RewritePrefix: "/api"}, "/v2", "/api/"},
		// encoded bytes in the rest of the path are passed through as sent
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1/a%2Fb", "/a%2Fb"},
		// the client encoded part of the prefix itself
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v%31/x", "/x"},
		// segment parameters: routing matched /v1;x as /v1, so the prefix
		// goes with its parameters; the rest keeps its own
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1;jsessionid=1/users;y?q", "/users;y?q"},
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v1;x", "/"},
		{Route{PathPrefix: "/api/v1", RewritePrefix: "/in"}, "/api;a/v1;b/users", "/in/users"},
		{Route{PathPrefix: "/v1", StripPrefix: true}, "/v%31;x/y", "/y"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.uri, nil)
		rt := c.route
		NewTable([]*Route{&rt})
		if got := rt.Target(r); got != c.target {
			t.Errorf("%+v %q: target %q, want %q", c.route, c.uri, got, c.target)
		}
	}
}

func TestMatchOrderAndConditions(t *testing.T) {
	tbl := NewTable([]*Route{
		{Name: "wild", Host: "*.Example.com", PathPrefix: "/"},
		{Name: "post", PathPrefix: "/api", Methods: []string{"POST"}},
		{Name: "hdr", PathPrefix: "/api", Headers: []Header{{Name: "x-env", Value: "canary"}}},
		{Name: "api", PathPrefix: "/api"},
	})
	cases := []struct {
		method, host, path string
		hdr                map[string]string
		want               string
	}{
		{"GET", "a.example.com", "/x", nil, "wild"},
		{"GET", "a.b.EXAMPLE.com:8443", "/x", nil, "wild"},
		{"GET", "example.com", "/api", nil, "api"},
		{"POST", "other", "/api/x", nil, "post"},
		{"GET", "other", "/api/x", map[string]string{"X-Env": "canary"}, "hdr"},
		{"GET", "other", "/api/x", map[string]string{"X-Env": "prod"}, "api"},
		{"GET", "other", "/nothing", nil, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "http://"+c.host+c.path, nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		got := ""
		if m := tbl.Match(r); m != nil {
			got = m.Name
		}
		if got != c.want {
			t.Errorf("%s %s%s: matched %q, want %q", c.method, c.host, c.path, got, c.want)
		}
	}
}

func TestRoutingPath(t *testing.T) {
	for in, want := range map[string]string{
		"/admin":                  "/admin",
		"/admin;x":                "/admin",
		"/admin;x/y":              "/admin/y",
		"/a;1/b;2/c;3":            "/a/b/c",
		"/a;x;y/b":                "/a/b",
		"/;x":                     "/",
		"/a/b;":                   "/a/b",
		"/static/app.js;v=2?x":    "/static/app.js",
		"/no/params/at/all/here/": "/no/params/at/all/here/",
	} {
		if got := RoutingPath(in); got != want {
			t.Errorf("RoutingPath(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = RoutingPath("/v1/users/42") }); n != 0 {
		t.Errorf("RoutingPath allocates %v times for a path without parameters", n)
	}
}

// A route that denies /admin must also see /admin;x and /admin;x/y.
func TestMatchIgnoresSegmentParameters(t *testing.T) {
	tbl := NewTable([]*Route{
		{Name: "admin", PathPrefix: "/admin"},
		{Name: "v1users", PathPrefix: "/v1/users"},
		{Name: "rest", PathPrefix: "/"},
	})
	for path, want := range map[string]string{
		"/admin;x":         "admin",
		"/admin;x/secret":  "admin",
		"/v1;a/users;b/7":  "v1users",
		"/adminx;y":        "rest",
		"/adm;x/in":        "rest",
		"/public/admin;x/": "rest",
	} {
		r := httptest.NewRequest("GET", "http://h"+path, nil)
		got := ""
		if m := tbl.Match(r); m != nil {
			got = m.Name
		}
		if got != want {
			t.Errorf("%s: matched %q, want %q", path, got, want)
		}
	}
}

package redirect

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLocation(t *testing.T) {
	cases := []struct {
		to, host, target string
		tls              bool
		match            []string
		want, err        string
	}{
		{to: "https://{host}/v2{path}", host: "a.example.com:8080", target: "/x/y?q=1", want: "https://a.example.com/v2/x/y"},
		{to: "{scheme}://{hostport}{uri}", host: "a.example.com:8080", target: "/x?q=1", want: "http://a.example.com:8080/x?q=1"},
		{to: "{scheme}://{host}{uri}", host: "a.example.com", target: "/x", tls: true, want: "https://a.example.com/x"},
		{to: "https://b.example.com/new?from={query}", host: "a", target: "/x?q=1&r=2", want: "https://b.example.com/new?from=q=1&r=2"},
		{to: "/v{match.1}/{match.2}", host: "a", target: "/api/v3/u", match: []string{"/api/v3/u", "3", "u"}, want: "/v3/u"},
		{to: "https://{host}:8443{uri}", host: "[::1]:80", target: "/", want: "https://[::1]:8443/"},
		// A path starting with "//" must not make a protocol-relative target.
		{to: "{path}", host: "a", target: "//evil.com/x", want: "/evil.com/x"},
		{to: "{uri}", host: "a", target: "///evil.com", want: "/evil.com"},
		// CR, LF and other bytes a URL cannot hold are encoded.
		{to: "/r{path}", host: "a", target: "/a\r\nSet-Cookie: x", want: "/r/a%0D%0ASet-Cookie:%20x"},
		{to: "/r?u={match.1}", host: "a", target: "/", match: []string{"", "\\evil"}, want: "/r?u=%5Cevil"},
		// The template fixes the host: a value cannot change it.
		{to: "https://example.com{query}", host: "a", target: "/?@evil.com", err: "not an http(s) URL with a host"},
		{to: "https://example.com{query}", host: "a", target: "/?.evil.com", err: "leaves https://example.com"},
		{to: "https://example.com{path}", host: "a", target: "/x", want: "https://example.com/x"},
		{to: "https://example.com{path}", host: "a", target: "*", want: "https://example.com/"}, // OPTIONS *
	}
	for _, tc := range cases {
		rd, err := New(Config{To: tc.to}, 2)
		if err != nil {
			t.Fatalf("%s: %v", tc.to, err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		got, err := rd.Location(r, tc.target, tc.match)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s with %q: %q, %v; want error %q", tc.to, tc.target, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s with %q: %q, %v; want %q", tc.to, tc.target, got, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for to, want := range map[string]string{
		"https://{nope}/":   "unknown placeholder {nope}",
		"https://{host":     "unclosed",
		"/{match.1}":        "needs the route's rewrite_regex",
		"ftp://{host}/":     "must make an http(s) URL",
		"//{host}/":         "must make an http(s) URL",
		"/a b":              "invalid character",
		"https://user@x/":   "must make an http(s) URL",
		"{host}{path}":      "must make an http(s) URL",
		"https://{host}/ok": "",
	} {
		c := Config{To: to}
		c.SetDefaults()
		got := c.Validate(-1).Err()
		switch {
		case want == "" && got != nil:
			t.Errorf("%q: %v", to, got)
		case want != "" && (got == nil || !strings.Contains(got.Error(), want)):
			t.Errorf("%q: %v, want %q", to, got, want)
		}
	}
}

func TestServeBody(t *testing.T) {
	rd, err := New(Config{To: "/n", Status: 308}, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "HEAD", "POST"} {
		w := httptest.NewRecorder()
		n := rd.Serve(w, httptest.NewRequest(m, "/", nil), "/n?a=<b>")
		if w.Code != 308 || w.Header().Get("Location") != "/n?a=<b>" {
			t.Errorf("%s: %d %q", m, w.Code, w.Header().Get("Location"))
		}
		want := `<a href="/n?a=&lt;b&gt;">Permanent Redirect</a>.` + "\n"
		if m != "GET" {
			want = ""
		}
		if w.Body.String() != want || n != int64(len(want)) {
			t.Errorf("%s: body %q (%d), want %q", m, w.Body.String(), n, want)
		}
	}
}

package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAllowedOrigins(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://app.example.com", "https://*.example.com", "http://localhost:3000"}})
	for origin, want := range map[string]bool{
		"https://app.example.com":       true,
		"https://a.example.com":         true,
		"https://a.b.example.com":       true,
		"http://localhost:3000":         true,
		"https://example.com":           false, // one label at least
		"https://evilexample.com":       false,
		"https://example.com.evil.net":  false,
		"http://a.example.com":          false, // not another scheme
		"https://a.example.com:8443":    false, // nor another port
		"https://a.example.com.":        false,
		"https://a..example.com":        false,
		"https://x@a.example.com":       false,
		"https://x/.example.com":        false,
		"https://-.example.com":         false,
		"https://APP.example.com":       false, // browsers serialise lower-case
		"null":                          false,
		"":                              false,
		"http://localhost:30000":        false,
		"https://app.example.com/":      false,
		"https://app.example.com.evil/": false,
	} {
		if got := p.Allowed(origin); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", origin, got, want)
		}
	}
	star := New(Config{AllowOrigins: []string{"*"}})
	if !star.Allowed("https://anything.test") || star.Allowed("null") {
		t.Error(`"*" must allow any origin but "null"`)
	}
	if !New(Config{AllowOrigins: []string{"null"}}).Allowed("null") {
		t.Error(`listed "null" refused`)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "allow_origins: required"},
		{Config{AllowOrigins: []string{"*"}, AllowCredentials: true}, "allow_origins[0]"},
		{Config{AllowOrigins: []string{"example.com"}}, "allow_origins[0]"},
		{Config{AllowOrigins: []string{"https://a.*.example.com"}}, "allow_origins[0]"},
		{Config{AllowOrigins: []string{"https://App.example.com"}}, "lower-case"},
		{Config{AllowOrigins: []string{"ftp://a.example.com"}}, "allow_origins[0]"},
		{Config{AllowOrigins: []string{"https://a.example.com:99999"}}, "port"},
		{Config{AllowOrigins: []string{"*"}, AllowMethods: []string{"GE T"}}, "allow_methods[0]"},
		{Config{AllowOrigins: []string{"*"}, AllowHeaders: []string{"bad header"}}, "allow_headers[0]"},
		{Config{AllowOrigins: []string{"*"}, MaxAge: 1500 * time.Millisecond}, "max_age"},
	} {
		err := tc.c.Validate().Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	ok := Config{AllowOrigins: []string{"*", "null", "https://*.example.com", "http://127.0.0.1:8080"}, MaxAge: time.Minute}
	if err := ok.Validate().Err(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func preflight(p *Policy, origin, method, headers string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	w := httptest.NewRecorder()
	p.Preflight(w, r)
	return w
}

func TestPreflight(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://app.example.com"}, AllowHeaders: []string{"Content-Type"}})
	w := preflight(p, "https://app.example.com", "POST", "Content-Type, X-Secret")
	h := w.Result().Header
	if w.Code != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "GET, HEAD, POST" || h.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("allowed: %d %v", w.Code, h)
	}
	if _, ok := h["Access-Control-Allow-Credentials"]; ok {
		t.Error("credentials allowed without allow_credentials")
	}
	if _, ok := h["Access-Control-Max-Age"]; ok {
		t.Error("max-age sent without max_age")
	}
	for _, w := range []*httptest.ResponseRecorder{
		preflight(p, "https://evil.example", "GET", ""),
		preflight(p, "https://app.example.com", "DELETE", ""),
	} {
		if w.Code != 204 {
			t.Errorf("refused: status %d", w.Code)
		}
		for k := range w.Result().Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("refused preflight got %s", k)
			}
		}
		if !strings.Contains(w.Result().Header.Get("Vary"), "Origin") {
			t.Error("refused preflight without Vary: Origin")
		}
	}
	star := New(Config{AllowOrigins: []string{"*"}})
	if got := preflight(star, "https://x.test", "GET", "").Result().Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf(`"*" without credentials: Allow-Origin %q, want "*"`, got)
	}
	cred := New(Config{AllowOrigins: []string{"https://*.example.com"}, AllowCredentials: true, MaxAge: time.Hour})
	h = preflight(cred, "https://a.example.com", "GET", "").Result().Header
	if h.Get("Access-Control-Allow-Origin") != "https://a.example.com" || h.Get("Access-Control-Allow-Credentials") != "true" ||
		h.Get("Access-Control-Max-Age") != "3600" {
		t.Errorf("credentials: %v", h)
	}
}

func TestActual(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://app.example.com"}, ExposeHeaders: []string{"X-Id", "X-Page"}})
	h := http.Header{"Access-Control-Allow-Origin": {"*"}, "Vary": {"Accept-Encoding"}}
	p.Actual(h, "https://app.example.com")
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Expose-Headers") != "X-Id, X-Page" {
		t.Errorf("allowed: %v", h)
	}
	if v := h.Values("Vary"); len(v) != 2 || v[1] != "Origin" {
		t.Errorf("Vary %q, want the backend's and Origin", v)
	}
	h = http.Header{"Access-Control-Allow-Origin": {"*"}}
	p.Actual(h, "https://evil.example")
	if len(h) != 1 || h.Get("Vary") != "Origin" {
		t.Errorf("refused: %v, want only Vary: Origin", h)
	}
	h = http.Header{}
	New(Config{AllowOrigins: []string{"*"}}).Actual(h, "https://x.test")
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Vary") != "" {
		t.Errorf(`"*": %v, want Allow-Origin "*" and no Vary`, h)
	}
}

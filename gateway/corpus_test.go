package gateway

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/pipeline"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// The access-control corpus: requests that try to reach what a route denies
// by spelling it another way. The gateway denies /admin (any host) and the
// host admin.test to every client. Each request must be refused, or reach
// the backend in a form that no common backend would read as /admin or as
// admin.test: whatever the gateway routed on is what the backend sees.
var aclCorpus = []struct{ name, raw string }{
	{"plain", "GET /admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"trailing slash", "GET /admin/ HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"sub path", "GET /admin/users HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"semicolon param", "GET /admin;x HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"semicolon param sub path", "GET /admin;jsessionid=1/users HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"semicolon before", "GET /;x/admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"fragment", "GET /admin#x HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"fragment only", "GET /ok#/../admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"dot segment", "GET /./admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"dot dot", "GET /x/../admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"dot dot above root", "GET /../admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"double slash", "GET //admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded letter", "GET /%61dmin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded upper", "GET /%41dmin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded dot dot", "GET /x/%2e%2e/admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded dot dot upper", "GET /x/%2E%2E/admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded slash", "GET /x%2f..%2fadmin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded semicolon", "GET /admin%3bx HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"encoded hash", "GET /admin%23x HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"backslash", "GET /x\\..\\admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"backslash prefix", "GET \\admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"NUL encoded", "GET /admin%00 HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"tab in path", "GET /admin\t HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"absolute form", "GET http://ok.test/admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"absolute form other host", "GET http://admin.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"absolute form dot", "GET http://admin.test./ HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: admin.test\r\n\r\n"},
	{"host plain", "GET / HTTP/1.1\r\nHost: admin.test\r\n\r\n"},
	{"host upper", "GET / HTTP/1.1\r\nHost: ADMIN.TEST\r\n\r\n"},
	{"host trailing dot", "GET / HTTP/1.1\r\nHost: admin.test.\r\n\r\n"},
	{"host trailing dot port", "GET / HTTP/1.1\r\nHost: admin.test.:80\r\n\r\n"},
	{"host port", "GET / HTTP/1.1\r\nHost: admin.test:8080\r\n\r\n"},
	{"host two dots", "GET / HTTP/1.1\r\nHost: admin.test..\r\n\r\n"},
	{"host userinfo", "GET / HTTP/1.1\r\nHost: ok.test@admin.test\r\n\r\n"},
	{"host space", "GET / HTTP/1.1\r\nHost: admin.test ok.test\r\n\r\n"},
	{"host twice", "GET / HTTP/1.1\r\nHost: ok.test\r\nHost: admin.test\r\n\r\n"},
	{"host tab", "GET / HTTP/1.1\r\nHost:\tadmin.test\r\n\r\n"},
	{"host encoded", "GET / HTTP/1.1\r\nHost: admin%2etest\r\n\r\n"},
	{"override header", "GET /ok HTTP/1.1\r\nHost: ok.test\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n\r\n"},
	{"forwarded host", "GET / HTTP/1.1\r\nHost: ok.test\r\nX-Forwarded-Host: admin.test\r\n\r\n"},
	{"method space", "GET /admin /ok HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"lower method", "get /admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"HTTP/1.0 no host", "GET /admin HTTP/1.0\r\n\r\n"},
	{"pipelined second", "GET /ok HTTP/1.1\r\nHost: ok.test\r\n\r\nGET /admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"smuggled in body", "POST /ok HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 38\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: ok.test\r\n\r\n"},
	{"upgrade h2c", "GET /ok HTTP/1.1\r\nHost: ok.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"},
}

// reachesAdmin reports whether a request the backend received would be
// read as the denied path or host by a backend that decodes percent
// escapes, treats backslash as slash, drops ;parameters and resolves dot
// segments (the union of what common servers do).
func reachesAdmin(r *http.Request) bool {
	host := strings.ToLower(stripHostPort(r.Host))
	if strings.TrimRight(host, ".") == "admin.test" {
		return true
	}
	for _, h := range []string{"X-Original-Url", "X-Rewrite-Url"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	raw := r.RequestURI
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		if strings.TrimRight(strings.ToLower(u.Hostname()), ".") == "admin.test" {
			return true
		}
		raw = u.RequestURI()
	}
	p, _, _ := strings.Cut(raw, "?")
	p, _, _ = strings.Cut(p, "#")
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	p = strings.ReplaceAll(p, "\\", "/")
	var segs []string
	for _, s := range strings.Split(p, "/") {
		s, _, _ = strings.Cut(s, ";")
		segs = append(segs, s)
	}
	p = path.Clean("/" + strings.Join(segs, "/"))
	return p == "/admin" || strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/admin\x00")
}

func TestACLBypassCorpus(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	cfg := parseConfig(t, `
access_log: {enabled: false}
admin: {enabled: false}
routes:
	- name: admin-host
		match: {host: admin.test}
		pool: p
		allow_cidrs: [192.0.2.0/24]
	- name: admin-path
		match: {path_prefix: /admin}
		pool: p
		allow_cidrs: [192.0.2.0/24]
	- name: rest
		pool: p
pools:
	- name: p
		backends:
			- address: `+be.Addr()+`
`)
	_, gw := startGateway(t, cfg, Options{})
	addr := gw.Listener.Addr().String()
	for _, tc := range aclCorpus {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			statuses := sendRaw(t, addr, tc.raw)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range seen {
				if reachesAdmin(r) {
					t.Errorf("backend saw %s %q Host %q (answers %v)", r.Method, r.RequestURI, r.Host, statuses)
				}
			}
		})
	}
}

// sendRaw writes raw to a new connection and reads responses until the
// gateway closes it or has answered every request line in raw; it returns
// their statuses.
func sendRaw(t *testing.T, addr, raw string) []int {
	t.Helper()
	c := testkit.Dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var statuses []int
	for want := strings.Count(raw, " HTTP/1."); len(statuses) < want; {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return statuses
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		if resp.Close {
			break
		}
	}
	return statuses
}

// A route that allows only GET and POST must not let a POST stand for a
// DELETE through the override headers frameworks honour.
func TestMethodOverrideCannotPassAllowlist(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, `
access_log: {enabled: false}
admin: {enabled: false}
routes:
	- name: api
		pool: p
		allow_methods: [GET, POST]
pools:
	- name: p
		backends:
			- address: `+be.Addr()+`
`), Options{})
	statuses := sendRaw(t, gw.Listener.Addr().String(), "POST /x HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 0\r\n"+
		"X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\n\r\n")
	if len(statuses) != 1 || statuses[0] != 200 {
		t.Fatalf("answers %v, want [200]", statuses)
	}
	for _, k := range pipeline.MethodOverrides {
		if v := rec.last(t).Header.Get(k); v != "" {
			t.Errorf("backend saw %s: %s", k, v)
		}
	}
}

// What the gateway asserts about the client (address, scheme, host) cannot
// be forged: from an untrusted peer the forwarding headers are replaced;
// from a trusted proxy they are extended.
func TestForwardingHeadersCannotBeForged(t *testing.T) {
	forged := "GET /x HTTP/1.1\r\nHost: ok.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: admin.test\r\nForwarded: for=203.0.113.9;proto=https\r\n" +
		"X-Forwarded-Port: 443\r\nTrue-Client-IP: 203.0.113.9\r\n\r\n"
	for _, tc := range []struct {
		name, trusted  string
		xff, forwarded string
	}{
		{"untrusted peer", "[]", "127.0.0.1", "for=127.0.0.1;proto=http;host=ok.test"},
		{"trusted proxy", "[127.0.0.0/8]", "203.0.113.9, 127.0.0.1", "for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host=ok.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			be := startHandlerBackend(t, rec)
			_, gw := startGateway(t, parseConfig(t, poolConfig("", be)+"server:\n  trusted_proxies: "+tc.trusted+"\n"), Options{})
			if s := sendRaw(t, gw.Listener.Addr().String(), forged); len(s) != 1 || s[0] != 200 {
				t.Fatalf("answers %v, want [200]", s)
			}
			h := rec.last(t).Header
			if got := h.Get("X-Forwarded-For"); got != tc.xff {
				t.Errorf("X-Forwarded-For %q, want %q", got, tc.xff)
			}
			if got := h.Get("Forwarded"); got != tc.forwarded {
				t.Errorf("Forwarded %q, want %q", got, tc.forwarded)
			}
			if got := h.Get("X-Forwarded-Proto"); got != "http" {
				t.Errorf("X-Forwarded-Proto %q, want http", got)
			}
			if got := h.Get("X-Forwarded-Host"); got != "ok.test" {
				t.Errorf("X-Forwarded-Host %q, want ok.test", got)
			}
			if tc.trusted == "[]" {
				for _, k := range []string{"X-Real-Ip", "X-Forwarded-Port", "True-Client-Ip"} {
					if v := h.Get(k); v != "" {
						t.Errorf("backend saw the client's %s: %s", k, v)
					}
				}
			}
		})
	}
}

// Hosts the fuzzer found: each must be answered 400, never reach a backend
// and never panic the handler.
func TestOddHostsRefused(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	for _, host := range []string{":0", ":80", ".", "..", ".:80", "[::1", "[]:80"} {
		statuses := sendRaw(t, gw.Listener.Addr().String(), "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		if len(statuses) != 1 || statuses[0] != http.StatusBadRequest {
			t.Errorf("Host %q: answers %v, want [400]", host, statuses)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) != 0 {
		t.Errorf("backend saw %d requests", len(rec.reqs))
	}
}

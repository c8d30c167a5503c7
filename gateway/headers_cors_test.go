package gateway

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// send sends req through c and returns the response, its body drained.
func send(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	return resp
}

func TestHeaderRulesThroughGateway(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "backend/1.0")
		w.Header().Set("X-Backend-Note", "a")
		rec.ServeHTTP(w, r)
	}))
	sum := sha256.Sum256([]byte("key-alice"))
	cfg := parseConfig(t, routeWith(fmt.Sprintf(`
auth: {api_keys: {keys: {alice: %x}}}
headers:
	request:
		set: {X-Real-IP: "{client_ip}", X-Who: "{subject}@{route}", X-Req: "{method} {host}{path}", X-Trace: "{request_id}"}
		add: {X-Tag: "gw"}
		remove: [X-Drop]
	response:
		set: {X-Served-By: "{backend}", X-Route: "{route}", X-Who: "{subject}"}
		add: {X-Backend-Note: "b"}
		remove: [Server]`, sum), "", be.Addr()))
	_, srv := startGateway(t, cfg, Options{})
	c := srv.Client()

	req, _ := http.NewRequest("GET", srv.URL+"/a/b?q=1", nil)
	req.Header.Set("X-API-Key", "key-alice")
	req.Header.Set("X-Drop", "secret")
	req.Header.Set("X-Tag", "client")
	req.Header.Set("X-Who", "forged")
	resp := send(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := rec.last(t)
	if v := got.Header.Get("X-Real-IP"); v != "127.0.0.1" {
		t.Errorf("X-Real-IP %q, want 127.0.0.1", v)
	}
	if v := got.Header.Get("X-Who"); v != "alice@all" {
		t.Errorf("X-Who %q, want alice@all (subject known after auth, the client's replaced)", v)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if v := got.Header.Get("X-Req"); v != "GET "+host+"/a/b" {
		t.Errorf("X-Req %q", v)
	}
	if v := got.Header.Get("X-Trace"); v == "" {
		t.Error("X-Trace empty: {request_id} not filled in")
	}
	if v := got.Header.Values("X-Tag"); len(v) != 2 || v[0] != "client" || v[1] != "gw" {
		t.Errorf("X-Tag %q, want [client gw]", v)
	}
	if v := got.Header.Get("X-Drop"); v != "" {
		t.Errorf("X-Drop reached the backend: %q", v)
	}
	if v := resp.Header.Get("X-Served-By"); v != be.Addr() {
		t.Errorf("X-Served-By %q, want %q", v, be.Addr())
	}
	if v := resp.Header.Get("Server"); v != "" {
		t.Errorf("Server %q not removed", v)
	}
	if v := resp.Header.Values("X-Backend-Note"); len(v) != 2 || v[1] != "b" {
		t.Errorf("X-Backend-Note %q, want [a b]", v)
	}

	// The gateway's own refusal gets the response rules too.
	req, _ = http.NewRequest("GET", srv.URL+"/", nil)
	resp = send(t, c, req)
	if resp.StatusCode != 401 {
		t.Fatalf("no key: status %d, want 401", resp.StatusCode)
	}
	if v := resp.Header.Get("X-Route"); v != "all" {
		t.Errorf("401: X-Route %q, want all", v)
	}
	if _, ok := resp.Header["X-Served-By"]; ok && resp.Header.Get("X-Served-By") != "" {
		t.Errorf("401: X-Served-By %q, no backend was picked", resp.Header.Get("X-Served-By"))
	}
}

func TestHeaderRulesRefusedAtLoad(t *testing.T) {
	for _, tc := range []struct{ rules, want string }{
		{`request: {set: {Connection: close}}`, "routes[0].headers.request.set.Connection"},
		{`request: {set: {Proxy-Authorization: x}}`, "hop-by-hop"},
		{`request: {add: {X-Forwarded-For: "{client_ip}"}}`, "forwarding header"},
		{`request: {set: {x-auth-subject: admin}}`, "identity header"},
		{`request: {set: {Host: evil}}`, "Host"},
		{`response: {set: {Content-Length: "0"}}`, "framing"},
		{`request: {set: {X-A: "{nope}"}}`, "unknown placeholder {nope}"},
		{`request: {set: {X-A: "{backend}"}}`, "only on responses"},
		{`request: {remove: [Transfer-Encoding]}`, "routes[0].headers.request.remove[0]"},
	} {
		y := routeWith("headers:\n\t"+tc.rules, "", "127.0.0.1:1")
		_, err := parseConfigErr(y)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.yaml:") {
			t.Errorf("%s: err %v, want FILE:LINE and %q", tc.rules, err, tc.want)
		}
	}
	// The route's own forward_header is the identity header too.
	y := routeWith("auth: {api_keys: {keys: {a: "+strings.Repeat("0", 64)+"}}, forward_header: X-User}\nheaders:\n\trequest: {set: {X-User: root}}", "", "127.0.0.1:1")
	if _, err := parseConfigErr(y); err == nil || !strings.Contains(err.Error(), "identity header") {
		t.Errorf("forward_header: err %v", err)
	}
}

func TestCORSThroughGateway(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // the gateway's policy replaces it
		w.Header().Set("X-Request-Id", "r1")
		_, _ = w.Write([]byte("ok"))
	}))
	sum := sha256.Sum256([]byte("key-alice"))
	cfg := parseConfig(t, routeWith(fmt.Sprintf(`
allow_methods: [GET, PUT]
auth: {api_keys: {keys: {alice: %x}}}
cors:
	allow_origins: [https://app.example.com, "https://*.example.com", "null"]
	allow_methods: [GET, PUT]
	allow_headers: [X-API-Key, Content-Type]
	expose_headers: [X-Request-Id]
	allow_credentials: true
	max_age: 10m`, sum), "", be.Addr()))
	_, srv := startGateway(t, cfg, Options{})
	c := srv.Client()
	preflight := func(origin, method, headers string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/x", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		return send(t, c, req)
	}
	hits := be.Hits()
	// Answered at the gateway, before the route's 405 for OPTIONS and its auth.
	resp := preflight("https://app.example.com", "PUT", "x-api-key,content-type, x-other")
	if resp.StatusCode != 204 {
		t.Fatalf("preflight status %d, want 204", resp.StatusCode)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, PUT",
		"Access-Control-Allow-Headers":     "x-api-key, content-type",
		"Access-Control-Max-Age":           "600",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if v := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(v, "Origin") || !strings.Contains(v, "Access-Control-Request-Method") {
		t.Errorf("preflight Vary %q", v)
	}
	for _, tc := range []struct{ origin, method string }{
		{"https://evilexample.com", "GET"},
		{"https://example.com.evil.net", "GET"},
		{"http://app.example.com", "GET"}, // another scheme
		{"https://example.com", "GET"},    // the wildcard needs a label
		{"https://app.example.com", "DELETE"},
	} {
		resp := preflight(tc.origin, tc.method, "")
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("refused preflight %s %s got %s", tc.origin, tc.method, k)
			}
		}
	}
	if resp := preflight("https://a.b.example.com", "GET", ""); resp.Header.Get("Access-Control-Allow-Origin") != "https://a.b.example.com" {
		t.Errorf("wildcard over two labels refused")
	}
	if resp := preflight("null", "GET", ""); resp.Header.Get("Access-Control-Allow-Origin") != "null" {
		t.Errorf("listed null refused")
	}
	if be.Hits() != hits {
		t.Errorf("preflights reached the backend")
	}

	// An actual request: forwarded, the backend's CORS header replaced.
	actual := func(origin string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
		req.Header.Set("X-API-Key", "key-alice")
		req.Header.Set("Origin", origin)
		return send(t, c, req)
	}
	resp = actual("https://app.example.com")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "X-Request-Id" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("actual: %d %v", resp.StatusCode, resp.Header)
	}
	if v := resp.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Origin") {
		t.Errorf("actual: Vary %q", v)
	}
	resp = actual("https://evil.net")
	if resp.StatusCode != 200 {
		t.Errorf("refused origin: status %d (the request is still served; the browser hides it)", resp.StatusCode)
	}
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("refused origin got %s: %q", k, resp.Header.Get(k))
		}
	}
}

func TestCORSStarWithCredentialsRefusedAtLoad(t *testing.T) {
	y := routeWith("cors:\n\tallow_origins: [\"*\"]\n\tallow_credentials: true", "", "127.0.0.1:1")
	if _, err := parseConfigErr(y); err == nil || !strings.Contains(err.Error(), "routes[0].cors.allow_origins[0]") || !strings.Contains(err.Error(), "test.yaml:") {
		t.Errorf("err %v", err)
	}
}

func parseConfigErr(yaml string) (*config.Config, error) {
	return config.Parse("test.yaml", []byte(strings.ReplaceAll(yaml, "\t", "  ")))
}

// A protocol switch's 101 gets the response rules and CORS headers too,
// though its head is written after the connection is taken over.
func TestHeaderRulesOnUpgrade(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(echoUpgrade))
	cfg := parseConfig(t, routeWith(`
upgrade: [echo]
headers: {response: {set: {X-Route: "{route}"}, remove: [X-Echo]}}
cors: {allow_origins: [https://app.example.com]}`, "", be.Addr()))
	_, gw := startGateway(t, cfg, Options{})
	c := testkit.Dial(t, gw.Listener.Addr().String())
	_, _ = io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("X-Route") != "all" || resp.Header.Get("X-Echo") != "" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("101: %d %v", resp.StatusCode, resp.Header)
	}
	if got := roundTrip(t, c, br, "hi"); got != "HI" {
		t.Fatalf("through the tunnel: %q", got)
	}
}

func TestCORSMethodsOutsideRouteAllowlistRefusedAtLoad(t *testing.T) {
	y := routeWith("allow_methods: [GET]\ncors:\n\tallow_origins: [https://a.test]\n\tallow_methods: [GET, DELETE]", "", "127.0.0.1:1")
	if _, err := parseConfigErr(y); err == nil || !strings.Contains(err.Error(), "routes[0].cors.allow_methods[1]") || !strings.Contains(err.Error(), "test.yaml:") {
		t.Errorf("err %v", err)
	}
}

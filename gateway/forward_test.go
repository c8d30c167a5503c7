package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/trace"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestForwardsAndAnswersWithBackend(t *testing.T) {
	bs := startBackends(t, 1)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", bs...)), Options{})
	code, body, h := get(t, gw.Client(), gw.URL+"/hello")
	if code != 200 || body != "b0\n" || h.Get("X-Backend-Id") != "b0" {
		t.Fatalf("got %d %q %v", code, body, h)
	}
}

func TestForwardingHeaders(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})

	req, _ := http.NewRequest("GET", gw.URL+"/x?q=1", nil)
	req.Host = "shop.example.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Connection", "X-Secret, keep-alive")
	req.Header.Set("X-Secret", "hop")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Set("X-Kept", "yes")
	resp, err := gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := rec.last(t)
	if got.URL.RequestURI() != "/x?q=1" {
		t.Errorf("request target %q", got.URL.RequestURI())
	}
	if got.Host != "shop.example.com" {
		t.Errorf("Host %q, want the client's (preserve)", got.Host)
	}
	// The client is not a trusted proxy: its X-Forwarded-For is replaced
	// (TestForwardingHeadersCannotBeForged has the trusted case).
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", xff)
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") != "shop.example.com" {
		t.Errorf("X-Forwarded-Proto/Host %q %q", got.Header.Get("X-Forwarded-Proto"), got.Header.Get("X-Forwarded-Host"))
	}
	if f := got.Header.Get("Forwarded"); f != "for=127.0.0.1;proto=http;host=shop.example.com" {
		t.Errorf("Forwarded %q", f)
	}
	if v := got.Header.Get("Via"); v != "1.1 drawbridge" {
		t.Errorf("Via %q", v)
	}
	for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization"} {
		if got.Header.Get(k) != "" {
			t.Errorf("hop-by-hop %s forwarded: %q", k, got.Header.Get(k))
		}
	}
	if got.Header.Get("X-Kept") != "yes" {
		t.Error("end-to-end header X-Kept lost")
	}
	if !trace.ValidTraceparent(got.Header.Get("Traceparent")) {
		t.Errorf("traceparent not created: %q", got.Header.Get("Traceparent"))
	}
}

func TestTraceparentPassedOn(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, in := range []struct{ sent, want string }{
		{tp, tp},
		{"00-zz-bad", ""}, // malformed: replaced with a fresh one
	} {
		req, _ := http.NewRequest("GET", gw.URL+"/", nil)
		req.Header.Set("Traceparent", in.sent)
		req.Header.Set("Tracestate", "vendor=1")
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := rec.last(t).Header.Get("Traceparent")
		if in.want != "" && got != in.want {
			t.Errorf("valid traceparent changed: %q -> %q", in.sent, got)
		}
		if in.want == "" && (got == in.sent || !trace.ValidTraceparent(got)) {
			t.Errorf("malformed traceparent %q forwarded as %q", in.sent, got)
		}
	}
}

func TestHostHeaderModes(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	for mode, want := range map[string]string{"backend": be.Addr(), "api.internal": "api.internal"} {
		_, gw := startGateway(t, parseConfig(t, poolConfig("host_header: "+mode, be)), Options{})
		req, _ := http.NewRequest("GET", gw.URL+"/", nil)
		req.Host = "public.example.com"
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := rec.last(t).Host; got != want {
			t.Errorf("host_header %s: backend saw Host %q, want %q", mode, got, want)
		}
	}
}

func TestRoutingAndPrefixRewrite(t *testing.T) {
	v1, v2, admin := &recorder{}, &recorder{}, &recorder{}
	b1, b2, b3 := startHandlerBackend(t, v1), startHandlerBackend(t, v2), startHandlerBackend(t, admin)
	cfg := parseConfig(t, fmt.Sprintf(`
access_log: {enabled: false}
admin: {enabled: false}
routes:
	- name: admin
		match: {host: "admin.example.com", methods: [GET]}
		pool: admin
	- name: canary
		match: {path_prefix: /v1, headers: {X-Canary: "yes"}}
		rewrite_prefix: /canary
		pool: v2
	- name: v1
		match: {path_prefix: /v1}
		strip_prefix: true
		pool: v1
	- name: v2
		match: {path_prefix: /v2}
		rewrite_prefix: /api
		pool: v2
pools:
	- name: v1
		backends: [{address: %s}]
	- name: v2
		backends: [{address: %s}]
	- name: admin
		backends: [{address: %s}]
`, b1.Addr(), b2.Addr(), b3.Addr()))
	_, gw := startGateway(t, cfg, Options{})
	c := gw.Client()

	cases := []struct {
		method, host, path string
		hdr                map[string]string
		rec                *recorder
		want               string // request target seen by the backend; "" = 404
	}{
		{"GET", "", "/v1/users?id=7", nil, v1, "/users?id=7"},
		{"GET", "", "/v1", nil, v1, "/"},
		{"GET", "", "/v2/users", nil, v2, "/api/users"},
		{"GET", "", "/v1/users", map[string]string{"X-Canary": "yes"}, v2, "/canary/users"},
		{"GET", "ADMIN.example.com:8080", "/v1/x", nil, admin, "/v1/x"},
		{"POST", "admin.example.com", "/v1/x", nil, v1, "/x"},
		{"GET", "", "/v10", nil, nil, ""},
		{"GET", "", "/other", nil, nil, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, gw.URL+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.want == "" {
			if resp.StatusCode != 404 || len(body) == 0 || len(body) > 64 {
				t.Errorf("%s %s: got %d %q, want 404 with a short body", tc.method, tc.path, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != 200 {
			t.Errorf("%s %s%s: status %d", tc.method, tc.host, tc.path, resp.StatusCode)
			continue
		}
		if got := tc.rec.last(t).URL.RequestURI(); got != tc.want {
			t.Errorf("%s %s%s: backend saw %q, want %q", tc.method, tc.host, tc.path, got, tc.want)
		}
	}
}

// The first part of a streamed response must reach the client while the
// backend is still producing the rest.
func TestResponseStreamedWithFlushAndTrailers(t *testing.T) {
	release := make(chan struct{})
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("first\n"))
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write([]byte("second\n"))
		w.Header().Set("X-Checksum", "abc123")
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	resp, err := gw.Client().Get(gw.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk: %q %v", line, err)
	}
	close(release) // only now may the backend finish
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest: %q %v", rest, err)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
		t.Fatalf("trailer X-Checksum = %q", got)
	}
}

// The request body must be streamed: the backend sees the first part before
// the client has sent the second.
func TestRequestBodyStreamed(t *testing.T) {
	gotFirst := make(chan struct{})
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 6)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "part1;" {
			http.Error(w, "bad first part", 400)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s%s", buf, rest)
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("part1;"))
		select {
		case <-gotFirst:
		case <-time.After(5 * time.Second):
			pw.CloseWithError(fmt.Errorf("backend never saw the first part: body was buffered"))
			return
		}
		_, _ = pw.Write([]byte("part2"))
		pw.Close()
	}()
	resp, err := gw.Client().Post(gw.URL+"/upload", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "part1;part2" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestLargeBodiesBothWays(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body) // echo, chunked back
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	resp, err := gw.Client().Post(gw.URL+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want %d identical", len(got), len(payload))
	}
}

func TestBackendErrorsMapTo502And504(t *testing.T) {
	// A port with nothing listening: connect refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	_, gw := startGateway(t, parseConfig(t, poolConfigAddrs("", dead)), Options{})
	code, body, _ := get(t, gw.Client(), gw.URL+"/")
	if code != http.StatusBadGateway || len(body) > 64 {
		t.Errorf("dead backend: %d %q, want 502 and a short body", code, body)
	}

	slow := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	_, gw2 := startGateway(t, parseConfig(t, poolConfig("timeouts: {response_header: 50ms}", slow)), Options{})
	code, _, _ = get(t, gw2.Client(), gw2.URL+"/")
	if code != http.StatusGatewayTimeout {
		t.Errorf("slow backend: %d, want 504", code)
	}
}

// A backend that resets the connection costs only that request a 502.
func TestResetGives502ForThatRequestOnly(t *testing.T) {
	n := 0
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reset" {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		n++
		_, _ = w.Write([]byte("fine"))
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	c := gw.Client()
	if code, _, _ := get(t, c, gw.URL+"/ok"); code != 200 {
		t.Fatalf("before: %d", code)
	}
	if code, _, _ := get(t, c, gw.URL+"/reset"); code != http.StatusBadGateway {
		t.Fatalf("reset: %d, want 502", code)
	}
	for i := 0; i < 5; i++ {
		if code, body, _ := get(t, c, gw.URL+"/ok"); code != 200 || body != "fine" {
			t.Fatalf("after reset: %d %q", code, body)
		}
	}
}

func TestNoHealthyBackendAnswers503AtOnce(t *testing.T) {
	bs := startBackends(t, 2)
	g, gw := startGateway(t, parseConfig(t, poolConfig("", bs...)), Options{})
	for _, b := range g.Pool("p").Members() {
		b.SetFlag(1, true) // unhealthy
	}
	start := time.Now()
	code, body, h := get(t, gw.Client(), gw.URL+"/")
	if code != 503 || body != "no healthy backend\n" || h.Get("Retry-After") == "" {
		t.Fatalf("got %d %q", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("503 took %v: it must not wait", d)
	}
}

// Garbage from a backend is a 502, never a crash.
func TestMalformedBackendResponses(t *testing.T) {
	replies := []string{
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
		"HTTP/1.1 999 Nope\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
	}
	for _, reply := range replies {
		be := testkit.StartLines(t, "scripted", reply)
		_, gw := startGateway(t, parseConfig(t, poolConfigAddrs("", be.Addr())), Options{})
		code, _, _ := get(t, gw.Client(), gw.URL+"/")
		be.Kill()
		if code != http.StatusBadGateway {
			t.Errorf("reply %q: status %d, want 502", reply, code)
		}
	}
}

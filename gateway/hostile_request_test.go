package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// The hostile-request corpus: requests that try to reach what routing or
// an access rule denies, to forge an identity, or to inject into the
// backend's HTTP/1.1 request line. Each is sent as raw bytes (HTTP/1.1) or
// crafted frames (h2c, h2 over TLS) over loopback; the backend records the
// raw heads it receives.

// withRouteKeys adds keys (one YAML line) to the route of a poolConfig.
func withRouteKeys(yaml, keys string) string {
	return strings.Replace(yaml, "    pool: p\n", "    pool: p\n    "+keys+"\n", 1)
}

// rawBackend is a backend that records the raw head of every request and
// answers "plain <request line>". When lenient, it grants any Upgrade it
// is asked for: h2c by speaking HTTP/2 on the connection (answering
// "admin secret" to every request, as a backend trusting the gateway's
// access rules would), anything else by answering 101 and closing.
type rawBackend struct {
	*testkit.TCPBackend
	lenient bool
	heads   testkit.Log[string]
}

func startRawBackend(t *testing.T, lenient bool) *rawBackend {
	t.Helper()
	b := &rawBackend{lenient: lenient}
	b.TCPBackend = testkit.StartTCP(t, "raw", func(_ *testkit.TCPBackend, c net.Conn) { b.serve(c) })
	return b
}

func (b *rawBackend) record(s string) { b.heads.Add(s) }

// seen returns the heads recorded so far.
func (b *rawBackend) seen() []string { return b.heads.All() }

// mark returns a function that gives the heads recorded after mark.
func (b *rawBackend) mark() func() []string {
	n := b.heads.Len()
	return func() []string { return b.seen()[n:] }
}

// rawGateway starts a raw backend behind a gateway configured by yaml, a
// format whose last verb takes the backend's address, and returns the
// backend and the gateway's address.
func rawGateway(t *testing.T, lenient bool, yaml string, args ...any) (*rawBackend, string) {
	t.Helper()
	be := startRawBackend(t, lenient)
	_, gw := startGateway(t, parseConfig(t, fmt.Sprintf(yaml, append(args, be.Addr())...)), Options{})
	return be, gw.Listener.Addr().String()
}

// bufConn reads what a bufio.Reader already holds before the connection.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (b *rawBackend) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" || line == "\n" {
				break
			}
		}
		b.record(head.String())
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
		if err != nil {
			return
		}
		if req.ContentLength > 0 {
			if _, err := io.CopyN(io.Discard, br, req.ContentLength); err != nil {
				return
			}
		}
		if up := req.Header.Get("Upgrade"); up != "" && b.lenient {
			fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
			if strings.EqualFold(up, "h2c") {
				(&http2.Server{}).ServeConn(bufConn{c, br}, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					b.record("h2 " + r.Method + " " + r.URL.Path)
					_, _ = io.WriteString(w, "admin secret")
				})})
			}
			return
		}
		first, _, _ := strings.Cut(head.String(), "\r\n")
		body := "plain " + first
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
}

// headerLines returns the header lines of a recorded head whose name, with
// "_" read as "-", is name (case-insensitive): what a CGI backend would
// take for that header.
func headerLines(head, name string) []string {
	var out []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		k, _, ok := strings.Cut(line, ":")
		// As CGI reads names: case and "_" for "-" do not count.
		if ok && strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"), strings.ReplaceAll(name, "_", "-")) {
			out = append(out, line)
		}
	}
	return out
}

// rawExchange sends raw bytes on a new connection and reads one response.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, string, *bufio.Reader, net.Conn) {
	t.Helper()
	c := testkit.Dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response to %q: %v", raw, err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	return resp, string(body), br, c
}

// h2Request sends one request of crafted fields on a fresh HTTP/2
// connection (prior knowledge) and reports the outcome: the :status, or
// "reset", "goaway" or "closed" when the stream or connection was refused.
func h2Request(t *testing.T, c net.Conn, fields [][2]string) string {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "closed"
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatalf("response headers: %v", err)
			}
			for _, h := range hf {
				if h.Name == ":status" {
					return h.Value
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return "reset"
			}
		case *http2.GoAwayFrame:
			return "goaway"
		}
	}
}

func h2Fields(method, path, authority string, extra ...string) [][2]string {
	f := [][2]string{{":method", method}, {":scheme", "http"}, {":path", path}}
	if authority != "" {
		f = append(f, [2]string{":authority", authority})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f = append(f, [2]string{extra[i], extra[i+1]})
	}
	return f
}

// refused reports whether an outcome is a refusal: 400, or the stream or
// connection reset.
func refused(outcome string) bool {
	return outcome == "400" || outcome == "reset" || outcome == "goaway" || outcome == "closed"
}

// checkRequestLines fails if the backend got a request line that is not
// exactly METHOD SP TARGET SP HTTP/1.1 with a token method.
func checkRequestLines(t *testing.T, be *rawBackend) {
	t.Helper()
	for _, h := range be.seen() {
		first, _, _ := strings.Cut(h, "\r\n")
		if strings.HasPrefix(first, "h2 ") {
			continue
		}
		parts := strings.Split(first, " ")
		if len(parts) != 3 || parts[2] != "HTTP/1.1" || strings.ContainsAny(parts[0], "/()<>@,;:\\\"[]?={}\t") {
			t.Errorf("backend got request line %q", first)
		}
	}
}

// rawConfig is a config for the raw backend: head, then routes (YAML with
// tabs) before a catch-all route, all to pool p, whose one backend's
// address is the format's last verb.
func rawConfig(head, routes string) string {
	return "access_log: {enabled: false}\nadmin: {enabled: false}\n" + head + "routes:\n" + routes +
		"\t- name: all\n\t\tpool: p\npools:\n\t- name: p\n\t\tbackends: [{address: %s}]\n"
}

var spellingConfig = rawConfig("", `	- name: admin-host
		match: {host: admin.test}
		deny_cidrs: [127.0.0.0/8, "::1/128"]
		pool: p
	- name: admin
		match: {path_prefix: /admin}
		deny_cidrs: [127.0.0.0/8, "::1/128"]
		pool: p
`)

// Each spelling is sent as an HTTP/1.1 request line and Host, and as
// HTTP/2 :path and :authority over h2c; a refused one must not reach the
// backend.
func TestSpellings(t *testing.T) {
	transports := []struct {
		name string
		// send returns what the gateway answered and whether that is want.
		send func(t *testing.T, addr, target, host string, want int) (string, bool)
	}{
		{"HTTP/1.1", func(t *testing.T, addr, target, host string, want int) (string, bool) {
			code, body := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
			return fmt.Sprintf("%d %q", code, body), code == want
		}},
		{"h2c", func(t *testing.T, addr, target, host string, want int) (string, bool) {
			got := h2Request(t, testkit.Dial(t, addr), h2Fields("GET", target, host))
			return got, got == strconv.Itoa(want) || (want == 400 && refused(got))
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			be, addr := rawGateway(t, false, spellingConfig)
			for _, tc := range corpus.Spellings {
				since := be.mark()
				if got, ok := tr.send(t, addr, tc.Target, tc.Host, tc.Want); !ok {
					t.Errorf("%q at %q: %s, want %d", tc.Target, tc.Host, got, tc.Want)
				}
				if reached := len(since()) > 0; reached != (tc.Want == 200) {
					t.Errorf("%q at %q: backend reached = %v", tc.Target, tc.Host, reached)
				}
			}
			checkRequestLines(t, be)
		})
	}
}

// Request targets only HTTP/1 can carry, and the methods a reverse proxy
// does not serve.
func TestTargetFormsOverHTTP1(t *testing.T) {
	be, addr := rawGateway(t, false, spellingConfig)
	cases := []struct {
		raw  string
		want int
		head string // a line the backend's head must hold ("" when it must not be reached)
	}{
		// RFC 9112 §3.2.2: the absolute-form's authority is the host,
		// for routing and for the Host the backend sees alike.
		{"GET http://admin.test/x HTTP/1.1\r\nHost: other.test\r\n\r\n", 403, ""},
		{"GET http://ADMIN.test./x HTTP/1.1\r\nHost: other.test\r\n\r\n", 403, ""},
		{"GET http://other.test/admin HTTP/1.1\r\nHost: other.test\r\n\r\n", 403, ""},
		{"GET http://other.test/x?q=1 HTTP/1.1\r\nHost: admin.test\r\n\r\n", 200, "GET /x?q=1 HTTP/1.1\r\nHost: other.test\r\n"},
		{"GET http://other.test?q HTTP/1.1\r\nHost: other.test\r\n\r\n", 200, "GET /?q HTTP/1.1\r\n"},
		{"GET http://u@other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n", 400, ""},
		{"GET ftp://other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n", 400, ""},
		{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, ""}, // net/http answers it itself
		{"CONNECT admin.test:443 HTTP/1.1\r\nHost: admin.test:443\r\n\r\n", 501, ""},
		{"CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n", 501, ""},
		{"GET /x HTTP/1.1\r\nHost: a.test\r\nHost: admin.test\r\n\r\n", 400, ""},
		{"GET /x HTTP/1.0\r\n\r\n", 200, "GET /x HTTP/1.1\r\n"},
	}
	for _, tc := range cases {
		since := be.mark()
		code, body := rawRequest(t, addr, tc.raw)
		if code != tc.want {
			t.Errorf("%q: %d %q, want %d", tc.raw, code, body, tc.want)
		}
		seen := since()
		switch {
		case tc.head == "" && len(seen) > 0:
			t.Errorf("%q: backend reached with %q", tc.raw, seen[0])
		case tc.head != "" && (len(seen) == 0 || !strings.Contains(seen[0], tc.head)):
			t.Errorf("%q: backend saw %q, want %q in it", tc.raw, seen, tc.head)
		}
	}
	checkRequestLines(t, be)
}

// h2ToH1Corpus are HTTP/2 requests whose pseudo-header fields would
// break, or smuggle a second request into, the HTTP/1.1 request line and
// Host the gateway writes to the backend.
var h2ToH1Corpus = []struct {
	name   string
	fields [][2]string
}{
	{"space in method", h2Fields("GET /admin/x", "/raw/y", "x")},
	{"method not a token", h2Fields("G(T", "/x", "x")},
	{"method with tab", h2Fields("GET\t", "/x", "x")},
	{"method with slash", h2Fields("GET/1", "/x", "x")},
	{"empty method", h2Fields("", "/x", "x")},
	{"space in path", h2Fields("GET", "/a HTTP/1.1", "x")},
	{"request line in path", h2Fields("GET", "/a HTTP/1.1\r\nHost: admin.test\r\n\r\nGET /admin", "x")},
	{"tab in path", h2Fields("GET", "/a\tb", "x")},
	{"DEL in path", h2Fields("GET", "/a\x7fb", "x")},
	{"fragment in path", h2Fields("GET", "/admin#x", "x")},
	{"non-ASCII path", h2Fields("GET", "/\xff", "x")},
	{"path without slash", h2Fields("GET", "admin", "x")},
	{"absolute path", h2Fields("GET", "http://admin.test/x", "x")},
	{"asterisk with GET", h2Fields("GET", "*", "x")},
	{"space in authority", h2Fields("GET", "/x", "x y")},
	{"userinfo in authority", h2Fields("GET", "/x", "evil@admin.test")},
	{"tab in authority", h2Fields("GET", "/x", "admin.test\t")},
	{"CRLF in authority", h2Fields("GET", "/x", "x\r\nX-Auth-Subject: admin")},
	{"slash in authority", h2Fields("GET", "/x", "x/admin")},
	{"Host differs from authority", h2Fields("GET", "/x", "other.test", "host", "admin.test")},
	{"two Hosts", h2Fields("GET", "/x", "", "host", "other.test", "host", "admin.test")},
	{"upper-case header name", h2Fields("GET", "/x", "x", "X-Upper", "1")},
	{"space in header name", h2Fields("GET", "/x", "x", "x a", "1")},
	{"CRLF in header value", h2Fields("GET", "/x", "x", "x-a", "1\r\nX-Auth-Subject: admin")},
	{"NUL in header value", h2Fields("GET", "/x", "x", "x-a", "1\x00")},
	{"connection header", h2Fields("GET", "/x", "x", "connection", "x-auth-subject")},
	{"CONNECT", [][2]string{{":method", "CONNECT"}, {":authority", "admin.test:443"}}},
}

// h2ToH1 runs the corpus against a gateway reached by dial and checks that
// every request is refused without reaching the backend, while a clean
// request still goes through.
func h2ToH1(t *testing.T, dial func() net.Conn, be *rawBackend) {
	if got := h2Request(t, dial(), h2Fields("GET", "/ok", "x")); got != "200" {
		t.Fatalf("clean request: %s", got)
	}
	for _, tc := range h2ToH1Corpus {
		since := be.mark()
		got := h2Request(t, dial(), tc.fields)
		if !refused(got) && got != "501" {
			t.Errorf("%s: answered %s, want 400 or a reset stream", tc.name, got)
		}
		if seen := since(); len(seen) > 0 {
			t.Errorf("%s: backend got %q", tc.name, seen)
		}
	}
	checkRequestLines(t, be)
}

func TestH2ToH1InjectionOverH2C(t *testing.T) {
	be, addr := rawGateway(t, false, spellingConfig)
	h2ToH1(t, func() net.Conn { return testkit.Dial(t, addr) }, be)
}

func TestH2ToH1InjectionOverTLS(t *testing.T) {
	be := startRawBackend(t, false)
	ls := h2Listeners(t, be, "")
	h2ToH1(t, func() net.Conn {
		c, err := tls.Dial("tcp", ls["tls"], &tls.Config{InsecureSkipVerify: true, ServerName: "a.test", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN chose %q", p)
		}
		return c
	}, be)
}

// An HTTP/1.1 request carries the same fields in its request line and
// Host; the ones net/http's parser lets through are refused too.
func TestRequestLineRulesOverHTTP1(t *testing.T) {
	be, addr := rawGateway(t, false, spellingConfig)
	for _, raw := range []string{
		"G(T /x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: x y\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: evil@admin.test\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: x\r\nX-A: 1\x00\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
	} {
		if code, body := rawRequest(t, addr, raw); code != 400 && code != 0 {
			t.Errorf("%q: %d %q, want 400", raw, code, body)
		}
	}
	if seen := be.seen(); len(seen) > 0 {
		t.Errorf("backend got %q", seen)
	}
}

var identityConfig = rawConfig("%s\n", `	- name: private
		match: {path_prefix: /private}
		auth: {api_keys: {keys: {alice: %x}}}
		pool: p
`)

// The identity the gateway asserts cannot be removed by the client's
// Connection header, nor forged through an underscore spelling.
func TestIdentityHeaderCannotBeStrippedOrForged(t *testing.T) {
	be, addr := rawGateway(t, false, identityConfig, "", sha256.Sum256([]byte("k1")))
	send := func(raw string) string {
		t.Helper()
		since := be.mark()
		if code, body := rawRequest(t, addr, raw); code != 200 {
			t.Fatalf("%q: %d %q", raw, code, body)
		}
		seen := since()
		if len(seen) != 1 {
			t.Fatalf("%q: backend saw %d requests", raw, len(seen))
		}
		return seen[0]
	}

	// CVE-2022-1388 class: Connection names the identity header.
	head := send("GET /private/x HTTP/1.1\r\nHost: x\r\nX-API-Key: k1\r\nConnection: X-Auth-Subject\r\n\r\n")
	if got := headerLines(head, "X-Auth-Subject"); len(got) != 1 || got[0] != "X-Auth-Subject: alice" {
		t.Errorf("Connection: X-Auth-Subject: backend saw identity %q in\n%s", got, head)
	}
	head = send("GET /private/x HTTP/1.1\r\nHost: x\r\nX-API-Key: k1\r\nConnection: keep-alive, x-auth-subject, X-Forwarded-For, Via, Forwarded, X-Forwarded-Proto\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n")
	if got := headerLines(head, "X-Auth-Subject"); len(got) != 1 || got[0] != "X-Auth-Subject: alice" {
		t.Errorf("lower-case Connection token: backend saw identity %q", got)
	}
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "Via", "Forwarded"} {
		if len(headerLines(head, k)) != 1 {
			t.Errorf("Connection listed %s: the gateway's own is gone:\n%s", k, head)
		}
	}
	if got := headerLines(head, "X-Forwarded-For"); len(got) == 1 && strings.Contains(got[0], "192.0.2.1") {
		t.Errorf("a header the client listed as hop-by-hop was forwarded: %q", got)
	}
	if len(headerLines(head, "Connection")) != 0 {
		t.Errorf("client's Connection forwarded:\n%s", head)
	}

	// Underscore spellings: a CGI backend reads X_Auth_Subject as
	// HTTP_X_AUTH_SUBJECT, the identity.
	for _, forged := range []string{"X_Auth_Subject: admin", "x_auth_subject: admin", "X-Auth_Subject: admin", "X-AUTH-SUBJECT: admin"} {
		head = send("GET /public HTTP/1.1\r\nHost: x\r\n" + forged + "\r\n\r\n")
		if got := headerLines(head, "X-Auth-Subject"); len(got) != 0 {
			t.Errorf("%q on an open route: backend saw %q", forged, got)
		}
		head = send("GET /private/x HTTP/1.1\r\nHost: x\r\nX-API-Key: k1\r\n" + forged + "\r\n\r\n")
		if got := headerLines(head, "X-Auth-Subject"); len(got) != 1 || got[0] != "X-Auth-Subject: alice" {
			t.Errorf("%q with a valid key: backend saw %q", forged, got)
		}
	}
	head = send("GET /public HTTP/1.1\r\nHost: x\r\nX_Custom: 1\r\nX_Forwarded_For: 10.0.0.1\r\n\r\n")
	if len(headerLines(head, "X-Custom")) != 0 || strings.Contains(head, "10.0.0.1") {
		t.Errorf("underscore headers forwarded by default:\n%s", head)
	}

	// The same over h2c.
	since := be.mark()
	if got := h2Request(t, testkit.Dial(t, addr), h2Fields("GET", "/private/x", "x", "x-api-key", "k1", "x_auth_subject", "admin")); got != "200" {
		t.Fatalf("h2c: %s", got)
	}
	if seen := since(); len(seen) != 1 {
		t.Fatalf("h2c: backend saw %d requests", len(seen))
	} else if got := headerLines(seen[0], "X-Auth-Subject"); len(got) != 1 || got[0] != "X-Auth-Subject: alice" {
		t.Errorf("h2c x_auth_subject: backend saw %q", got)
	}
}

// With underscores_in_headers: allow, other underscore headers pass but
// the spellings of the headers the gateway asserts still do not.
func TestUnderscoresAllowedKeepsAssertedHeaders(t *testing.T) {
	be, addr := rawGateway(t, false, identityConfig, "server: {underscores_in_headers: allow}", sha256.Sum256([]byte("k1")))
	code, body := rawRequest(t, addr,
		"GET /public HTTP/1.1\r\nHost: x\r\nX_Custom: 1\r\nX_Auth_Subject: admin\r\nx_forwarded_for: 10.0.0.1\r\nX_Forwarded_Host: admin.test\r\n\r\n")
	if code != 200 {
		t.Fatalf("%d %q", code, body)
	}
	head := be.seen()[0]
	if len(headerLines(head, "X-Custom")) != 1 {
		t.Errorf("X_Custom dropped with allow:\n%s", head)
	}
	if len(headerLines(head, "X-Auth-Subject")) != 0 || strings.Contains(head, "10.0.0.1") || strings.Contains(head, "admin.test") {
		t.Errorf("asserted header spelled with underscores forwarded:\n%s", head)
	}
}

var upgradeConfig = rawConfig("", `	- name: admin
		match: {path_prefix: /admin}
		deny_cidrs: [127.0.0.0/8, "::1/128"]
		pool: p
	- name: closed
		match: {path_prefix: /closed}
		upgrade: []
		pool: p
	- name: echo
		match: {path_prefix: /echo}
		upgrade: [echo]
		pool: p
`)

// RFC 9113 §3.1: an h2c upgrade is never relayed. A lenient backend that
// would switch must not even be asked, and /admin, denied at the gateway,
// stays out of reach of a tunnel.
func TestH2CUpgradeNeverRelayed(t *testing.T) {
	be, addr := rawGateway(t, true, upgradeConfig)
	for _, head := range []string{
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
		"Connection: upgrade\r\nUpgrade: H2C\r\n",
		"Upgrade: h2c\r\n",
		"Connection: Upgrade\r\nUpgrade: h2c, foo\r\n",
	} {
		since := be.mark()
		resp, body, br, c := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n"+head+"\r\n")
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("%q: %d close=%v, want a plain 200 closing the connection", head, resp.StatusCode, resp.Close)
		}
		if seen := since(); len(seen) != 1 || len(headerLines(seen[0], "Upgrade")) != 0 || len(headerLines(seen[0], "HTTP2-Settings")) != 0 {
			t.Errorf("%q: backend saw %q", head, seen)
		}
		// Speak HTTP/2 as if the switch had happened, and ask for /admin.
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fr := http2.NewFramer(c, br)
		_, _ = io.WriteString(c, http2.ClientPreface)
		_ = fr.WriteSettings()
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for _, f := range h2Fields("GET", "/admin/secret", "x") {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		rest, _ := io.ReadAll(br)
		if strings.Contains(body+string(rest), "admin secret") {
			t.Fatalf("%q: /admin answered through a tunnel", head)
		}
	}
	for _, h := range be.seen() {
		if strings.HasPrefix(h, "h2 ") {
			t.Errorf("backend served %q over a relayed h2c connection", h)
		}
	}
}

// Only the protocols a route lists are relayed, one at a time, in an
// Upgrade header the gateway writes itself.
func TestUpgradeAllowlist(t *testing.T) {
	be, addr := rawGateway(t, true, upgradeConfig)
	cases := []struct {
		path, upgrade string
		relayed       string // the backend's Upgrade line, "" for none
	}{
		{"/ws", "websocket", "Upgrade: websocket"},
		{"/ws", "WebSocket", "Upgrade: WebSocket"},
		{"/ws", "h2c, websocket", "Upgrade: websocket"},
		{"/ws", "foo/1, websocket/13", "Upgrade: websocket/13"},
		{"/ws", "echo", ""},
		{"/ws", "websocket\r\nConnection: Upgrade\r\nUpgrade: h2c", "Upgrade: websocket"},
		{"/echo", "echo", "Upgrade: echo"},
		{"/echo", "websocket", ""},
		{"/closed", "websocket", ""},
	}
	for _, tc := range cases {
		since := be.mark()
		resp, _, _, _ := rawExchange(t, addr, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: "+tc.upgrade+"\r\n\r\n")
		seen := since()
		if len(seen) != 1 {
			t.Errorf("%s %q: backend saw %q", tc.path, tc.upgrade, seen)
			continue
		}
		got := headerLines(seen[0], "Upgrade")
		switch {
		case tc.relayed == "" && (len(got) != 0 || resp.StatusCode != 200 || !resp.Close):
			t.Errorf("%s %q: relayed %q (%d close=%v), want a plain request", tc.path, tc.upgrade, got, resp.StatusCode, resp.Close)
		case tc.relayed != "" && (len(got) != 1 || got[0] != tc.relayed || resp.StatusCode != 101):
			t.Errorf("%s %q: backend saw %q (%d), want %q", tc.path, tc.upgrade, got, resp.StatusCode, tc.relayed)
		}
		if tc.relayed != "" && len(headerLines(seen[0], "Connection")) != 1 {
			t.Errorf("%s %q: Connection lines %q", tc.path, tc.upgrade, headerLines(seen[0], "Connection"))
		}
	}
	// A denied route stays denied whatever the upgrade.
	since := be.mark()
	resp, _, _, _ := rawExchange(t, addr, "GET /admin HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != 403 || !resp.Close || len(since()) != 0 {
		t.Errorf("upgrade to a denied route: %d close=%v", resp.StatusCode, resp.Close)
	}
}

// The checks run on every request: a clean one must cost no allocation.

package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// smuggleCorpus holds requests whose framing is ambiguous or malformed.
// Each must be answered 400 (or the connection closed) and never reach the
// backend as a request.
var smuggleCorpus = []struct{ name, raw string }{
	{"CL and TE", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE and CL", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
	{"differing CLs", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
	{"CL list", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde"},
	{"negative CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
	{"TE not chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"TE chunked twice", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
	{"TE with space before colon", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"TE obfuscated", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{"invalid chunk size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	{"chunk size overflow", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nhello\r\n0\r\n\r\n"},
	{"obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n"},
	{"obs-fold on TE", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{"no Host", "GET /a HTTP/1.1\r\n\r\n"},
	{"two Hosts", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
	{"bare LF in header value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
	{"NUL in header", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
	{"bad request line", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"HTTP/1.1 with absolute garbage", "GET /a HTTP/9.9\r\nHost: x\r\n\r\n"},
}

func TestSmugglingCorpusRefused(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	addr := gw.Listener.Addr().String()
	for _, tc := range smuggleCorpus {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 400 && resp.StatusCode != 501 && resp.StatusCode != 505 {
					t.Errorf("answered %d, want 400 (or 501/505) or a closed connection", resp.StatusCode)
				}
				if !resp.Close {
					t.Errorf("connection kept open after a refused request")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 0 {
				t.Errorf("backend saw %q", strings.Join(seen, " | "))
			}
		})
	}
}

func TestFramingGuardFollowsMessageBoundaries(t *testing.T) {
	g := newGuardConn(nil)
	lookalike := "POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	stream := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(lookalike)) + "\r\n\r\n" + lookalike +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: v\r\n\r\n" +
		"\r\nGET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tfolded\r\n\r\n"
	// Feed it in awkward pieces, as TCP may deliver it.
	for i := 0; i < len(stream); i += 7 {
		g.scan([]byte(stream[i:min(i+7, len(stream))]))
	}
	want := []verdictKind{vClean, vClean, vAmbiguous, vObsFold}
	if len(g.q) != len(want) {
		t.Fatalf("verdicts %+v, want %+v", g.q, want)
	}
	for i := range want {
		if g.q[i].kind != want[i] {
			t.Fatalf("verdict %d = %+v, want %+v (all: %+v)", i, g.q[i], want[i], g.q)
		}
	}
}

func rawRequest(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRequestLimitsAndNormalisation(t *testing.T) {
	rec := &recorder{}
	admin := &recorder{}
	be, adminBE := startHandlerBackend(t, rec), startHandlerBackend(t, admin)
	cfg := parseConfig(t, fmt.Sprintf(`
access_log: {enabled: false}
admin: {enabled: false}
server: {max_uri_bytes: 100, max_body_bytes: 1000, encoded_slashes: reject}
routes:
	- name: admin
		match: {path_prefix: /admin}
		allow_methods: [GET]
		allow_cidrs: [127.0.0.0/8]
		deny_cidrs: [127.0.0.2/32]
		pool: admin
	- name: api
		match: {path_prefix: /v1}
		pool: p
pools:
	- name: p
		backends: [{address: %s}]
	- name: admin
		backends: [{address: %s}]
`, be.addr(), adminBE.addr()))
	_, gw := startGateway(t, cfg, Options{})
	addr := gw.Listener.Addr().String()
	c := gw.Client()

	if code, _ := rawRequest(t, addr, "GET /v1/"+strings.Repeat("a", 200)+" HTTP/1.1\r\nHost: x\r\n\r\n"); code != 414 {
		t.Errorf("long URI: %d, want 414", code)
	}
	if code, _ := rawRequest(t, addr, "POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"); code != 413 {
		t.Errorf("declared large body: %d, want 413", code)
	}
	big := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 3000, strings.Repeat("z", 3000))
	if code, _ := rawRequest(t, addr, "POST /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+big); code != 413 {
		t.Errorf("chunked body over the limit: %d, want 413", code)
	}
	// Dot segments are resolved before routing: this is not /admin's route
	// reached through /v1, and the backend sees the clean path.
	if code, _ := rawRequest(t, addr, "GET /v1/../v1/./users//7 HTTP/1.1\r\nHost: x\r\n\r\n"); code != 200 || rec.last(t).URL.Path != "/v1/users/7" {
		t.Errorf("normalised path: %d, backend saw %q", code, rec.last(t).URL.Path)
	}
	if code, _ := rawRequest(t, addr, "GET /v1/../admin/x HTTP/1.1\r\nHost: x\r\n\r\n"); code != 200 || admin.last(t).URL.Path != "/admin/x" {
		t.Errorf("/v1/../admin must route as /admin: %d", code)
	}
	if code, _ := rawRequest(t, addr, "GET /v1/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n"); code != 400 {
		t.Errorf("encoded slash with encoded_slashes: reject: %d, want 400", code)
	}
	resp, err := c.Post(gw.URL+"/admin/x", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Errorf("method not allowed: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// From 127.0.0.2, which the route denies.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	dc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 on this host: %v", err)
	}
	defer dc.Close()
	_, _ = io.WriteString(dc, "GET /admin/x HTTP/1.1\r\nHost: x\r\n\r\n")
	dr, err := http.ReadResponse(bufio.NewReader(dc), nil)
	if err != nil || dr.StatusCode != 403 {
		t.Errorf("denied CIDR: %v %v, want 403", dr, err)
	}
}

// A body that trickles in below the minimum rate is cut off.
func TestSlowBodyRefused(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	cfg := parseConfig(t, strings.Replace(poolConfig("", be), "routes:", "server: {min_body_rate: 1000, body_grace: 200ms}\nroutes:", 1))
	_, gw := startGateway(t, cfg, Options{})
	c, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
	// ...and nothing more: far below 1000 B/s once the grace is over.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return // closed without an answer is acceptable too
	}
	if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("slow body answered %d", resp.StatusCode)
	}
}

// FuzzRequestValidation feeds arbitrary bytes, split at an arbitrary
// point, to the framing guard, and arbitrary paths to normalisation:
// nothing may panic, cleaned paths stay absolute without dot segments, and
// a guard that is still following the stream reports a clean request
// that follows as clean.
func FuzzRequestValidation(f *testing.F) {
	for _, tc := range smuggleCorpus {
		f.Add(tc.raw, uint8(7), "/a/../b")
	}
	f.Add("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", uint8(3), "/%2e%2e/x//y/")
	f.Fuzz(func(t *testing.T, raw string, split uint8, path string) {
		g := newGuardConn(nil)
		cut := int(split) % (len(raw) + 1)
		g.scan([]byte(raw[:cut]))
		g.scan([]byte(raw[cut:]))
		if g.state == gHead && g.first && g.lineLen == 0 && g.pre < 0 {
			before := len(g.q)
			g.scan([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			if len(g.q) != before+1 || g.q[before].kind != vClean {
				t.Fatalf("clean request after %q judged %+v", raw, g.q[before:])
			}
		}
		r := &http.Request{URL: &url.URL{Path: path}, RequestURI: "/"}
		normalizePath(r)
		if p := r.URL.Path; p != "" && p != "*" && (p[0] != '/' || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "//")) {
			t.Fatalf("normalizePath(%q) = %q", path, p)
		}
	})
}

package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

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
	for _, tc := range corpus.Smuggle {
		t.Run(tc.Name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c := testkit.Dial(t, addr)
			if _, err := io.WriteString(c, tc.Raw); err != nil {
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

// rawRequest sends raw on a new connection and reads one response (0 and
// the error when none came).
func rawRequest(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	return testkit.RawRoundTrip(t, addr, raw, "")
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
`, be.Addr(), adminBE.Addr()))
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
	c := testkit.Dial(t, gw.Listener.Addr().String())
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

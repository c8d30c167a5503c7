package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// accessLines waits for n JSON access-log lines in logs and returns them:
// the line is written once the handler returns, after the client may
// already have its response.
func accessLines(t *testing.T, logs *testkit.Buffer, n int) []map[string]any {
	t.Helper()
	var lines []map[string]any
	testkit.Eventually(t, fmt.Sprintf("%d access log lines", n), func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("access log line is not JSON: %q", l)
			}
			lines = append(lines, m)
		}
		return len(lines) >= n
	})
	return lines
}

// do sends a request and returns its status and body.
func do(t *testing.T, c *http.Client, method, url, body string, h http.Header) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// A retried request logs its tries and the address of the backend that
// answered; the body it sent is counted once, however often replayed.
func TestAccessLogTriesUpstreamAndBytes(t *testing.T) {
	unavailable := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "try later", 503)
	}))
	ok := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("accepted, thanks"))
	}))
	cfg := parseConfig(t, routeWith("retry: {backoff_base: 1ms, backoff_max: 2ms}", "", unavailable.Addr(), ok.Addr()))
	cfg.AccessLog.Enabled = true
	logs := &testkit.Buffer{}
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	// Round robin starts one of the first two requests (if not both) on
	// the failing backend.
	for i := 0; i < 2; i++ {
		if code, body := do(t, gw.Client(), "PUT", gw.URL+"/things", "payload-123", http.Header{"User-Agent": {"curl/8.5.0"}}); code != 200 || body != "accepted, thanks" {
			t.Fatalf("PUT: %d %q", code, body)
		}
	}
	retried := 0
	for _, l := range accessLines(t, logs, 2) {
		if l["status"] != 200.0 || l["bytes"] != float64(len("accepted, thanks")) || l["bytes_in"] != float64(len("payload-123")) ||
			l["user_agent"] != "curl/8.5.0" || l["upstream"] != ok.Addr() || l["backend"] != ok.Addr() {
			t.Errorf("access log line: %v", l)
		}
		switch l["tries"] {
		case 2.0:
			retried++
		case 1.0:
		default:
			t.Errorf("tries = %v, want 1 or 2", l["tries"])
		}
	}
	if retried == 0 {
		t.Fatalf("no line shows tries 2:\n%s", logs.String())
	}
}

// The gateway's own answers are logged with the bytes the client got.
func TestAccessLogCountsTheGatewaysOwnAnswers(t *testing.T) {
	be := startBackends(t, 1)[0]
	logs := &testkit.Buffer{}
	cfg := parseConfig(t, fmt.Sprintf(`
admin: {enabled: false}
routes:
	- name: api
		match: {path_prefix: /api}
		pool: p
pools: [{name: p, backends: [{address: %s}]}]
`, be.Addr()))
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	code, body := do(t, gw.Client(), "GET", gw.URL+"/nowhere", "", nil)
	if code != 404 || body == "" {
		t.Fatalf("no route: %d %q", code, body)
	}
	l := accessLines(t, logs, 1)[0]
	if l["status"] != 404.0 || l["bytes"] != float64(len(body)) || l["tries"] != 0.0 || l["upstream"] != "" || l["bytes_in"] != 0.0 {
		t.Fatalf("refusal's line: %v, want status 404 and bytes %d", l, len(body))
	}
}

// The query is logged without the credentials it carries, however the
// parameter is spelled; the raw query appears nowhere in the line.
func TestAccessLogRedactsQuery(t *testing.T) {
	be := startBackends(t, 1)[0]
	for _, tc := range []struct{ mode, want string }{
		{"", "user=ann&Access_Token=REDACTED&tok%65n=REDACTED;sig=REDACTED&flag&q=key"},
		{"query: full", "user=ann&Access_Token=s3cr3t&tok%65n=hunter2;sig=c2ln&flag&q=key"},
		{"query: omit", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			logs := &testkit.Buffer{}
			cfg := parseConfig(t, fmt.Sprintf("access_log: {%s}\nadmin: {enabled: false}\nroutes: [{name: r, pool: p}]\npools: [{name: p, backends: [{address: %s}]}]\n", tc.mode, be.Addr()))
			_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
			if code, _ := do(t, gw.Client(), "GET", gw.URL+"/search?user=ann&Access_Token=s3cr3t&tok%65n=hunter2;sig=c2ln&flag&q=key", "", nil); code != 200 {
				t.Fatalf("GET: %d", code)
			}
			l := accessLines(t, logs, 1)[0]
			if l["query"] != tc.want || l["path"] != "/search" {
				t.Fatalf("query = %q, want %q", l["query"], tc.want)
			}
			if tc.mode == "" && (strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), "hunter2")) {
				t.Fatalf("a secret reached the log: %s", logs.String())
			}
		})
	}
}

// The subject auth proved is logged: for a refusal there is none.
func TestAccessLogSubject(t *testing.T) {
	be := startBackends(t, 1)[0]
	sum := sha256.Sum256([]byte("secret-key-1"))
	cfg := parseConfig(t, routeWith(fmt.Sprintf("auth: {api_keys: {keys: {billing: %x}}}", sum), "", be.Addr()))
	cfg.AccessLog.Enabled = true
	logs := &testkit.Buffer{}
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	if code, _ := do(t, gw.Client(), "GET", gw.URL+"/", "", http.Header{"X-Api-Key": {"secret-key-1"}}); code != 200 {
		t.Fatalf("with key: %d", code)
	}
	accessLines(t, logs, 1)
	code, body := do(t, gw.Client(), "GET", gw.URL+"/", "", http.Header{"X-Api-Key": {"wrong"}})
	if code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	lines := accessLines(t, logs, 2)
	if lines[0]["subject"] != "billing" || lines[0]["status"] != 200.0 {
		t.Errorf("authenticated line: %v", lines[0])
	}
	if lines[1]["subject"] != "" || lines[1]["status"] != 401.0 || lines[1]["bytes"] != float64(len(body)) {
		t.Errorf("refused line: %v (body %d bytes)", lines[1], len(body))
	}
	if strings.Contains(logs.String(), "secret-key-1") {
		t.Fatal("the key reached the access log")
	}
}

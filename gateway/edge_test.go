package gateway

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestStaticCacheAndCompressRoutes(t *testing.T) {
	var hits atomic.Int64
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items" {
			hits.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items":"%s"}`, strings.Repeat("x", 4096))
	}))
	dir := t.TempDir()
	page := "<html>" + strings.Repeat("hello ", 500) + "</html>"
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	cfg := parseConfig(t, fmt.Sprintf(`
admin: {enabled: false}
access_log: {enabled: true}
routes:
	- name: site
		match: {path_prefix: /site}
		strip_prefix: true
		static: {root: %s}
		compress: {}
	- name: api
		pool: p
		cache: {max_bytes: 1048576}
		compress: {}
pools: [{name: p, backends: [{address: %s}]}]
`, dir, be.Addr()))
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	get := func(path string, gzipOK bool) (*http.Response, string) {
		req, _ := http.NewRequest("GET", gw.URL+path, nil)
		if gzipOK {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		b, _ := io.ReadAll(r)
		return resp, string(b)
	}

	resp, body := get("/site/", true)
	if resp.StatusCode != 200 || body != page || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("static index: %d %q enc=%q", resp.StatusCode, body[:min(len(body), 20)], resp.Header.Get("Content-Encoding"))
	}
	// Dot segments are resolved before routing, so this is /etc/passwd,
	// which the static route does not match; its content never comes back.
	for _, p := range []string{"/site/../../etc/passwd", "/site/%2e%2e/%2e%2e/etc/passwd"} {
		if _, body := get(p, false); strings.Contains(body, "root:") {
			t.Fatalf("%s escaped the static root", p)
		}
	}

	resp, first := get("/items", true)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(first, `{"items"`) {
		t.Fatalf("api miss: %d %q", resp.StatusCode, resp.Header)
	}
	resp, second := get("/items", false)
	if second != first || resp.Header.Get("X-Cache") != "HIT" || hits.Load() != 1 {
		t.Fatalf("api second request: X-Cache=%q backend hits=%d", resp.Header.Get("X-Cache"), hits.Load())
	}
	if n := strings.Count(logs.String(), `"path":"/items"`); n != 2 {
		t.Fatalf("access log has %d api lines, want 2 (cache hits are logged too):\n%s", n, logs.String())
	}
}

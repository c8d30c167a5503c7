package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHandlerServesPageAssetsAndState(t *testing.T) {
	calls := 0
	h := Handler(func() State {
		calls++
		return State{Time: time.Unix(100, 0), Load: Load{Requests: int64(calls)},
			Pools: []Pool{{Name: "web", Backends: []Backend{{ID: "web-0", Healthy: true}}}}}
	})
	for path, want := range map[string]string{
		"/dashboard/":          `id="capacity-chart"`,
		"/dashboard/app.js":    "api/state",
		"/dashboard/style.css": "--capacity",
	} {
		resp, body := get(t, h, path)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	// The page has buttons that change state: no other site may frame it.
	if resp, _ := get(t, h, "/dashboard/"); resp.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("page may be framed: X-Frame-Options %q, CSP %q", resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"))
	}
	// Offline by design: nothing may be loaded from another origin.
	for _, path := range []string{"/dashboard/", "/dashboard/app.js", "/dashboard/style.css"} {
		if _, body := get(t, h, path); strings.Contains(body, "https://") || strings.Contains(body, "@import") {
			t.Errorf("%s refers to an external resource", path)
		}
	}
	for i := 1; i <= 2; i++ {
		resp, body := get(t, h, "/dashboard/api/state")
		var st State
		if err := json.Unmarshal([]byte(body), &st); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("state: %v (%s)", err, resp.Header.Get("Content-Type"))
		}
		if st.Load.Requests != int64(i) || st.Pools[0].Backends[0].ID != "web-0" {
			t.Fatalf("state %d not fresh: %+v", i, st)
		}
	}
	if resp, _ := get(t, h, "/dashboard/nope.js"); resp.StatusCode != 404 {
		t.Errorf("unknown asset: %d, want 404", resp.StatusCode)
	}
}

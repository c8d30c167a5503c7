package pipeline

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/cors"
	"github.com/drawbridge-dev/drawbridge/gateway/headers"
)

// The order Build documents: response rules see every answer, CORS answers
// a preflight before the access rules' 405 and auth's 401, and request
// rules run after auth.
func TestHeaderAndCORSStagesOrder(t *testing.T) {
	f := &reached{}
	var seen http.Header
	fwd := HandlerFunc(func(q *Request) error { seen = q.R.Header.Clone(); return f.Serve(q) })
	h, err := Build(Route{
		Access:          AccessConfig{Methods: []string{"GET"}, DenyCIDRs: []string{"198.51.100.0/24"}},
		Auth:            apiKeyAuth(t),
		RequestHeaders:  headers.Compile(headers.Rules{Set: map[string]string{"X-Who": "{subject}"}}, "r", false),
		ResponseHeaders: headers.Compile(headers.Rules{Set: map[string]string{"X-Route": "{route}"}}, "r", true),
		CORS:            cors.New(cors.Config{AllowOrigins: []string{"https://app.test"}}),
	}, fwd)
	if err != nil {
		t.Fatal(err)
	}
	pre := httptest.NewRequest(http.MethodOptions, "http://example.test/x", nil)
	pre.Header.Set("Origin", "https://app.test")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	w, q := serve(t, h, pre)
	if w.Code != 204 || q.Status != 204 || f.n != 0 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.test" || w.Header().Get("X-Route") != "r" {
		t.Errorf("preflight: %d %v, forwarded %d", w.Code, w.Header(), f.n)
	}
	// The address lists still refuse a preflight.
	pre.RemoteAddr = "198.51.100.1:4000"
	w, _ = serve(t, h, pre)
	if w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("X-Route") != "r" {
		t.Errorf("denied preflight: %d %v", w.Code, w.Header())
	}
	r := get("")
	r.Header.Set("Origin", "https://app.test")
	w, _ = serve(t, h, r)
	if w.Code != 401 || w.Header().Get("X-Route") != "r" || w.Header().Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("401: %d %v", w.Code, w.Header())
	}
	r = get("good-key")
	r.Method = http.MethodPut
	r.Header.Set("Origin", "https://app.test")
	w, _ = serve(t, h, r)
	if w.Code != 405 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("405: %d %v", w.Code, w.Header())
	}
	w, _ = serve(t, h, get("good-key"))
	if w.Code != 200 || seen.Get("X-Who") != "alice" || w.Header().Get("X-Route") != "r" {
		t.Errorf("200: %d %v, backend saw X-Who %q", w.Code, w.Header(), seen.Get("X-Who"))
	}
}

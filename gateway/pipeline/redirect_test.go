package pipeline

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/redirect"
)

// Build ends a redirect route's chain in the redirect, behind the access
// stage, and puts the rewrite check in front of a forward.
func TestBuildRedirectAndRewriteCheck(t *testing.T) {
	rd, err := redirect.New(redirect.Config{To: "https://{host}/v{match.1}{path}", Status: 301}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checked := func(r *http.Request) (string, []string, error) {
		if r.URL.Path == "/bad" {
			return "/../x", nil, errors.New("unsafe")
		}
		return r.URL.Path, []string{r.URL.Path, "2"}, nil
	}
	fwd := &reached{}
	h, err := Build(Route{Access: AccessConfig{Methods: []string{"GET"}}, Redirect: rd, Checked: checked}, fwd)
	if err != nil {
		t.Fatal(err)
	}
	w, q := serve(t, h, httptest.NewRequest("GET", "http://a.test/p", nil))
	if w.Code != 301 || w.Header().Get("Location") != "https://a.test/v2/p" || q.Status != 301 || q.Bytes != int64(w.Body.Len()) || fwd.n != 0 {
		t.Errorf("redirect: %d %q, outcome %d %d, forwarded %d", w.Code, w.Header().Get("Location"), q.Status, q.Bytes, fwd.n)
	}
	if w, q := serve(t, h, httptest.NewRequest("POST", "http://a.test/p", nil)); w.Code != 405 || q.Status != 405 {
		t.Errorf("access before redirect: %d", w.Code)
	}
	if w, q := serve(t, h, httptest.NewRequest("GET", "http://a.test/bad", nil)); w.Code != 500 || q.Reason != "unsafe" {
		t.Errorf("unsafe rewrite on a redirect route: %d %q", w.Code, q.Reason)
	}

	h, err = Build(Route{Checked: checked}, fwd)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := serve(t, h, httptest.NewRequest("GET", "http://a.test/bad", nil)); w.Code != 500 || fwd.n != 0 {
		t.Errorf("unsafe rewrite: %d, forwarded %d", w.Code, fwd.n)
	}
	if w, _ := serve(t, h, httptest.NewRequest("GET", "http://a.test/ok", nil)); w.Code != 200 || fwd.n != 1 {
		t.Errorf("safe rewrite: %d, forwarded %d", w.Code, fwd.n)
	}
}

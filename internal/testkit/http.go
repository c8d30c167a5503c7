package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Do sends req with c (http.DefaultClient when nil) and returns the
// response with its whole body read and closed; a transport error fails
// the test.
func Do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// Get is Do for a GET of url; it returns the body.
func Get(t testing.TB, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, body := Do(t, nil, req)
	return body
}

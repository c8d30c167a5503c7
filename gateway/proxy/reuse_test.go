package proxy

import (
	"bufio"
	"crypto/tls"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// parseCached reads raw's head into a fresh header with vc.
func parseCached(raw, method string, vc *valueCache) (http.Header, responseHead, error) {
	h := http.Header{}
	resp, err := readResponseHeadCached(bufio.NewReader(strings.NewReader(raw)), h, method, "", vc)
	return h, resp, err
}

// A connection's value cache hands out the previous response's strings
// only for the same value at the same position, and its slices only while
// nothing rewrote them.
func TestResponseValueCache(t *testing.T) {
	var vc valueCache
	first := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: one\r\nContent-Length: 3\r\n\r\n"
	h1, _, err := parseCached(first, "GET", &vc)
	if err != nil {
		t.Fatal(err)
	}
	h2, resp, err := parseCached(first, "GET", &vc)
	if err != nil || resp.contentLength != 3 {
		t.Fatalf("repeat: %v, length %d", err, resp.contentLength)
	}
	for _, k := range []string{"Content-Type", "X-A", "Content-Length"} {
		if unsafe.StringData(h1[k][0]) != unsafe.StringData(h2[k][0]) || &h1[k][0] != &h2[k][0] {
			t.Errorf("%s: a repeated value was not reused", k)
		}
	}
	// A rewrite in place, or an append, must not leak into later responses.
	h2["X-A"][0] = "rewritten"
	h2["Content-Type"] = append(h2["Content-Type"], "extra")
	h3, _, _ := parseCached(first, "GET", &vc)
	if got := h3["X-A"]; len(got) != 1 || got[0] != "one" {
		t.Errorf("X-A after a rewrite in place: %q", got)
	}
	if got := h3["Content-Type"]; len(got) != 1 || got[0] != "text/plain" {
		t.Errorf("Content-Type after an append: %q", got)
	}
	// Changed values, moved fields and repeats read as they are.
	second := "HTTP/1.1 200 OK\r\nX-A: one\r\nContent-Type: text/html\r\nX-A: two\r\nContent-Length: 12\r\n\r\n"
	h4, resp, err := parseCached(second, "GET", &vc)
	if err != nil || resp.contentLength != 12 {
		t.Fatalf("second: %v, length %d", err, resp.contentLength)
	}
	want := http.Header{"X-A": {"one", "two"}, "Content-Type": {"text/html"}, "Content-Length": {"12"}}
	if !reflect.DeepEqual(h4, want) {
		t.Errorf("second response: %v, want %v", h4, want)
	}
	if vc.bytes > maxCachedValueBytes || len(vc.vals) > maxCachedValues {
		t.Errorf("cache holds %d values, %d bytes", len(vc.vals), vc.bytes)
	}
}

// Whatever came before on the connection, a head parses with its value
// cache exactly as without one.
func FuzzResponseValueCache(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: b\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nX: 1\r\nX: 2\r\n\r\n", "HTTP/1.1 200 OK\r\nX: 1\r\nY: 2\r\nX: 2\r\n\r\n")
	f.Fuzz(func(t *testing.T, prev, raw string) {
		var vc valueCache
		_, _, _ = parseCached(prev, "GET", &vc)
		got, gotResp, gotErr := parseCached(raw, "GET", &vc)
		want, wantResp, wantErr := parseCached(raw, "GET", nil)
		if (gotErr == nil) != (wantErr == nil) || gotResp != wantResp || !reflect.DeepEqual(got, want) {
			t.Fatalf("with the cache: %v %+v %v; without: %v %+v %v", got, gotResp, gotErr, want, wantResp, wantErr)
		}
	})
}

// The forwarding headers written into a request head are the client's
// lists extended with this hop.
func TestForwardingHeaderFields(t *testing.T) {
	cases := []struct {
		name   string
		remote string
		host   string
		prior  http.Header
		tls    bool
		h2     bool
		want   string
	}{
		{"plain", "192.0.2.1:5000", "a.test", nil, false, false,
			"X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a.test\r\n" +
				"Forwarded: for=192.0.2.1;proto=http;host=a.test\r\nVia: 1.1 drawbridge\r\n"},
		{"lists extended", "192.0.2.1:5000", "a.test:8080",
			http.Header{"X-Forwarded-For": {"198.51.100.1, 198.51.100.2", "198.51.100.3"}, "Forwarded": {"for=198.51.100.1"}, "Via": {"1.0 a", "1.1 b"}},
			true, false,
			"X-Forwarded-For: 198.51.100.1, 198.51.100.2, 198.51.100.3, 192.0.2.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a.test:8080\r\n" +
				"Forwarded: for=198.51.100.1, for=192.0.2.1;proto=https;host=a.test:8080\r\nVia: 1.0 a, 1.1 b, 1.1 drawbridge\r\n"},
		{"ipv6, odd host, h2", "[2001:db8::1]:5000", "a b", nil, false, true,
			"X-Forwarded-For: 2001:db8::1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a b\r\n" +
				"Forwarded: for=\"[2001:db8::1]\";proto=http\r\nVia: 2 drawbridge\r\n"},
		{"no host", "192.0.2.1:5000", "", nil, false, false,
			"X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\nForwarded: for=192.0.2.1;proto=http\r\nVia: 1.1 drawbridge\r\n"},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote, Host: c.host, Header: c.prior, ProtoMajor: 1}
		if r.Header == nil {
			r.Header = http.Header{}
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if c.h2 {
			r.ProtoMajor = 2
		}
		fh := makeForwardingHeaders(r)
		var b strings.Builder
		fh.writeFields(&b)
		if b.String() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, b.String(), c.want)
		}
	}
}

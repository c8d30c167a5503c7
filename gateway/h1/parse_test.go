package h1

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
)

// parseAll parses data as a connection's first bytes: the request (nil
// when refused or incomplete), its body as read, and the refusal.
func parseAll(data []byte, maxHeaders int) (q *request, got []byte, bodyErr error, perr *Error) {
	scanned := 0
	n, perr := headEnd(data, &scanned)
	if perr != nil || n == 0 {
		return nil, nil, nil, perr
	}
	q = &request{hdr: http.Header{}}
	q.Request.Header = q.hdr
	if perr = q.parse(data[:n], maxHeaders); perr != nil {
		return nil, nil, nil, perr
	}
	c := &conn{}
	c.in = reader{buf: make([]byte, 4096), src: bytes.NewReader(data[n:])}
	var b io.Reader = http.NoBody
	switch {
	case q.chunk:
		b = &body{c: c, chunked: true}
	case q.ContentLength > 0:
		b = &body{c: c, remain: q.ContentLength}
	}
	got, bodyErr = io.ReadAll(b)
	return q, got, bodyErr, nil
}

func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
		{"bare LF in field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400},
		{"leading whitespace line", "GET / HTTP/1.1\r\n X: a\r\nHost: a\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX : a\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00\r\n\r\n", 400},
		{"CL twice same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
		{"CL twice differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
		{"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400},
		{"CL with TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"method not token", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target CTL", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"empty request line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"expect other", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 102-processing\r\n\r\n", 417},
		{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _, _, perr := parseAll([]byte(tc.raw), 3)
			if perr == nil {
				t.Fatalf("accepted %q as %s %s %v", tc.raw, q.Method, q.RequestURI, q.Header)
			}
			if perr.Status != tc.status {
				t.Fatalf("status %d (%s), want %d", perr.Status, perr.Msg, tc.status)
			}
		})
	}
}

// TestParseRefusesSmuggleCorpus: the requests the gateway's tests share
// as ambiguous or malformed are refused by the parser itself.
func TestParseRefusesSmuggleCorpus(t *testing.T) {
	for _, tc := range corpus.Smuggle {
		if q, got, err, perr := parseAll([]byte(tc.Raw), 100); perr == nil && (q == nil || err == nil) {
			t.Errorf("%s: accepted %q (body %q)", tc.Name, tc.Raw, got)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	raw := "POST /a/b?x=1&y=%20 HTTP/1.1\r\nhost: Example.com:80\r\nx-custom-thing:  v  \r\nAccept: */*\r\nAccept: text/html\r\n" +
		"Transfer-Encoding: chunked\r\nConnection: keep-alive, close\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: x\r\n\r\n"
	q, body, err, perr := parseAll([]byte(raw), 100)
	if perr != nil {
		t.Fatal(perr)
	}
	if q.Method != "POST" || q.RequestURI != "/a/b?x=1&y=%20" || q.URL.Path != "/a/b" || q.URL.RawQuery != "x=1&y=%20" ||
		q.Host != "Example.com:80" || !q.Close || q.ContentLength != -1 {
		t.Fatalf("parsed %+v", q.Request)
	}
	if got := q.Header["X-Custom-Thing"]; !slices.Equal(got, []string{"v"}) {
		t.Fatalf("X-Custom-Thing %q", got)
	}
	if got := q.Header["Accept"]; !slices.Equal(got, []string{"*/*", "text/html"}) {
		t.Fatalf("Accept %q", got)
	}
	if _, ok := q.Header["Host"]; ok {
		t.Fatal("Host left in the header map")
	}
	if string(body) != "abc" || err != nil {
		t.Fatalf("body %q, %v", body, err)
	}
}

// seeds are requests for the fuzz targets: ordinary, and the hostile
// shapes of TestParseRefusals.
var seeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET http://h/x?y HTTP/1.1\r\nHost: other\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /%2e%2E/x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
}

func addSeeds(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, tc := range corpus.Smuggle {
		f.Add([]byte(tc.Raw))
	}
}

// FuzzParseRequest: no input makes the parser or the body reader panic.
func FuzzParseRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { parseAll(data, 100) })
}

// FuzzDifferential: whatever this parser accepts, net/http's
// http.ReadRequest accepts too (with its server's checks: valid names and
// values, one valid Host), and both agree on the method, target, version,
// host, header fields, framing and body. This parser is deliberately
// stricter: bare LF line ends, empty field names, repeated equal
// Content-Lengths, Transfer-Encoding in HTTP/1.0, obs-fold and
// Content-Length with Transfer-Encoding are refused (the last three as
// the framing guard refuses them behind net/http).
func FuzzDifferential(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, body, bodyErr, perr := parseAll(data, 1000)
		if perr != nil || q == nil {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("accepted what net/http refuses (%v): %q", err, data)
		}
		for k, vv := range r.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("accepted a field name net/http's server refuses: %q", k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("accepted a field value net/http's server refuses: %q", v)
				}
			}
		}
		if len(r.Header["Host"]) > 1 {
			t.Fatalf("accepted repeated Host: %q", data)
		}
		delete(r.Header, "Host") // net/http's server drops it too
		if q.Method != r.Method || q.RequestURI != r.RequestURI || q.Proto != r.Proto || q.Host != r.Host || q.Close != r.Close {
			t.Fatalf("request line: ours %q %q %q host %q close %v, net/http %q %q %q host %q close %v",
				q.Method, q.RequestURI, q.Proto, q.Host, q.Close, r.Method, r.RequestURI, r.Proto, r.Host, r.Close)
		}
		if q.URL.String() != r.URL.String() || q.URL.Path != r.URL.Path || q.URL.RawQuery != r.URL.RawQuery {
			t.Fatalf("URL: ours %#v, net/http %#v", q.URL, r.URL)
		}
		if !maps.EqualFunc(q.Header, r.Header, slices.Equal) {
			t.Fatalf("header: ours %q, net/http %q", q.Header, r.Header)
		}
		if q.ContentLength != r.ContentLength || !slices.Equal(q.TransferEncoding, r.TransferEncoding) {
			t.Fatalf("framing: ours %d %q, net/http %d %q", q.ContentLength, q.TransferEncoding, r.ContentLength, r.TransferEncoding)
		}
		theirs, theirErr := io.ReadAll(r.Body)
		if bodyErr == nil && (theirErr != nil || !bytes.Equal(body, theirs)) {
			t.Fatalf("body: ours %q, net/http %q (%v)", body, theirs, theirErr)
		}
		if bodyErr != nil && theirErr == nil && !strings.Contains(bodyErr.Error(), "chunked") {
			t.Fatalf("body: ours failed (%v), net/http read %q", bodyErr, theirs)
		}
	})
}

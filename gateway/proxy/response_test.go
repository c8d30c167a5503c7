package proxy

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func parse(t *testing.T, raw, method string) (*httptest.ResponseRecorder, responseHead, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	br := bufio.NewReader(strings.NewReader(raw))
	resp, err := readResponseHead(br, rec.Header(), method, "")
	if err != nil {
		return rec, resp, err
	}
	rec.WriteHeader(resp.status)
	_, err = copyResponseBody(rec, br, &resp)
	return rec, resp, err
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name, raw, method string
		status            int
		body              string
		reusable          bool
		wantErr           bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, "hello", true, false},
		{"chunked with extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n", "GET", 200, "hello", true, false},
		{"until close", "HTTP/1.0 200 OK\r\n\r\nstream", "GET", 200, "stream", false, false},
		{"head ignores length", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD", 200, "", true, false},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, "", true, false},
		{"interim 100 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", "POST", 201, "ok", true, false},
		{"103 early hints skipped", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 200, "", true, false},
		{"bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", 200, "ok", true, false},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "GET", 200, "short", true, true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "GET", 200, "", true, true},
		{"missing chunk CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", "GET", 200, "ok", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, resp, err := parse(t, c.raw, c.method)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error: %v", err, c.wantErr)
			}
			if resp.status != c.status || rec.Body.String() != c.body {
				t.Fatalf("got %d %q, want %d %q", resp.status, rec.Body.String(), c.status, c.body)
			}
			if !c.wantErr && resp.reusable() != c.reusable {
				t.Fatalf("reusable = %v", resp.reusable())
			}
		})
	}
}

func TestResponseHopByHopAndTrailers(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nConnection: X-Internal, close\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n" +
		"Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\nX-App: 1\r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 42\r\nX-Extra: 7\r\n\r\n"
	rec, resp, err := parse(t, raw, "GET")
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Result().Header
	for _, k := range []string{"Connection", "X-Internal", "Keep-Alive", "Transfer-Encoding"} {
		if h.Get(k) != "" {
			t.Errorf("hop-by-hop %s passed to the client", k)
		}
	}
	if h.Get("X-App") != "1" || !resp.close {
		t.Errorf("X-App %q close %v", h.Get("X-App"), resp.close)
	}
	tr := rec.Result().Trailer
	if tr.Get("X-Sum") != "42" || rec.Header().Get(http.TrailerPrefix+"X-Extra") != "7" {
		t.Errorf("trailers: declared %v, header map %v", tr, rec.Header())
	}
}

func TestAmbiguousResponsesRejected(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"",
	} {
		rec, _, err := parse(t, raw, "GET")
		if err == nil {
			t.Errorf("%q accepted", raw)
		}
		if len(rec.Header()) != 0 {
			t.Errorf("%q left headers behind: %v", raw, rec.Header())
		}
	}
}

// Nothing a backend sends may crash the gateway.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: A\r\n\r\n5\r\nhello\r\n0\r\nA: b\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: x\r\n\r\nbody",
	} {
		f.Add(s, "GET")
	}
	f.Fuzz(func(t *testing.T, raw, method string) {
		_, _, _ = parse(t, raw, method)
	})
}

// Control characters in a backend's header values, trailers or reason
// phrase make the response malformed: a bare CR is a line break to some
// parsers downstream, a NUL the end of a string to others (RFC 9110 §5.5,
// RFC 9112 §2.2). HTAB and obs-text stay allowed.
func TestControlCharactersInResponseRejected(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: x=1\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\r\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: \ra\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x0bb\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\r\n\r\n",
		"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\x00\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 103 Early\r\nLink: a\rb\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\rb\r\n\r\n",
		"HTTP/1.x 200 OK\r\nContent-Length: 0\r\n\r\n",
	} {
		if _, _, err := parse(t, raw, "GET"); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	rec, _, err := parse(t, "HTTP/1.1 200 O\tK\r\nX-A: \ta\tb\xff \r\nContent-Length: 0\r\n\r\n", "GET")
	if err != nil || rec.Header().Get("X-A") != "a\tb\xff" {
		t.Errorf("HTAB and obs-text: %v %q", err, rec.Header().Get("X-A"))
	}
}

func TestResponseHeaderCountBounded(t *testing.T) {
	head := func(n int) string {
		return "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", n) + "Content-Length: 0\r\n\r\n"
	}
	if _, _, err := parse(t, head(maxResponseHeaders-1), "GET"); err != nil {
		t.Errorf("%d headers: %v", maxResponseHeaders, err)
	}
	if _, _, err := parse(t, head(maxResponseHeaders), "GET"); err == nil {
		t.Errorf("%d headers accepted", maxResponseHeaders+1)
	}
}

// An HTTP/1.0 response closes its connection unless it says keep-alive.
func TestHTTP10ResponseCloses(t *testing.T) {
	_, resp, err := parse(t, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET")
	if err != nil || !resp.close {
		t.Errorf("HTTP/1.0 without keep-alive: close %v, %v", resp.close, err)
	}
	_, resp, err = parse(t, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "GET")
	if err != nil || resp.close {
		t.Errorf("HTTP/1.0 with keep-alive: close %v, %v", resp.close, err)
	}
}

// A 101 is accepted only when an upgrade was asked for and it names one of
// the protocols asked, h2c never.
func TestSwitchingProtocolsMatchesTheAsk(t *testing.T) {
	for _, c := range []struct {
		asked, got string
		ok         bool
	}{
		{"websocket", "websocket", true},
		{"websocket", "WebSocket", true},
		{"WebSocket", " websocket ", true},
		{"websocket, foo/2", "foo/2", true},
		{"", "websocket", false},
		{"websocket", "", false},
		{"websocket", "h2c", false},
		{"h2c", "h2c", false},
		{"h2c", "H2C", false},
		{"websocket", "websocket, h2c", false},
		{"websocket", "websocket2", false},
		{"foo/2", "foo", false},
	} {
		raw := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + c.got + "\r\n\r\n"
		rec := httptest.NewRecorder()
		resp, err := readResponseHead(bufio.NewReader(strings.NewReader(raw)), rec.Header(), "GET", c.asked)
		if (err == nil) != c.ok {
			t.Errorf("asked %q, backend switched to %q: err %v, want accepted %v", c.asked, c.got, err, c.ok)
		}
		if err == nil && resp.reusable() {
			t.Errorf("a switched connection counts as reusable")
		}
	}
}

package hygiene

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/corpus"
)

// pipeConn is a client connection made of fixed bytes, served to the
// server at most chunk bytes per read, then EOF. It records the start of
// what the server writes back, to tell HTTP/1 from HTTP/2.
type pipeConn struct {
	mu     sync.Mutex
	in     []byte
	chunk  int
	out    []byte
	closed chan struct{}
	once   sync.Once
}

func (c *pipeConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *pipeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) < 16 {
		c.out = append(c.out, p[:min(len(p), 16-len(c.out))]...)
	}
	return len(p), nil
}

func (c *pipeConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// oneConnListener accepts one connection, then waits to be closed.
type oneConnListener struct {
	c    chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

// servedRequest is what a handler behind the guard saw.
type servedRequest struct {
	line    string // method, target and version as net/http parsed them
	proto   int
	v       verdict
	ok      bool
	bodyLen int
	bodyErr error
}

// serveThroughGuard serves raw as one client connection to a real net/http
// server configured like the gateway's, with the guard in front and a
// handler that refuses as Rules.Check does. It returns what the handler
// saw and whether the server answered in HTTP/2.
func serveThroughGuard(t *testing.T, raw []byte, chunk int) ([]servedRequest, bool) {
	var mu sync.Mutex
	var served []servedRequest
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Protocols:      p,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(io.Discard, "", 0),
		ConnContext:    ConnContext,
		ConnState:      ConnState,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := servedRequest{line: r.Method + " " + r.RequestURI + " " + r.Proto, proto: r.ProtoMajor}
			s.v, s.ok = takeVerdict(r.Context())
			if s.ok && s.v.kind != vClean {
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusBadRequest)
			} else {
				b, err := io.ReadAll(r.Body)
				s.bodyLen, s.bodyErr = len(b), err
				if err != nil {
					w.Header().Set("Connection", "close")
					w.WriteHeader(http.StatusBadRequest)
				}
			}
			mu.Lock()
			served = append(served, s)
			mu.Unlock()
		}),
	}
	pc := &pipeConn{in: raw, chunk: chunk, closed: make(chan struct{})}
	ln := &oneConnListener{c: make(chan net.Conn, 1), done: make(chan struct{})}
	ln.c <- newGuardConn(pc)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-pc.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("server did not finish the connection: %q", raw)
	}
	_ = srv.Close()
	<-errc
	mu.Lock()
	defer mu.Unlock()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	// What the server wrote, if anything reached the connection: an
	// HTTP/2 server starts with a SETTINGS frame, HTTP/1 with its version.
	h2 := len(pc.out) > 0 && !bytes.HasPrefix(pc.out, []byte("HTTP/1."))
	return served, h2
}

// checkGuardAgrees compares what net/http served from raw with the guard's
// own reading of raw (fed in two pieces, cut at split).
func checkGuardAgrees(t *testing.T, raw []byte, split, chunk int) {
	t.Helper()
	alone := newGuardConn(nil)
	var bodies []uint64
	alone.onBody = func(n uint64) { bodies = append(bodies, n) }
	cut := split % (len(raw) + 1)
	alone.scan(raw[:cut])
	alone.scan(raw[cut:])

	served, h2 := serveThroughGuard(t, raw, chunk)
	// net/http serves HTTP/2 exactly when the connection opens with the
	// preface (server.go, maybeServeUnencryptedHTTP2); what it writes
	// back may not reach the connection before the input ends.
	if off := alone.state == gOff; off != bytes.HasPrefix(raw, []byte(h2cPreface)) || h2 && !off {
		t.Fatalf("server wrote HTTP/2: %v, guard stopped following: %v\ninput %q", h2, off, raw)
	}
	if alone.state == gOff {
		for _, s := range served {
			if s.ok || s.proto == 1 {
				t.Fatalf("HTTP/1 request %q on a connection the guard took for HTTP/2\ninput %q", s.line, raw)
			}
		}
		return
	}
	for i, s := range served {
		if !s.ok {
			t.Fatalf("request %d (%q) served without a verdict, guard state %d\ninput %q", i, s.line, alone.state, raw)
		}
		if s.v.kind != vClean {
			break // refused and closed: nothing after it is served
		}
		if i >= len(alone.q) || alone.q[i] != s.v {
			t.Fatalf("request %d (%q): verdict %+v in front of the server, alone %+v\ninput %q", i, s.line, s.v, alone.q, raw)
		}
		at := int(s.v.at)
		end := bytes.IndexByte(raw[at:], '\n')
		if end < 0 {
			t.Fatalf("request %d: verdict at %d has no line\ninput %q", i, at, raw)
		}
		if line := string(trimEOL(raw[at : at+end+1])); line != s.line {
			t.Fatalf("request %d: server parsed %q, guard's head at %d is %q\ninput %q", i, s.line, at, line, raw)
		}
		if s.bodyErr != nil {
			break // the handler answers with a close
		}
		switch {
		case i < len(bodies):
			if bodies[i] != uint64(s.bodyLen) {
				t.Fatalf("request %d (%q): server read a %d-byte body, guard %d\ninput %q", i, s.line, s.bodyLen, bodies[i], raw)
			}
		case alone.state != gLost:
			// A stricter guard is fine only if it fails closed.
			t.Fatalf("request %d (%q): server read a %d-byte body the guard did not see end (state %d)\ninput %q", i, s.line, s.bodyLen, alone.state, raw)
		}
	}
}

// framingSeeds are inputs for the differential fuzz target and its fixed
// run: the smuggling corpus, the guard's old holes, and boundary cases of
// each rule the guard mirrors.
func framingSeeds() []string {
	clte := "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	get := "GET /n HTTP/1.1\r\nHost: x\r\n\r\n"
	seeds := []string{
		get + get + clte,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \r\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\n\rContent-Length: 5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\nhello",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\r\n\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x=1\r\nhello\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\t\r\nhello\r\n0;a\r\nT: v\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n" + clte,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 300) + "\r\nA\r\n" + "0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc" + get,
		"GET /u HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n" + clte,
		"GET /u HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + get,
		"GET /f HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n" + get,
		"GET /lf HTTP/1.1\nHost: x\n\n" + get,
		"GET /nul HTTP/1.1\r\nHost: x\r\nX-A: \x00\r\n\r\n" + get,
		"GET /cr HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n" + get,
		"\r\n" + get,
		h2cPreface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"PRI * HTTP/2.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get,
		get + h2cPreface,
		fieldsHead(101) + get,
	}
	for _, tc := range corpus.Smuggle {
		seeds = append(seeds, tc.Raw+get)
	}
	return seeds
}

func TestFramingGuardAgreesWithNetHTTP(t *testing.T) {
	for _, s := range framingSeeds() {
		for _, chunk := range []int{1, 7, 4096} {
			checkGuardAgrees(t, []byte(s), len(s)/2, chunk)
		}
	}
}

// FuzzFramingGuardVsNetHTTP is the differential check: whatever bytes a
// client sends, every request net/http serves has a verdict from the
// guard, for a head that starts where the server's does, with a body that
// ends where the server's does; or the guard refuses.
func FuzzFramingGuardVsNetHTTP(f *testing.F) {
	for _, s := range framingSeeds() {
		f.Add([]byte(s), uint16(len(s)/2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, raw []byte, split, chunk uint16) {
		if len(raw) > 1<<16 {
			return
		}
		checkGuardAgrees(t, raw, int(split), 1+int(chunk)%4096)
	})
}

// The guard fails closed, but must not refuse what clients really send and
// net/http accepts: each of these streams is followed to its end, every
// request judged clean.
func TestFramingGuardFollowsWhatNetHTTPAccepts(t *testing.T) {
	get := "GET /n HTTP/1.1\r\nHost: x\r\n\r\n"
	chunked := "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	cases := map[string]string{
		"CRLF after a POST":             "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\n" + get,
		"two CRLFs after a POST":        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\n\r\n" + get,
		"LF line endings":               "GET /a HTTP/1.1\nHost: x\nContent-Length: 2\n\nab" + get,
		"16 hex digit chunk size":       chunked + "0000000000000003\r\nabc\r\n0\r\n\r\n" + get,
		"chunk extension and OWS":       chunked + "3;name=\"v\"\r\nabc\r\n2\t \r\nde\r\n0\r\n\r\n" + get,
		"upper-case hex":                chunked + "A\r\n0123456789\r\n0\r\n\r\n" + get,
		"trailers":                      chunked + "1\r\na\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n" + get,
		"leading zeros in CL":           "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0003\r\n\r\nabc" + get,
		"repeated equal CL":             "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + get,
		"CL with trailing spaces":       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:  3 \t\r\n\r\nabc" + get,
		"HTTP/1.0 keep-alive":           "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc" + get,
		"Upgrade on a plain request":    "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n" + get,
		"70 KiB cookie":                 "GET /a HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 70<<10) + "\r\n\r\n" + get,
		"long request target":           "GET /" + strings.Repeat("p", 20<<10) + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get,
		"TE and CL names in other case": "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na" + "POST /b HTTP/1.1\r\nHost: x\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n" + get,
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			for _, piece := range []int{1, 5, len(stream)} {
				g := newGuardConn(nil)
				for i := 0; i < len(stream); i += piece {
					g.scan([]byte(stream[i:min(i+piece, len(stream))]))
				}
				if g.state != gHead || !g.first || g.lineLen != 0 {
					t.Fatalf("in pieces of %d: guard state %d, want at the start of a head", piece, g.state)
				}
				for i, v := range g.q {
					if v.kind != vClean {
						t.Fatalf("in pieces of %d: verdict %d = %+v, want clean (all %+v)", piece, i, v, g.q)
					}
				}
				if len(g.q) < 2 {
					t.Fatalf("in pieces of %d: %d verdicts, want one per request", piece, len(g.q))
				}
			}
			checkGuardAgrees(t, []byte(stream), len(stream)/3, 4096)
		})
	}
}

// A request line longer than the guard keeps still shows its version: the
// guard keeps its end.
func TestFramingGuardLongRequestLineVersion(t *testing.T) {
	for extra := -12; extra <= 12; extra++ {
		target := "/" + strings.Repeat("p", maxGuardLine+extra-len("POST / HTTP/1.0\r\n"))
		stream := "POST " + target + " HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		for _, piece := range []int{1, 3, 7, 4096, len(stream)} {
			g := newGuardConn(nil)
			for i := 0; i < len(stream); i += piece {
				g.scan([]byte(stream[i:min(i+piece, len(stream))]))
			}
			if len(g.q) != 1 || g.q[0].kind != vHTTP10TE {
				t.Fatalf("line of %d bytes in pieces of %d: verdicts %+v, want HTTP/1.0 with Transfer-Encoding", maxGuardLine+extra, piece, g.q)
			}
		}
	}
}

// BenchmarkFramingGuard measures the guard on a typical keep-alive
// connection: a browser-like head, then a small chunked POST.
func BenchmarkFramingGuard(b *testing.B) {
	stream := []byte("GET /api/v1/items?page=2 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: application/json\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nCookie: session=0123456789abcdef0123456789abcdef\r\n" +
		"Connection: keep-alive\r\n\r\n" +
		"POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"10\r\n{\"name\":\"item\"}\n\r\n0\r\n\r\n")
	g := newGuardConn(nil)
	ctx := context.WithValue(context.Background(), guardKey{}, g)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		g.scan(stream)
		for range 2 {
			if v, ok := takeVerdict(ctx); !ok || v.kind != vClean {
				b.Fatalf("verdict %+v %v", v, ok)
			}
		}
	}
}

// HTTP/2 requests have no guard (their framing is HTTP/2's); their header
// fields are counted from the decoded request against the same limit.

// fieldsHead is a GET head with n header fields, Host included.
func fieldsHead(n int) string {
	h := "GET /h HTTP/1.1\r\nHost: x\r\n"
	for i := 1; i < n; i++ {
		h += "X-H" + strconv.Itoa(i) + ": v\r\n"
	}
	return h + "\r\n"
}

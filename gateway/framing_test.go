package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// pathRecorder is a backend that records the method and path of every
// request it receives, after reading its body.
type pathRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	p.mu.Unlock()
}

func (p *pathRecorder) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// exchangeRaw writes raw to a fresh connection to addr and reads responses
// until the gateway closes the connection or want responses have arrived
// and the connection stays open. It returns the statuses and whether the
// connection was closed (EOF) after them.
func exchangeRaw(t *testing.T, addr, raw string, want int) (statuses []int, closed bool) {
	t.Helper()
	c := testkit.Dial(t, addr)
	go func() { _, _ = io.WriteString(c, raw) }() // may block on a big head the gateway refuses
	br := bufio.NewReader(c)
	for {
		if len(statuses) >= want {
			// Whatever comes next must be EOF (closed) or nothing (open):
			// a short deadline tells them apart without sleeping on success.
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := br.Peek(1)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return statuses, false
			}
			if err == nil {
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					resp.Body.Close()
					statuses = append(statuses, resp.StatusCode)
					continue
				}
			}
			return statuses, true
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return statuses, true
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		if resp.Close {
			_, err := br.Peek(1)
			if err == nil {
				t.Errorf("bytes after a response that said Connection: close")
			}
			return statuses, true
		}
	}
}

// The four holes of the framing guard: each let a Content-Length +
// Transfer-Encoding request, or one the guard could not follow, through
// with 200.
func TestFramingGuardHoles(t *testing.T) {
	rec := &pathRecorder{}
	be := startHandlerBackend(t, rec)
	cfg := parseConfig(t, poolConfig("", be)+"server:\n  max_header_bytes: 1048576\n")
	_, gw := startGateway(t, cfg, Options{})
	addr := gw.Listener.Addr().String()
	clte := "POST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	cases := []struct {
		name, raw string
		want      []int // statuses, the last one followed by a close
		seen      []string
	}{
		{"long header line then CL+TE",
			"POST /smuggled HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 70<<10) + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]int{400}, nil},
		{"long header line in a clean request, then CL+TE",
			"GET /first HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 70<<10) + "\r\n\r\n" + clte,
			[]int{200, 400}, []string{"GET /first"}},
		{"long Content-Length line",
			"POST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: " + strings.Repeat("0", 70<<10) + "5\r\n\r\nhello",
			[]int{400}, nil},
		{"Upgrade without Connection: upgrade, CL+TE",
			"POST /smuggled HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]int{400}, nil},
		// The gateway closes a connection whose requested upgrade did not
		// happen (gateway/hygiene/canonical.go), so the request behind it is never read;
		// that the guard would refuse it is checked on the guard alone
		// (TestFramingGuardAgreesWithNetHTTP).
		{"Upgrade on a request that is not upgraded, then CL+TE",
			"GET /first HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n" + clte,
			[]int{200}, []string{"GET /first"}},
		{"16 hex digit chunk size, then CL+TE",
			"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n" + clte,
			[]int{200, 400}, []string{"POST /first"}},
		{"HTTP/1.0 with Transfer-Encoding",
			"POST /smuggled HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]int{400}, nil},
		{"HTTP/1.0 with Transfer-Encoding and Content-Length",
			"POST /smuggled HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]int{400}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.seen = nil
			rec.mu.Unlock()
			got, closed := exchangeRaw(t, addr, tc.raw, len(tc.want))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || !closed {
				t.Errorf("statuses %v, closed %v; want %v, then closed", got, closed, tc.want)
			}
			if seen := rec.list(); fmt.Sprint(seen) != fmt.Sprint(tc.seen) {
				t.Errorf("backend saw %q, want %q", seen, tc.seen)
			}
		})
	}
}

// headWith returns a GET head with n header fields, Host included.
func headWith(n int, pad string) string {
	var b strings.Builder
	b.WriteString("GET /h HTTP/1.1\r\nHost: x\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "X-H%d: %s\r\n", i, pad)
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestHeaderLimitsDefault(t *testing.T) {
	rec := &pathRecorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	addr := gw.Listener.Addr().String()
	cases := []struct {
		name, raw string
		want      int
		closed    bool
	}{
		{"256 KiB header", "GET /h HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 256<<10) + "\r\n\r\n", 431, true},
		{"100 headers", headWith(100, "v"), 200, false},
		{"101 headers", headWith(101, "v"), 431, true},
		{"5000 headers", headWith(5000, ""), 431, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, closed := exchangeRaw(t, addr, tc.raw, 1)
			if len(got) != 1 || got[0] != tc.want || closed != tc.closed {
				t.Errorf("statuses %v, closed %v; want [%d], closed %v", got, closed, tc.want, tc.closed)
			}
		})
	}
}

func TestHeaderCountH2C(t *testing.T) {
	rec := &pathRecorder{}
	be := startHandlerBackend(t, rec)
	_, gw := startGateway(t, parseConfig(t, poolConfig("", be)), Options{})
	c := h2cClient()
	for _, tc := range []struct {
		fields, want int
	}{{100, 200}, {101, 431}} {
		req, _ := http.NewRequest("GET", gw.URL+"/h", nil)
		// Host (:authority), and the two the transport would add.
		req.Header.Set("User-Agent", "t")
		req.Header.Set("Accept-Encoding", "identity")
		for i := 3; i < tc.fields; i++ {
			req.Header.Set(fmt.Sprintf("X-H%d", i), "v")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != tc.want {
			t.Errorf("%d fields over %s: %d, want %d over HTTP/2", tc.fields, resp.Proto, resp.StatusCode, tc.want)
		}
	}
}

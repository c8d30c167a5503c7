package gateway

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Raw is a client that writes HTTP/2 frames by hand. A goroutine reads
// the server's frames; done closes when the server ends the connection.
type h2Raw struct {
	conn net.Conn
	fr   *http2.Framer
	wmu  sync.Mutex
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	mu     sync.Mutex
	frames []string // "TYPE stream code" of frames read
	done   chan struct{}
}

func dialH2Raw(t *testing.T, addr string, useTLS bool) *h2Raw {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &h2Raw{conn: c, fr: http2.NewFramer(c, c), done: make(chan struct{})}
	h.enc = hpack.NewEncoder(&h.hbuf)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	return h
}

func (h *h2Raw) read() {
	defer close(h.done)
	rd := http2.NewFramer(nil, h.conn)
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			return
		}
		s := fmt.Sprintf("%v %d", f.Header().Type, f.Header().StreamID)
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			s += " " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			s += " " + f.ErrCode.String()
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.wmu.Lock()
				_ = h.fr.WriteSettingsAck()
				h.wmu.Unlock()
			}
		}
		h.mu.Lock()
		h.frames = append(h.frames, s)
		h.mu.Unlock()
	}
}

// block encodes a GET for path plus extra fields ("name", "value", ...).
func (h *h2Raw) block(path string, extra ...string) []byte {
	h.hbuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "gw.test"}, {":path", path}} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		_ = h.enc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	return bytes.Clone(h.hbuf.Bytes())
}

func (h *h2Raw) headers(stream uint32, endHeaders bool, frag []byte) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: frag, EndStream: true, EndHeaders: endHeaders})
}

func (h *h2Raw) seen(prefix string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.frames {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

func (h *h2Raw) closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// h2Listeners starts a gateway with both listeners (h2c on the plain one,
// TLS for a.test) in front of be and returns their addresses by name;
// server is YAML under server:.
func h2Listeners(t *testing.T, be interface{ Addr() string }, server string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir, "a.test", 1)
	path := filepath.Join(dir, "gateway.yaml")
	writeConfig(t, path, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {enabled: false}
access_log: {enabled: false}
server: {%s}
tls:
	listen: 127.0.0.1:0
	certificates: [{cert_file: a.test.crt, key_file: a.test.key}]
routes: [{name: all, pool: p}]
pools: [{name: p, backends: [{address: %s}]}]
`, server, be.Addr()))
	rn := runGateway(t, path, nil)
	return map[string]string{"h2c": rn.addr, "tls": rn.https}
}

// An HTTP/2 client gets the read-header timeout HTTP/1 gets, not the idle
// timeout: for its first request after connecting, and for a header block
// it leaves open. A client that is merely idle between requests stays.
func TestH2HeaderDeadline(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	const timeout = 300 * time.Millisecond
	addrs := h2Listeners(t, be, "read_header_timeout: 300ms, idle_timeout: 1m")
	for _, proto := range []string{"h2c", "tls"} {
		addr := addrs[proto]
		t.Run(proto+"/nothing after the preface", func(t *testing.T) {
			start := time.Now()
			h := dialH2Raw(t, addr, proto == "tls")
			testkit.Eventually(t, "connection closed", h.closed)
			if d := time.Since(start); d < timeout {
				t.Fatalf("closed after %v, before the %v deadline", d, timeout)
			}
		})
		t.Run(proto+"/header block left open", func(t *testing.T) {
			h := dialH2Raw(t, addr, proto == "tls")
			if err := h.headers(1, true, h.block("/one")); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "first response", func() bool { return h.seen("HEADERS 1") })
			frag := h.block("/two")
			start := time.Now()
			if err := h.headers(3, false, frag[:len(frag)/2]); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "connection closed", h.closed)
			if d := time.Since(start); d < timeout {
				t.Fatalf("closed after %v, before the %v deadline", d, timeout)
			}
			if h.seen("HEADERS 3") {
				t.Fatal("the incomplete request was answered")
			}
		})
		t.Run(proto+"/idle between requests", func(t *testing.T) {
			h := dialH2Raw(t, addr, proto == "tls")
			if err := h.headers(1, true, h.block("/one")); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "first response", func() bool { return h.seen("HEADERS 1") })
			select { // three deadlines' worth of idleness is not a slow header
			case <-h.done:
				t.Fatal("an idle connection was cut at the header deadline")
			case <-time.After(3 * timeout):
			}
			if err := h.headers(3, true, h.block("/two")); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "second response", func() bool { return h.seen("HEADERS 3") })
		})
	}
}

// CONTINUATION flood (CVE-2024-27316 and kin): a header block that never
// ends, in large or empty frames, ends the connection long before the
// gateway has buffered much or the idle timeout.
func TestH2ContinuationFlood(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addrs := h2Listeners(t, be, "read_header_timeout: 2s, idle_timeout: 1m")
	for _, proto := range []string{"h2c", "tls"} {
		for _, size := range []int{0, 4000} {
			t.Run(fmt.Sprintf("%s/%d-byte values", proto, size), func(t *testing.T) {
				h := dialH2Raw(t, addrs[proto], proto == "tls")
				if err := h.headers(1, false, h.block("/")); err != nil {
					t.Fatal(err)
				}
				var frag []byte
				if size > 0 {
					frag = h.block("/", "x-flood", strings.Repeat("a", size))
				}
				var sent atomic.Int64
				go func() {
					for !h.closed() {
						h.wmu.Lock()
						err := h.fr.WriteContinuation(1, false, frag)
						h.wmu.Unlock()
						if err != nil {
							return
						}
						sent.Add(int64(9 + len(frag)))
					}
				}()
				testkit.Eventually(t, "connection closed", h.closed)
				if h.seen("HEADERS 1") {
					t.Fatal("the endless header block was answered")
				}
				t.Logf("closed after %d bytes", sent.Load())
			})
		}
	}
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once must not
// pile up work behind the gateway, and the gateway keeps serving others.
func TestH2RapidReset(t *testing.T) {
	var active, peak atomic.Int64
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			return
		}
		n := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-r.Context().Done()
	}))
	addrs := h2Listeners(t, be, "")
	for _, proto := range []string{"h2c", "tls"} {
		t.Run(proto, func(t *testing.T) {
			h := dialH2Raw(t, addrs[proto], proto == "tls")
			const streams = 5000
			for i := uint32(0); i < streams; i++ {
				id := 2*i + 1
				h.wmu.Lock()
				err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block("/slow"), EndStream: true, EndHeaders: true})
				if err == nil {
					err = h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
				}
				h.wmu.Unlock()
				if err != nil {
					break // the server may end the connection (ENHANCE_YOUR_CALM)
				}
			}
			testkit.Eventually(t, "backend work drained", func() bool { return active.Load() == 0 })
			if p := peak.Load(); p > 250 {
				t.Fatalf("%d requests at once reached the backend; the stream limit is 250", p)
			}
			// Another client is served.
			o := dialH2Raw(t, addrs[proto], proto == "tls")
			if err := o.headers(1, true, o.block("/")); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "other client answered", func() bool { return o.seen("HEADERS 1") })
		})
	}
}

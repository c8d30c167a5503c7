package compress

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

var big = strings.Repeat("hello compressible world. ", 200) // 5200 bytes

type resp struct {
	status int
	h      http.Header
	raw    []byte // as on the wire
	body   string // decoded
}

func do(t *testing.T, h http.Handler, method, ae string) resp {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL, nil)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := resp{status: res.StatusCode, h: res.Header, raw: raw, body: string(raw)}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		r.body = string(b)
	}
	return r
}

func handler(status int, body string, hdr ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

func TestCompresses(t *testing.T) {
	for _, withLen := range []bool{true, false} {
		hdr := []string{"Content-Type", "text/plain; charset=utf-8", "Etag", `"abc"`, "Accept-Ranges", "bytes"}
		if withLen {
			hdr = append(hdr, "Content-Length", strconv.Itoa(len(big)))
		}
		r := do(t, Middleware(Config{}, handler(200, big, hdr...)), "GET", "gzip, br")
		if r.h.Get("Content-Encoding") != "gzip" || r.body != big {
			t.Fatalf("withLen=%v: enc %q body ok %v", withLen, r.h.Get("Content-Encoding"), r.body == big)
		}
		if len(r.raw) >= len(big)/4 {
			t.Fatalf("not compressed: %d bytes", len(r.raw))
		}
		if r.h.Get("Content-Length") == strconv.Itoa(len(big)) || r.h.Get("Accept-Ranges") != "" {
			t.Fatalf("identity Content-Length/Accept-Ranges kept: %v", r.h)
		}
		if r.h.Get("Vary") != "Accept-Encoding" || r.h.Get("Etag") != `W/"abc"` {
			t.Fatalf("Vary %q ETag %q", r.h.Get("Vary"), r.h.Get("Etag"))
		}
	}
}

func TestLeavesAlone(t *testing.T) {
	text := []string{"Content-Type", "text/html"}
	cases := []struct {
		name     string
		h        http.Handler
		method   string
		ae       string
		wantVary bool
	}{
		{"client without gzip", handler(200, big, text...), "GET", "br", true},
		{"gzip q=0", handler(200, big, text...), "GET", "gzip;q=0, *", true},
		{"identity only", handler(200, big, text...), "GET", "", true},
		{"small with length", handler(200, "tiny", "Content-Type", "text/html", "Content-Length", "4"), "GET", "gzip", true},
		{"small streamed", handler(200, "tiny", text...), "GET", "gzip", true},
		{"already encoded", handler(200, big, "Content-Type", "text/html", "Content-Encoding", "br"), "GET", "gzip", false},
		{"no-transform", handler(200, big, "Content-Type", "text/html", "Cache-Control", "public, no-transform"), "GET", "gzip", false},
		{"image", handler(200, big, "Content-Type", "image/png"), "GET", "gzip", false},
		{"partial", handler(206, big, append(text, "Content-Range", "bytes 0-5199/9999")...), "GET", "gzip", false},
		{"no content", handler(204, "", text...), "GET", "gzip", false},
		{"head", handler(200, "", text...), "HEAD", "gzip", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, Middleware(Config{}, tc.h), tc.method, tc.ae)
			if enc := r.h.Get("Content-Encoding"); enc == "gzip" {
				t.Fatalf("compressed")
			}
			if got := r.h.Get("Vary") == "Accept-Encoding"; got != tc.wantVary {
				t.Fatalf("Vary = %q, want present=%v", r.h.Get("Vary"), tc.wantVary)
			}
			if tc.method == "GET" && r.status != 204 && r.body != big && r.body != "tiny" {
				t.Fatalf("body changed: %.20q", r.body)
			}
		})
	}
}

func TestSniffsMissingContentType(t *testing.T) {
	html := "<!doctype html><html><body>" + big + "</body></html>"
	r := do(t, Middleware(Config{}, handler(200, html)), "GET", "gzip")
	if r.h.Get("Content-Encoding") != "gzip" || r.body != html || !strings.HasPrefix(r.h.Get("Content-Type"), "text/html") {
		t.Fatalf("enc %q type %q", r.h.Get("Content-Encoding"), r.h.Get("Content-Type"))
	}
	bin := string(make([]byte, 4096)) // sniffs as application/octet-stream
	if r := do(t, Middleware(Config{}, handler(200, bin)), "GET", "gzip"); r.h.Get("Content-Encoding") != "" || r.body != bin {
		t.Fatalf("binary compressed: %q", r.h.Get("Content-Encoding"))
	}
}

func TestConfigTypesAndMinBytes(t *testing.T) {
	cfg := Config{Types: []string{"application/x-custom", "font/*"}, MinBytes: 10, Level: 9}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if r := do(t, Middleware(cfg, handler(200, "0123456789ab", "Content-Type", "application/x-custom")), "GET", "gzip"); r.h.Get("Content-Encoding") != "gzip" {
		t.Fatal("custom type not compressed")
	}
	if r := do(t, Middleware(cfg, handler(200, big, "Content-Type", "font/woff")), "GET", "gzip"); r.h.Get("Content-Encoding") != "gzip" {
		t.Fatal("wildcard type not compressed")
	}
	if r := do(t, Middleware(cfg, handler(200, big, "Content-Type", "text/plain")), "GET", "gzip"); r.h.Get("Content-Encoding") != "" {
		t.Fatal("type outside the list compressed")
	}
	for _, bad := range []Config{{Level: 10}, {Level: -3}, {MinBytes: -1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

// A streamed response must reach the client chunk by chunk: Flush pushes
// through the gzip writer even before MinBytes were written.
func TestStreamingFlushes(t *testing.T) {
	release := make(chan struct{})
	h := Middleware(Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("stream not compressed")
	}
	var br *bufio.Reader
	first := testkit.Streamed(t, func() { close(release) }, func() string {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			return err.Error()
		}
		br = bufio.NewReader(zr)
		s, _ := br.ReadString('\n')
		return s
	})
	if first != "data: one\n" {
		t.Fatalf("first event = %q (Flush does not reach the client?)", first)
	}
	if s, _ := br.ReadString('\n'); s != "data: two\n" {
		t.Fatalf("second event = %q", s)
	}
}

func TestAcceptsGzip(t *testing.T) {
	cases := map[string]bool{
		"gzip": true, "GZIP": true, "x-gzip": true, "deflate, gzip;q=0.5": true, "*": true,
		"": false, "br": false, "gzip;q=0": false, "gzip;q=0.0, *": false, "*;q=0": false, "gzip;q=x": false,
	}
	for in, want := range cases {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

// Run with -race: pooled writers must not leak between concurrent requests.
func TestConcurrentPooled(t *testing.T) {
	srv := httptest.NewServer(Middleware(Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.URL.Path+big)
	})))
	defer srv.Close()
	client := &http.Client{} // decodes gzip transparently
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			p := "/" + strconv.Itoa(i)
			res, err := client.Get(srv.URL + p)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != p+big || !res.Uncompressed {
				errs <- io.ErrUnexpectedEOF
				return
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkGzip5K(b *testing.B) {
	h := Middleware(Config{}, handler(200, big, "Content-Type", "text/plain"))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// Flushing before the first byte with no Content-Type must not commit to
// gzip: there is nothing to sniff (net/http sends no type either).
func TestEarlyFlushWithoutType(t *testing.T) {
	h := Middleware(Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		io.WriteString(w, big)
	}))
	r := do(t, h, "GET", "gzip")
	if r.h.Get("Content-Encoding") != "" || r.body != big {
		t.Fatalf("enc %q", r.h.Get("Content-Encoding"))
	}
}

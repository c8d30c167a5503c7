package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tree builds a site:
//
//	outside/secret.txt         (next to root, must never be served)
//	root/index.html
//	root/app.js, app.js.gz, app.js.br
//	root/style.css, style.css.gz
//	root/docs/                 (no index)
//	root/docs/a.txt
//	root/sub/index.htm
//	root/in-link -> app.js     (relative symlink inside root)
//	root/out-link -> ../outside/secret.txt
//	root/out-dir -> ../outside
func tree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	files := map[string]string{
		"outside/secret.txt": "SECRET",
		"root/index.html":    "<h1>home</h1>",
		"root/app.js":        strings.Repeat("console.log(1);\n", 100),
		"root/app.js.gz":     "GZ-BYTES",
		"root/app.js.br":     "BR-BYTES",
		"root/style.css":     "body{}",
		"root/style.css.gz":  "CSS-GZ",
		"root/docs/a.txt":    "alpha",
		"root/sub/index.htm": "sub-index",
		"root/num.txt":       "0123456789",
	}
	for name, body := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"in-link":  "app.js",
		"out-link": "../outside/secret.txt",
		"out-dir":  "../outside",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func server(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type resp struct {
	status int
	h      http.Header
	body   string
}

// get sends a raw request path (not normalised by url.Parse) so traversal
// attempts reach the handler as a client would send them.
func get(t *testing.T, srv *httptest.Server, method, rawPath string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = rawPath
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableCompression: true},
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func TestNewValidates(t *testing.T) {
	root := tree(t)
	for _, cfg := range []Config{
		{},
		{Root: filepath.Join(root, "missing")},
		{Root: filepath.Join(root, "index.html")},
		{Root: root, Index: []string{"../x"}},
	} {
		if h, err := New(cfg); err == nil {
			h.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestFilesIndexAndRedirect(t *testing.T) {
	srv := server(t, Config{Root: tree(t), Index: []string{"index.html", "index.htm"}})
	r := get(t, srv, "GET", "/")
	if r.status != 200 || r.body != "<h1>home</h1>" || !strings.HasPrefix(r.h.Get("Content-Type"), "text/html") {
		t.Fatalf("/ = %d %q %q", r.status, r.body, r.h.Get("Content-Type"))
	}
	if r = get(t, srv, "GET", "/sub/"); r.body != "sub-index" {
		t.Fatalf("/sub/ = %d %q", r.status, r.body)
	}
	if r = get(t, srv, "GET", "/sub?x=1"); r.status != 301 || r.h.Get("Location") != "sub/?x=1" {
		t.Fatalf("/sub = %d Location %q", r.status, r.h.Get("Location"))
	}
	if r = get(t, srv, "GET", "/docs/"); r.status != 404 {
		t.Fatalf("/docs/ without index or browse = %d", r.status)
	}
	if r = get(t, srv, "GET", "/num.txt/"); r.status != 404 {
		t.Fatalf("file with trailing slash = %d", r.status)
	}
	if r = get(t, srv, "GET", "/nope"); r.status != 404 {
		t.Fatalf("/nope = %d", r.status)
	}
	if r = get(t, srv, "POST", "/num.txt"); r.status != 405 || r.h.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST = %d", r.status)
	}
	if r = get(t, srv, "HEAD", "/num.txt"); r.status != 200 || r.body != "" || r.h.Get("Content-Length") != "10" {
		t.Fatalf("HEAD = %d %q %q", r.status, r.body, r.h.Get("Content-Length"))
	}
}

func TestBrowse(t *testing.T) {
	srv := server(t, Config{Root: tree(t), Browse: true})
	r := get(t, srv, "GET", "/docs/")
	if r.status != 200 || !strings.Contains(r.body, `<a href="./a.txt">a.txt</a>`) {
		t.Fatalf("listing = %d %q", r.status, r.body)
	}
}

func TestNeverEscapesRoot(t *testing.T) {
	srv := server(t, Config{Root: tree(t), Browse: true})
	for _, p := range []string{
		"/../outside/secret.txt",
		"/%2e%2e/outside/secret.txt",
		"/docs/%2E%2E/%2e%2e/outside/secret.txt",
		"/docs/..%2f..%2foutside/secret.txt",
		"/out-link",
		"/out-dir/secret.txt",
		"/out-dir/",
	} {
		r := get(t, srv, "GET", p)
		if r.status < 400 || strings.Contains(r.body, "SECRET") {
			t.Errorf("%s = %d %q: escaped the root", p, r.status, r.body)
		}
	}
	// A symlink that stays inside the root is followed.
	if r := get(t, srv, "GET", "/in-link"); r.status != 200 || !strings.HasPrefix(r.body, "console.log") {
		t.Errorf("/in-link = %d", r.status)
	}
}

func TestETagAndConditional(t *testing.T) {
	root := tree(t)
	srv := server(t, Config{Root: root})
	r := get(t, srv, "GET", "/num.txt")
	etag, lastMod := r.h.Get("Etag"), r.h.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q is not strong", etag)
	}
	if r = get(t, srv, "GET", "/num.txt", "If-None-Match", etag); r.status != 304 {
		t.Fatalf("If-None-Match = %d", r.status)
	}
	if r = get(t, srv, "GET", "/num.txt", "If-Modified-Since", lastMod); r.status != 304 {
		t.Fatalf("If-Modified-Since %q = %d", lastMod, r.status)
	}
	// Changing the file changes the ETag.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "num.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	if r = get(t, srv, "GET", "/num.txt", "If-None-Match", etag); r.status != 200 || r.h.Get("Etag") == etag {
		t.Fatalf("after touch = %d %q", r.status, r.h.Get("Etag"))
	}
}

func TestRange(t *testing.T) {
	srv := server(t, Config{Root: tree(t)})
	r := get(t, srv, "GET", "/num.txt", "Range", "bytes=2-4")
	if r.status != 206 || r.body != "234" || r.h.Get("Content-Range") != "bytes 2-4/10" {
		t.Fatalf("Range = %d %q %q", r.status, r.body, r.h.Get("Content-Range"))
	}
	etag := get(t, srv, "GET", "/num.txt").h.Get("Etag")
	if r = get(t, srv, "GET", "/num.txt", "Range", "bytes=0-0", "If-Range", etag); r.status != 206 || r.body != "0" {
		t.Fatalf("If-Range match = %d %q", r.status, r.body)
	}
	if r = get(t, srv, "GET", "/num.txt", "Range", "bytes=0-0", "If-Range", `"other"`); r.status != 200 || r.body != "0123456789" {
		t.Fatalf("If-Range mismatch = %d %q", r.status, r.body)
	}
	if r = get(t, srv, "GET", "/num.txt", "Range", "bytes=50-60"); r.status != 416 {
		t.Fatalf("unsatisfiable = %d", r.status)
	}
}

func TestPrecompressed(t *testing.T) {
	root := tree(t)
	// Same size and mtime for both variants: only the coding can tell their
	// ETags apart.
	same := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []string{"app.js.gz", "app.js.br"} {
		if err := os.Chtimes(filepath.Join(root, f), same, same); err != nil {
			t.Fatal(err)
		}
	}
	srv := server(t, Config{Root: root, Precompressed: true})
	plain := get(t, srv, "GET", "/app.js")
	cases := []struct {
		ae, enc, body string
	}{
		{"gzip, deflate, br", "br", "BR-BYTES"},
		{"gzip", "gzip", "GZ-BYTES"},
		{"br;q=0.5, gzip;q=0.8", "gzip", "GZ-BYTES"},
		{"br;q=0, gzip", "gzip", "GZ-BYTES"},
		{"*", "br", "BR-BYTES"},
		{"*, br;q=0", "gzip", "GZ-BYTES"},
		{"identity", "", plain.body},
		{"", "", plain.body},
	}
	etags := map[string]string{}
	for _, tc := range cases {
		r := get(t, srv, "GET", "/app.js", "Accept-Encoding", tc.ae)
		if r.status != 200 || r.h.Get("Content-Encoding") != tc.enc || r.body != tc.body {
			t.Errorf("AE %q = %d enc %q body %.10q", tc.ae, r.status, r.h.Get("Content-Encoding"), r.body)
		}
		if !strings.HasPrefix(r.h.Get("Content-Type"), "text/javascript") {
			t.Errorf("AE %q: Content-Type %q, want the original's", tc.ae, r.h.Get("Content-Type"))
		}
		if r.h.Get("Vary") != "Accept-Encoding" {
			t.Errorf("AE %q: Vary %q", tc.ae, r.h.Get("Vary"))
		}
		if prev, ok := etags[r.h.Get("Etag")]; ok && prev != tc.enc {
			t.Errorf("ETag %q shared by %q and %q", r.h.Get("Etag"), prev, tc.enc)
		}
		etags[r.h.Get("Etag")] = tc.enc
	}
	// Only .gz exists for style.css: br-preferring clients get gzip.
	if r := get(t, srv, "GET", "/style.css", "Accept-Encoding", "br, gzip"); r.h.Get("Content-Encoding") != "gzip" || r.body != "CSS-GZ" {
		t.Errorf("style.css = %q %q", r.h.Get("Content-Encoding"), r.body)
	}
	// A variant's ETag works for conditionals and ranges apply to it.
	brTag := get(t, srv, "GET", "/app.js", "Accept-Encoding", "br").h.Get("Etag")
	if r := get(t, srv, "GET", "/app.js", "Accept-Encoding", "br", "If-None-Match", brTag); r.status != 304 {
		t.Errorf("br If-None-Match = %d", r.status)
	}
	if r := get(t, srv, "GET", "/app.js", "Accept-Encoding", "br", "Range", "bytes=0-1"); r.status != 206 || r.body != "BR" {
		t.Errorf("br Range = %d %q", r.status, r.body)
	}
}

func TestPrecompressedOffByDefault(t *testing.T) {
	srv := server(t, Config{Root: tree(t)})
	r := get(t, srv, "GET", "/app.js", "Accept-Encoding", "br, gzip")
	if r.h.Get("Content-Encoding") != "" || r.h.Get("Vary") != "" {
		t.Fatalf("precompressed served although disabled: %v", r.h)
	}
}

// A real gzip variant decodes to the original through a normal client.
func TestPrecompressedRealGzip(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, "real content")
	zw.Close()
	os.WriteFile(filepath.Join(root, "r.txt"), []byte("real content"), 0o644)
	os.WriteFile(filepath.Join(root, "r.txt.gz"), buf.Bytes(), 0o644)
	srv := server(t, Config{Root: root, Precompressed: true})
	res, err := http.Get(srv.URL + "/r.txt") // the default transport asks for gzip and decodes
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if string(b) != "real content" || !res.Uncompressed {
		t.Fatalf("body %q uncompressed=%v", b, res.Uncompressed)
	}
}

func TestPreferredEncodings(t *testing.T) {
	cases := map[string]string{
		"":                  "",
		"gzip":              "gzip",
		"br":                "br",
		"gzip, br":          "br,gzip",
		"GZIP;q=1, BR;q=1":  "br,gzip",
		"br;q=0.1, gzip":    "gzip,br",
		"gzip;q=0":          "",
		"gzip;q=abc":        "",
		"*;q=0.5, gzip;q=0": "br",
		"deflate":           "",
	}
	for in, want := range cases {
		if got := strings.Join(preferredEncodings(in), ","); got != want {
			t.Errorf("preferredEncodings(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNoEscape throws arbitrary decoded paths at the handler: whatever the
// status, the file next to the root must never be served.
func FuzzNoEscape(f *testing.F) {
	root := tree(f)
	h, err := New(Config{Root: root, Browse: true, Precompressed: true})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	for _, s := range []string{"/../outside/secret.txt", "/out-link", "/out-dir/secret.txt", "/./../outside", "//..//outside/secret.txt", "/docs/../../outside/secret.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		req.Header.Set("Accept-Encoding", "br, gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "SECRET") || strings.Contains(rec.Body.String(), "secret.txt") {
			t.Fatalf("%q escaped the root: %d %q", p, rec.Code, rec.Body.String())
		}
	})
}

// Behind http.StripPrefix the redirect must be relative to what the client
// asked for: "/assets" -> "assets/" (resolves to /assets/), and "/assets/"
// is served, although both reach the handler as "".
func TestRedirectBehindStripPrefix(t *testing.T) {
	h, err := New(Config{Root: tree(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(http.StripPrefix("/assets/", h))
	defer srv.Close()
	srv2 := httptest.NewServer(http.StripPrefix("/assets", h))
	defer srv2.Close()
	if r := get(t, srv, "GET", "/assets/"); r.status != 200 || r.body != "<h1>home</h1>" {
		t.Fatalf("/assets/ = %d %q", r.status, r.body)
	}
	if r := get(t, srv2, "GET", "/assets"); r.status != 301 || r.h.Get("Location") != "assets/" {
		t.Fatalf("/assets = %d Location %q", r.status, r.h.Get("Location"))
	}
	if r := get(t, srv2, "GET", "/assets/sub"); r.status != 301 || r.h.Get("Location") != "sub/" {
		t.Fatalf("/assets/sub = %d Location %q", r.status, r.h.Get("Location"))
	}
}

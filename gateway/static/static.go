// Package static serves files from a directory for static-file routes.
//
//	h, err := static.New(static.Config{Root: "/srv/www", Precompressed: true})
//	if err != nil { ... }
//	defer h.Close()
//	mux.Handle("/assets/", http.StripPrefix("/assets", h))
//
// The handler maps r.URL.Path (already decoded, so %2e%2e arrives as "..")
// onto Root. Any path with a ".." segment is refused with 400, and every
// file access goes through an os.Root, so no path, symlink or race can reach
// outside Root: symlinks are followed only while they stay inside it
// (absolute symlinks are refused by os.Root even when they point inside).
// Root is opened once in New; a deploy that swaps Root (or a symlink to it)
// needs a new Handler.
//
// Responses go through http.ServeContent, so Range, If-Range,
// If-Modified-Since, If-None-Match and HEAD work as in net/http; each file
// gets a strong ETag derived from its size and modification time (cheap: no
// hashing of file contents on the request path).
//
// With Precompressed, a request for FILE whose Accept-Encoding allows br
// (preferred) or gzip is answered with FILE.br or FILE.gz when that exists,
// with Content-Encoding, the original's Content-Type and a distinct ETag.
// All file responses then carry Vary: Accept-Encoding, whether or not a
// variant exists, so a shared cache never serves a compressed body to a
// client that did not ask for one.
package static

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/negotiate"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config describes one static route; it is the route's static block of
// the gateway's file, so the comments on its fields are that reference's
// text. Root must exist when New opens it; nil Index means [index.html].
type Config struct {
	Root          string   `yaml:"root"`          // required; relative to this file
	Index         []string `yaml:"index"`         // default [index.html]
	Precompressed bool     `yaml:"precompressed"` // serve FILE.br / FILE.gz when the client accepts them
	Browse        bool     `yaml:"browse"`        // list directories without an index file; default false
}

// Validate reports the problems of c by key relative to the block.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if c.Root == "" {
		v.Add("root", "required")
	}
	for i, ix := range c.Index {
		if ix == "" || strings.ContainsAny(ix, `/\`) || ix == "." || ix == ".." {
			v.Add(fmt.Sprintf("index[%d]", i), "%q must be a plain file name", ix)
		}
	}
	return v.Errs
}

// Handler serves files under Config.Root. It is safe for concurrent use.
type Handler struct {
	cfg  Config
	root *os.Root
}

// New opens cfg.Root. It fails if Root is missing or not a directory.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate().Err(); err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if cfg.Index == nil {
		cfg.Index = []string{"index.html"}
	}
	fi, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: root %q: %w", cfg.Root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static: root %q is not a directory", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: root %q: %w", cfg.Root, err)
	}
	return &Handler{cfg: cfg, root: root}, nil
}

// Close releases the root directory.
func (h *Handler) Close() error { return h.root.Close() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if hasDotDot(p) || strings.IndexByte(p, 0) >= 0 {
		http.Error(w, "invalid path", http.StatusBadRequest)
		return
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "."
	}
	fi, err := h.root.Stat(name)
	if err != nil {
		serveError(w, err)
		return
	}
	if fi.IsDir() {
		if orig := requestPath(r); !strings.HasSuffix(orig, "/") {
			redirectSlash(w, r, orig)
			return
		}
		h.serveDir(w, r, name)
		return
	}
	if strings.HasSuffix(p, "/") {
		http.NotFound(w, r) // a file named like a directory
		return
	}
	h.serveFile(w, r, name)
}

// hasDotDot reports a ".." path segment; path.Clean would silently resolve
// it, but a request that tries to climb is refused outright, as net/http's
// FileServer does.
func hasDotDot(p string) bool {
	if !strings.Contains(p, "..") {
		return false
	}
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}

// requestPath is the path the client asked for, before any http.StripPrefix
// (which leaves "" for a request naming the prefix itself).
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

// redirectSlash sends a relative 301 to the slash form of the client's path
// orig, so it stays correct behind http.StripPrefix.
func redirectSlash(w http.ResponseWriter, r *http.Request, orig string) {
	target := (&url.URL{Path: path.Base(orig) + "/"}).EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusMovedPermanently)
}

func (h *Handler) serveDir(w http.ResponseWriter, r *http.Request, dir string) {
	for _, ix := range h.cfg.Index {
		name := path.Join(dir, ix)
		if fi, err := h.root.Stat(name); err == nil && fi.Mode().IsRegular() {
			h.serveFile(w, r, name)
			return
		}
	}
	if !h.cfg.Browse {
		http.NotFound(w, r)
		return
	}
	h.browse(w, r, dir)
}

// serveFile serves name or, if allowed and present, its precompressed
// variant.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if h.cfg.Precompressed {
		w.Header().Add("Vary", "Accept-Encoding")
		for _, enc := range preferredEncodings(r.Header.Get("Accept-Encoding")) {
			if h.tryServe(w, r, name+variantExt[enc], ctype, enc) {
				return
			}
		}
	}
	if !h.tryServe(w, r, name, ctype, "") {
		http.NotFound(w, r)
	}
}

var variantExt = map[string]string{"br": ".br", "gzip": ".gz"}

// tryServe serves the regular file name; it reports false (having written
// nothing) if the file cannot be opened or is not a regular file.
func (h *Handler) tryServe(w http.ResponseWriter, r *http.Request, name, ctype, enc string) bool {
	f, err := h.root.Open(name)
	if err != nil {
		if enc == "" && !errors.Is(err, fs.ErrNotExist) {
			serveError(w, err)
			return true
		}
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	hdr := w.Header()
	if ctype != "" {
		hdr.Set("Content-Type", ctype)
	} else if enc != "" {
		// Without a known type ServeContent would sniff the compressed
		// bytes; the identity type is unknown too, so say so plainly.
		hdr.Set("Content-Type", "application/octet-stream")
	}
	etag := `"` + strconv.FormatInt(fi.Size(), 36) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36)
	if enc != "" {
		hdr.Set("Content-Encoding", enc)
		etag += "-" + enc
	}
	hdr.Set("Etag", etag+`"`)
	http.ServeContent(w, r, name, fi.ModTime(), f)
	return true
}

// preferredEncodings returns the precompressed codings the client accepts,
// best first: by q-value, br before gzip on ties. "*" covers codings not
// named; q=0 refuses.
func preferredEncodings(ae string) []string {
	if ae == "" {
		return nil
	}
	qBr, qGz := negotiate.EncodingQ(ae, "br"), negotiate.EncodingQ(ae, "gzip", "x-gzip")
	switch {
	case qBr > 0 && qBr >= qGz:
		if qGz > 0 {
			return []string{"br", "gzip"}
		}
		return []string{"br"}
	case qGz > 0 && qBr > 0:
		return []string{"gzip", "br"}
	case qGz > 0:
		return []string{"gzip"}
	}
	return nil
}

// serveError maps file-system errors without revealing the layout: a path
// outside the root looks the same as a missing one.
func serveError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fs.ErrPermission):
		http.Error(w, "forbidden", http.StatusForbidden)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// browse writes a minimal HTML listing of dir.
func (h *Handler) browse(w http.ResponseWriter, r *http.Request, dir string) {
	d, err := h.root.Open(dir)
	if err != nil {
		serveError(w, err)
		return
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		serveError(w, err)
		return
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n")
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		u := url.URL{Path: n}
		// "./" keeps names like "a:b" from being read as a URL scheme.
		fmt.Fprintf(&b, "<a href=\"./%s\">%s</a>\n", html.EscapeString(u.String()), html.EscapeString(n))
	}
	b.WriteString("</pre>\n")
	w.Write([]byte(b.String())) //nolint:errcheck
}

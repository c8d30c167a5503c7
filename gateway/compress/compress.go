// Package compress gzips proxied responses on the fly.
//
//	h := compress.Middleware(compress.Config{}, proxy)
//
// A response is gzipped only when all of these hold:
//   - the request is not HEAD and its Accept-Encoding allows gzip (q > 0,
//     directly or through "*");
//   - the response has no Content-Encoding, no "Cache-Control: no-transform",
//     a status that carries a body and is not 206 (a byte range of the
//     identity body must not be re-encoded);
//   - its Content-Type (sniffed like net/http when absent) matches Types;
//   - its body is at least MinBytes: Content-Length is used when present,
//     otherwise the first MinBytes are buffered before deciding. A Flush
//     before that decides at once (streams are compressed, never delayed).
//
// When compressing it drops Content-Length and Accept-Ranges and weakens a
// strong ETag (W/), since the bytes differ from the identity representation.
// Vary: Accept-Encoding is added to every response whose type and status make
// it eligible, compressed or not, so shared caches keep the variants apart.
// Flush propagates through the gzip writer. Writers are pooled per
// Middleware.
package compress

import (
	"compress/gzip"
	"math"
	"net/http"
	"strings"
	"sync"

	"github.com/drawbridge-dev/drawbridge/gateway/internal/negotiate"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config selects what is compressed; it is a route's compress block of
// the gateway's file, so the comments on its fields are that reference's
// text. The zero Config is usable: level 0 is gzip's default (gzip's own 0,
// "store", is never useful here), MinBytes 0 means 1024 and nil Types the
// default list. Level has one range, the one compress/gzip accepts,
// checked by Validate alone, so the loader and New agree on it.
type Config struct {
	Level    int      `yaml:"level"`     // gzip level -2..9: 1 fastest .. 9 smallest, -2 Huffman only; 0 or -1 gzip's default (6); default 0
	MinBytes int      `yaml:"min_bytes"` // smaller responses are sent as is; default 1024
	Types    []string `yaml:"types"`     // media types (text/* allowed); default text/*, JSON, JavaScript, XML, SVG
}

// defaultTypes is used when Config.Types is nil.
var defaultTypes = []string{"text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml"}

// Validate reports the problems of c by key relative to the block.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	v.Between("level", c.Level, gzip.HuffmanOnly, gzip.BestCompression)
	v.Between("min_bytes", c.MinBytes, 0, math.MaxInt32)
	return v.Errs
}

// Compressor gzips responses; one serves a route, concurrently.
type Compressor struct {
	minBytes int
	exact    map[string]bool // "application/json"
	prefixes []string        // "text/"
	gzPool   sync.Pool
	wPool    sync.Pool
}

// Middleware returns next wrapped with gzip compression. An invalid Level
// falls back to the default level (check Config.Validate when loading
// configuration).
func Middleware(cfg Config, next http.Handler) http.Handler {
	c := New(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Serve(w, r, next.ServeHTTP)
	})
}

// New returns a Compressor for cfg. An invalid Level falls back to the
// default level (check Config.Validate when loading configuration).
func New(cfg Config) *Compressor {
	if cfg.Level == 0 || cfg.Validate() != nil { // invalid: see Validate
		cfg.Level = gzip.DefaultCompression
	}
	if cfg.MinBytes <= 0 {
		cfg.MinBytes = 1024
	}
	if cfg.Types == nil {
		cfg.Types = defaultTypes
	}
	c := &Compressor{minBytes: cfg.MinBytes, exact: make(map[string]bool)}
	for _, t := range cfg.Types {
		t = strings.ToLower(strings.TrimSpace(t))
		if p, ok := strings.CutSuffix(t, "/*"); ok {
			c.prefixes = append(c.prefixes, p+"/")
		} else {
			c.exact[t] = true
		}
	}
	level := cfg.Level
	c.gzPool.New = func() any {
		zw, _ := gzip.NewWriterLevel(nil, level) // level validated above
		return zw
	}
	c.wPool.New = func() any { return new(writer) }
	return c
}

// Serve calls next with a writer that compresses what it is given, when
// the client accepts gzip and the response qualifies.
func (c *Compressor) Serve(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if r.Method == http.MethodHead {
		next(w, r)
		return
	}
	cw := c.wPool.Get().(*writer)
	*cw = writer{c: c, w: w, accepts: acceptsGzip(r.Header.Get("Accept-Encoding")), buf: cw.buf[:0]}
	defer func() {
		cw.finish()
		*cw = writer{buf: cw.buf[:0]}
		if cap(cw.buf) <= 64<<10 {
			c.wPool.Put(cw)
		}
	}()
	next(cw, r)
}

// compressible reports whether a Content-Type value is in the configured set.
func (c *Compressor) compressible(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if c.exact[mt] {
		return true
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip.
func acceptsGzip(ae string) bool { return negotiate.EncodingQ(ae, "gzip", "x-gzip") > 0 }

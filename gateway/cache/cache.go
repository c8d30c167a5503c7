// Package cache is the gateway's shared HTTP response cache (RFC 9111 basics).
//
// A Cache sits in front of a "next" handler that forwards to a backend:
//
//	c := cache.New(cache.Config{MaxBytes: 256 << 20}, clock.Real{})
//	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		c.Serve(w, r, proxy.ServeHTTP)
//	})
//
// What it does, and why:
//   - Only GET and HEAD are answered from the cache. A HEAD is served from a
//     stored GET response; a HEAD miss is forwarded and not stored (it has no
//     body to store). Requests with Range, Upgrade or "Cache-Control: no-store"
//     bypass the cache. Other request Cache-Control directives (no-cache,
//     max-age=0, Pragma) are ignored, as nginx and Varnish do by default, so a
//     client cannot force load onto the origin.
//   - Unsafe methods (POST, PUT, DELETE, PATCH) that succeed invalidate every
//     stored variant of their URI (RFC 9111 §4.4).
//   - Freshness: s-maxage, then max-age, then Expires - Date; otherwise
//     Config.DefaultTTL (0: nothing without explicit freshness is fresh).
//     Age and Date are honoured when computing the current age.
//   - Never stored: no-store, private (also private="field"), Set-Cookie
//     responses (a shared cache must not hand one client's session to
//     others), Vary: *, status codes outside the heuristically cacheable set
//     (200 203 204 300 301 308 404 405 410 414 501), responses with
//     trailers (a hit could not replay them), truncated bodies, and bodies
//     over MaxObjectBytes.
//   - Authenticated requests (RFC 9111 §3.5): a response to a request that
//     carried Authorization, or that the caller says was authenticated
//     (Requester.Authenticated: a gateway may have removed the credentials
//     before the cache sees the request, or they were an API key in another
//     header), is stored only when it says so explicitly with public,
//     s-maxage or must-revalidate, or when the cache is keyed by identity
//     (Config.KeyByIdentity) and the request has a Subject. A request with
//     Cookie is treated the same way (a backend session the cache cannot
//     see), except that a response whose Vary names Cookie is keyed by it
//     and may be stored. This is stricter than RFC 9111 and nginx for
//     cookies and matches Varnish's default.
//   - Unkeyed request headers that frameworks use to rewrite a request or
//     build absolute URLs (X-Original-URL, X-Rewrite-URL, X-Forwarded-Scheme,
//     X-HTTP-Method-Override, a client-sent Forwarded, ...; see
//     unkeyedHeaders) would let one client poison the entry every other
//     client gets: a response to a request carrying one is forwarded but not
//     stored unless its Vary names that header. X-Forwarded-Host and
//     X-Forwarded-Proto need no such rule: the gateway sets them from the
//     Host (part of the key) and the connection.
//   - A response with no freshness but a validator (ETag/Last-Modified), or
//     with no-cache, is stored and revalidated on every use: the backend is
//     asked with If-None-Match/If-Modified-Since and a 304 refreshes the
//     entry and serves the stored body (X-Cache: REVALIDATED).
//   - Stale entries are never served without successful revalidation (no
//     stale-while-revalidate / stale-if-error yet).
//   - The key is Host + request URI (scheme is not part of it). Vary: the
//     values of the request headers the response names are part of the key
//     (byte-exact after joining repeated lines with ","). Other request
//     headers only matter if the backend names them in Vary. With
//     Config.KeyByIdentity the Requester's Subject is part of the key too,
//     so an entry is only ever served to the subject it was stored for.
//   - Conditional client requests get a 304 from fresh entries. On a miss
//     the client's If-None-Match/If-Modified-Since are not forwarded (so the
//     full response can be stored); the cache answers them itself.
//   - Concurrent misses for one key are coalesced: one request goes to the
//     backend, streaming to its own client while the body is teed into the
//     cache; the others wait and are served the stored entry, or, if it
//     turned out uncacheable, each goes to the backend itself.
//   - Memory is bounded: entries (body + headers + key) are accounted in
//     bytes and evicted least-recently-used first. The cache is split into
//     up to 16 shards by key hash, each with its own lock and LRU over an
//     equal share of MaxBytes, so concurrent hits do not serialise on one
//     lock; eviction order is therefore LRU within a shard. Copies held by
//     in-progress misses share a further MaxBytes budget.
//
// Every response carries X-Cache: HIT, MISS, REVALIDATED or BYPASS; hits
// carry Age.
package cache

import (
	"container/list"
	"encoding/binary"
	"hash/maphash"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config bounds the cache; it is a route's cache block of the gateway's
// file, so the comments on its fields are that reference's text.
//
// MaxBytes bounds the cache's memory (bodies + headers + keys); 0 means
// 64 MiB. MaxObjectBytes also sets the sharding: MaxBytes/MaxObjectBytes
// shards, at most 16, so a value near MaxBytes means one lock; 0 means
// MaxBytes/10. The copies kept by in-progress misses are bounded by
// MaxBytes in total too: past that, responses stream through uncached, so
// worst case memory is about 2*MaxBytes. With DefaultTTL 0 a response
// without max-age, s-maxage or Expires is stored only if it carries a
// validator, and is then revalidated on every use. KeyByIdentity keys by
// Requester.Subject, as Kong's proxy-cache does with consumers: each
// subject gets its own entries, and responses to authenticated requests
// may be stored without public or s-maxage.
type Config struct {
	MaxBytes       int64         `yaml:"max_bytes"`        // default 64 MiB
	MaxObjectBytes int64         `yaml:"max_object_bytes"` // larger responses pass through uncached; default max_bytes/10
	DefaultTTL     time.Duration `yaml:"default_ttl"`      // freshness for responses without explicit freshness; default 0 (not cached)
	KeyByIdentity  bool          `yaml:"key_by_identity"`  // the authenticated subject is part of the key; needs auth; default false
}

// DefaultMaxBytes is max_bytes when it is not written.
const DefaultMaxBytes = 64 << 20

func (c *Config) SetDefaults() { c.MaxBytes = DefaultMaxBytes }

// Validate reports the problems of c by key relative to the block. That
// key_by_identity needs auth on the route is the route's to check.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if c.MaxBytes < 1024 {
		v.Add("max_bytes", "must be at least 1024, got %d", c.MaxBytes)
	}
	if c.MaxObjectBytes < 0 || c.MaxObjectBytes > c.MaxBytes {
		v.Add("max_object_bytes", "must be between 0 and max_bytes (%d)", c.MaxBytes)
	}
	v.NonNegative("default_ttl", c.DefaultTTL)
	return v.Errs
}

// Requester is what the cache must know about who sent a request when the
// request no longer shows it: the gateway authenticates, and may strip the
// credentials, before the cache sees the request.
type Requester struct {
	// Authenticated is true when the client presented credentials that
	// were checked, wherever they were (Authorization, an API-key header).
	Authenticated bool
	// Subject is the authenticated identity. It is part of the key when
	// Config.KeyByIdentity is set.
	Subject string
}

// Stats is a snapshot of the cache's counters.
type Stats struct {
	Entries     int   // stored responses
	Bytes       int64 // accounted size of stored responses
	Hits        int64 // served from a fresh entry
	Misses      int64 // forwarded to the backend (including coalesced leaders)
	Revalidated int64 // stale entries refreshed by a 304
	Bypassed    int64 // requests the cache did not consider
	Coalesced   int64 // requests that waited for another request's fetch
	Evictions   int64 // entries dropped to stay under MaxBytes
}

// Cache is a shared, in-memory HTTP cache. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	clk    clock.Clock
	seed   maphash.Seed
	shards []shard

	hits, misses, revalidated, bypassed, coalesced, evictions atomic.Int64

	// teeBytes is the memory held by copies of in-progress fetches; it is
	// kept within MaxBytes (on top of the stored entries).
	teeBytes atomic.Int64
}

// New returns an empty cache using clk for all time.
func New(cfg Config, clk clock.Clock) *Cache {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxObjectBytes <= 0 || cfg.MaxObjectBytes > cfg.MaxBytes {
		cfg.MaxObjectBytes = cfg.MaxBytes / 10
	}
	n := min(max(cfg.MaxBytes/cfg.MaxObjectBytes, 1), 16)
	c := &Cache{cfg: cfg, clk: clk, seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range c.shards {
		c.shards[i] = shard{
			max:       cfg.MaxBytes / n,
			prims:     make(map[string]*primary),
			lru:       list.New(),
			flights:   make(map[string]*flight),
			evictions: &c.evictions,
		}
	}
	return c
}

func (c *Cache) shardOf(primary []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, primary)%uint64(len(c.shards))]
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	var n int
	var b int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n, b = n+s.lru.Len(), b+s.bytes
		s.mu.Unlock()
	}
	return Stats{
		Entries: n, Bytes: b,
		Hits: c.hits.Load(), Misses: c.misses.Load(), Revalidated: c.revalidated.Load(),
		Bypassed: c.bypassed.Load(), Coalesced: c.coalesced.Load(), Evictions: c.evictions.Load(),
	}
}

var (
	valHit         = []string{"HIT"}
	valMiss        = []string{"MISS"}
	valRevalidated = []string{"REVALIDATED"}
	valBypass      = []string{"BYPASS"}
)

// Serve answers r from the cache or by calling next, which must forward r to
// a backend and write the response to the ResponseWriter it is given. See
// the package documentation for the rules.
//
// next must make a failed response recognisable, or it could be stored: a
// body shorter than its Content-Length is never stored, and a panic in next
// (httputil.ReverseProxy panics with http.ErrAbortHandler when a body copy
// fails) stores nothing, releases coalesced waiters and is re-raised.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	c.ServeAs(w, r, next, Requester{})
}

// ServeAs is Serve for a request whose sender the caller has established
// (see Requester); what r itself shows (Authorization, Cookie) counts too.
func (c *Cache) ServeAs(w http.ResponseWriter, r *http.Request, next http.HandlerFunc, who Requester) {
	if ctx, span := telemetry.Child(r.Context(), "cache"); span.IsRecording() {
		// The tries of a miss are the cache span's children.
		defer traceResult(span, w.Header())
		r = r.WithContext(ctx)
	}
	if !c.cfg.KeyByIdentity {
		who.Subject = "" // not part of the key
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.serveUnsafe(w, r, next)
		return
	}
	if bypass(r) {
		c.bypassed.Add(1)
		w.Header()["X-Cache"] = valBypass
		next(w, r)
		return
	}
	var arr [256]byte
	buf := appendPrimary(arr[:0], r)
	s := c.shardOf(buf)
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		e, key := s.lookupLocked(r, buf, who.Subject)
		now := c.clk.Now()
		if e != nil && e.fresh(now) {
			s.lru.MoveToFront(s.elementLocked(e))
			s.mu.Unlock()
			c.hits.Add(1)
			c.serveEntry(w, r, e, now, valHit)
			return
		}
		if r.Method == http.MethodHead {
			s.mu.Unlock()
			c.misses.Add(1)
			w.Header()["X-Cache"] = valMiss
			next(w, r)
			return
		}
		f := s.flights[string(key)]
		if f != nil && attempt == 0 {
			s.mu.Unlock()
			c.coalesced.Add(1)
			select {
			case <-f.done:
				continue // look again: the leader may have stored it
			case <-r.Context().Done():
				return // client gone
			}
		}
		var k string
		if f == nil {
			k = string(key)
			f = &flight{done: make(chan struct{})}
			s.flights[k] = f
		} else {
			f = nil // second attempt and someone else leads: fetch alone
		}
		s.mu.Unlock()
		c.fetch(w, r, next, s, e, k, f, who)
		return
	}
}

// bypass reports requests the cache must not answer or store.
func bypass(r *http.Request) bool {
	if r.Header.Get("Range") != "" || r.Header.Get("Upgrade") != "" {
		return true
	}
	return parseCacheControl(r.Header["Cache-Control"]).noStore
}

// appendPrimary appends the primary key (host, NUL, request URI) to b.
func appendPrimary(b []byte, r *http.Request) []byte {
	b = append(b, r.Host...)
	b = append(b, 0)
	if r.URL.RawPath != "" {
		b = append(b, r.URL.RawPath...)
	} else {
		b = append(b, r.URL.Path...)
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		b = append(b, '?')
		b = append(b, r.URL.RawQuery...)
	}
	return b
}

// appendVariant appends the secondary key: the subject when the cache is
// keyed by identity, then the Vary values. The subject is marked and length
// prefixed, so no subject (a JWT "sub" may hold any byte) can spell another
// subject's key or an unkeyed one (which starts with NUL or is empty).
func appendVariant(b []byte, r *http.Request, subject string, vary []string) []byte {
	if subject != "" {
		b = append(b, 's')
		b = binary.AppendUvarint(b, uint64(len(subject)))
		b = append(b, subject...)
	}
	return appendVary(b, r, vary)
}

// appendVary appends the request's values of the named headers.
func appendVary(b []byte, r *http.Request, names []string) []byte {
	for _, n := range names {
		b = append(b, 0)
		for i, v := range r.Header[n] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
	}
	return b
}

// fresh reports whether e may be served without revalidation at now.
func (e *entry) fresh(now time.Time) bool {
	return !e.noCache && e.lifetime > e.age(now)
}

func (e *entry) age(now time.Time) time.Duration {
	return e.initialAge + now.Sub(e.responseTime)
}

// serveEntry writes e (or a 304 if the client's conditional matches).
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, e *entry, now time.Time, xcache []string) {
	h := w.Header()
	age := strconv.FormatInt(int64(e.age(now)/time.Second), 10)
	if e.status == http.StatusOK && notModified(r.Header, e.etag, e.lastMod) {
		for _, k := range notModifiedHeaders {
			if v, ok := e.header[k]; ok {
				h[k] = v
			}
		}
		h["Age"] = []string{age}
		h["X-Cache"] = xcache
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, v := range e.header {
		h[k] = v
	}
	h["Age"] = []string{age}
	h["X-Cache"] = xcache
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		w.Write(e.body) //nolint:errcheck // the client went away; nothing to do
	}
}

// notModifiedHeaders are the fields RFC 9110 §15.4.5 has a 304 carry.
var notModifiedHeaders = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary"}

// serveUnsafe forwards a non-GET/HEAD request and invalidates the URI's
// stored variants if it succeeded.
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	c.bypassed.Add(1)
	w.Header()["X-Cache"] = valBypass
	sw := &statusWriter{ResponseWriter: w}
	next(sw, r)
	if r.Method == http.MethodOptions || r.Method == http.MethodTrace || sw.status >= 400 {
		return
	}
	b := appendPrimary(make([]byte, 0, 128), r)
	s := c.shardOf(b)
	s.mu.Lock()
	if p := s.prims[string(b)]; p != nil {
		for _, el := range p.variants {
			s.removeLocked(el)
		}
	}
	s.mu.Unlock()
}

// statusWriter records the status code for invalidation decisions.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() { http.NewResponseController(s.ResponseWriter).Flush() } //nolint:errcheck

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

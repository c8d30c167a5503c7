package cache

import (
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fetch forwards r to next through a tee that streams the response to w and
// keeps a copy for the cache. s is the shard of r's key; stale, if non-nil,
// is an entry to revalidate. f, if non-nil, is the flight this request
// leads; it is completed even if next panics (as httputil.ReverseProxy does
// on aborted copies), so that waiters never hang.
func (c *Cache) fetch(w http.ResponseWriter, r *http.Request, next http.HandlerFunc, s *shard, stale *entry, key string, f *flight, who Requester) {
	if f != nil {
		defer func() {
			s.mu.Lock()
			delete(s.flights, key)
			s.mu.Unlock()
			close(f.done)
		}()
	}
	if stale != nil && stale.etag == "" && stale.lastMod == "" {
		stale = nil // nothing to revalidate with: a plain miss
	}
	clientCond := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
	req := r
	if clientCond || stale != nil {
		// Ask the backend for a full response (or a 304 against our own
		// validators), so what we get is storable; the client's conditional
		// is answered by us.
		req = new(http.Request)
		*req = *r
		req.Header = r.Header.Clone()
		req.Header.Del("If-None-Match")
		req.Header.Del("If-Modified-Since")
		if stale != nil {
			if stale.etag != "" {
				req.Header.Set("If-None-Match", stale.etag)
			}
			if stale.lastMod != "" {
				req.Header.Set("If-Modified-Since", stale.lastMod)
			}
		}
	}
	t := &tee{
		c: c, w: w, r: r, who: who,
		hdr:          make(http.Header),
		revalidating: stale != nil,
		clientCond:   clientCond,
		reqTime:      c.clk.Now(),
	}
	defer t.release()
	next(t, req)
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK) // what net/http sends for an empty handler
	}
	t.copyTrailers()
	now := c.clk.Now()
	if t.suppressed { // 304 to our revalidation
		e, vary, ok := c.makeEntry(r, who, stale.status, stale.header, t.hdr, stale.body, t.reqTime, now)
		s.mu.Lock()
		if ok {
			s.storeLocked(e, vary)
		} else {
			// The refreshed headers forbid storing (e.g. now private): this
			// one use is still valid (the backend just said so), then drop.
			s.dropLocked(stale)
		}
		s.mu.Unlock()
		c.revalidated.Add(1)
		c.serveEntry(w, r, e, now, valRevalidated)
		return
	}
	c.misses.Add(1)
	stored := false
	defer func() {
		if !stored && stale != nil {
			// The backend replaced the stale entry with something we may
			// not store: the old copy must not be revalidated again.
			s.mu.Lock()
			s.dropLocked(stale)
			s.mu.Unlock()
		}
	}()
	if !t.store {
		return
	}
	if cl := t.hdr.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(t.body)) {
		return // truncated: the backend or the copy failed mid-body
	}
	body := t.body
	if cap(body)-len(body) > len(body)/8 {
		body = slices.Clone(body) // do not keep growth slack for the entry's life
	}
	e, vary, ok := c.makeEntry(r, who, t.status, nil, t.hdr, body, t.reqTime, now)
	if !ok {
		return
	}
	s.mu.Lock()
	s.storeLocked(e, vary)
	s.mu.Unlock()
	stored = true
}

// skipStored lists fields never stored: hop-by-hop fields (RFC 9110 §7.6.1),
// Age (recomputed on every hit) and our own X-Cache.
var skipStored = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Age": true, "X-Cache": true,
}

// makeEntry builds an entry from a backend response (resp over base, base
// being the stored headers when refreshing after a 304) and reports whether
// a shared cache may store it.
func (c *Cache) makeEntry(r *http.Request, who Requester, status int, base, resp http.Header, body []byte, reqTime, now time.Time) (*entry, []string, bool) {
	h := make(http.Header, len(base)+len(resp))
	for k, v := range base {
		h[k] = v
	}
	for k, v := range resp {
		if skipStored[k] || (base != nil && k == "Content-Length") {
			continue
		}
		h[k] = slices.Clip(slices.Clone(v))
	}
	for _, line := range resp["Connection"] {
		for _, name := range strings.Split(line, ",") {
			delete(h, textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)))
		}
	}
	if base == nil {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	date, err := http.ParseTime(resp.Get("Date"))
	if err != nil {
		date = now
		h["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}

	d := parseCacheControl(h["Cache-Control"])
	e := &entry{
		status: status, header: h, body: body,
		etag: h.Get("Etag"), lastMod: h.Get("Last-Modified"),
		responseTime: now,
		noCache:      d.noCache,
	}
	// Corrected initial age, RFC 9111 §4.2.3.
	apparent := max(0, now.Sub(date))
	ageValue := time.Duration(mergeDelta(-1, resp.Get("Age"), true)) * time.Second
	e.initialAge = max(apparent, ageValue+now.Sub(reqTime))
	e.lifetime, _ = freshness(h, d, date, c.cfg.DefaultTTL)

	vary, varyOK := varyNames(h["Vary"])
	switch {
	case !heuristicStatus(status), d.noStore, d.private, !varyOK,
		h["Set-Cookie"] != nil, resp["Trailer"] != nil,
		!sharable(r, who, d, vary),
		e.lifetime <= 0 && e.etag == "" && e.lastMod == "":
		return e, nil, false
	}
	e.prim = string(appendPrimary(nil, r))
	e.vkey = string(appendVariant(nil, r, who.Subject, vary))
	e.size = int64(len(body) + len(e.prim) + len(e.vkey) + entryOverhead)
	for k, v := range h {
		e.size += int64(len(k))
		for _, s := range v {
			e.size += int64(len(s)) + 16
		}
	}
	return e, vary, true
}

// sharable reports whether a response to r may be stored for others to
// reuse, as far as who sent r is concerned (RFC 9111 §3.5, and the Cookie
// and unkeyed-header rules of the package doc). vary holds the canonical
// names the response varies on. who.Subject is set only when the cache is
// keyed by identity.
func sharable(r *http.Request, who Requester, d directives, vary []string) bool {
	for _, name := range unkeyedHeaders {
		if _, ok := r.Header[name]; ok && !slices.Contains(vary, name) {
			return false
		}
	}
	if who.Subject != "" || d.public || d.sMaxAge >= 0 || d.mustRevalidate {
		return true // keyed to this subject, or explicitly shareable
	}
	if _, auth := r.Header["Authorization"]; auth || who.Authenticated {
		return false
	}
	if _, cookie := r.Header["Cookie"]; cookie {
		return slices.Contains(vary, "Cookie")
	}
	return true
}

// unkeyedHeaders are request headers, not part of the key, that common
// frameworks honour to rewrite the request or to build absolute URLs, the
// classic cache-poisoning vectors (PortSwigger, "Practical Web Cache
// Poisoning"). Forwarded is here because the gateway keeps the client's
// elements ahead of its own; X-Forwarded-Host/-Proto are not, because the
// gateway replaces them with values derived from the key.
var unkeyedHeaders = []string{
	"Forwarded",
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Host", "X-Host",
	"X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Prefix", "X-Forwarded-Path",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
}

// entryOverhead approximates the fixed memory of an entry (structs, list
// element, map slots) so that many tiny entries are still bounded.
const entryOverhead = 256

// varyNames returns the canonical header names of Vary, or false for "*".
func varyNames(lines []string) ([]string, bool) {
	var names []string
	for _, line := range lines {
		for _, n := range strings.Split(line, ",") {
			n = strings.TrimSpace(n)
			switch n {
			case "":
			case "*":
				return nil, false
			default:
				names = append(names, textproto.CanonicalMIMEHeaderKey(n))
			}
		}
	}
	return names, true
}

// tee is the ResponseWriter given to next. It streams the response to the
// client as it arrives and keeps a copy of the body while it stays storable
// and under MaxObjectBytes.
type tee struct {
	c   *Cache
	w   http.ResponseWriter
	r   *http.Request // the client's request
	who Requester
	hdr http.Header // the backend's response header

	reqTime      time.Time
	revalidating bool // the request carries our validators
	clientCond   bool // the client sent If-None-Match/If-Modified-Since

	wroteHeader bool
	status      int
	suppressed  bool // 304 to our revalidation: nothing goes to the client yet
	clientDone  bool // the client got a 304: the body is only teed
	store       bool
	body        []byte
	reserved    int64 // bytes of Cache.teeBytes held for body
}

func (t *tee) Header() http.Header { return t.hdr }

// Unwrap lets http.ResponseController reach the client's writer
// (deadlines, hijacking, full-duplex).
func (t *tee) Unwrap() http.ResponseWriter { return t.w }

func (t *tee) WriteHeader(code int) {
	if t.wroteHeader {
		return
	}
	if code < 200 { // 1xx informational: pass through, not final
		h := t.w.Header()
		for k, v := range t.hdr {
			h[k] = v
		}
		t.w.WriteHeader(code)
		for k := range t.hdr {
			delete(h, k)
		}
		clear(t.hdr)
		return
	}
	t.wroteHeader, t.status = true, code
	if t.revalidating && code == http.StatusNotModified {
		t.suppressed = true
		return
	}
	// Cheap early refusals, so uncacheable bodies are not copied at all;
	// makeEntry makes the full decision at the end.
	d := parseCacheControl(t.hdr["Cache-Control"])
	t.store = heuristicStatus(code) && !d.noStore && !d.private && t.hdr["Set-Cookie"] == nil
	if t.store {
		vary, ok := varyNames(t.hdr["Vary"])
		t.store = ok && sharable(t.r, t.who, d, vary)
	}
	if cl := t.hdr.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n > t.c.cfg.MaxObjectBytes {
			t.store = false
		} else if t.store {
			t.grow(int(n))
		}
	}
	h := t.w.Header()
	if code == http.StatusOK && t.clientCond && notModified(t.r.Header, t.hdr.Get("Etag"), t.hdr.Get("Last-Modified")) {
		t.clientDone = true
		for _, k := range notModifiedHeaders {
			if v, ok := t.hdr[k]; ok {
				h[k] = v
			}
		}
		h["X-Cache"] = valMiss
		t.w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, v := range t.hdr {
		h[k] = v
	}
	h["X-Cache"] = valMiss
	t.w.WriteHeader(code)
}

func (t *tee) Write(p []byte) (int, error) {
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	if t.suppressed {
		return len(p), nil
	}
	if t.store && t.grow(len(t.body)+len(p)) {
		t.body = append(t.body, p...)
	}
	if t.clientDone {
		return len(p), nil
	}
	return t.w.Write(p)
}

// Flush passes through so streamed responses reach the client promptly.
func (t *tee) Flush() {
	if t.suppressed || t.clientDone {
		return
	}
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(t.w).Flush() //nolint:errcheck // best effort, like http.Flusher
}

// copyTrailers forwards trailers, which next sets in the header map after
// the body (declared in "Trailer" or with http.TrailerPrefix), to the client.
func (t *tee) copyTrailers() {
	if t.suppressed || t.clientDone {
		return
	}
	h := t.w.Header()
	for _, line := range t.hdr["Trailer"] {
		for _, k := range strings.Split(line, ",") {
			k = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
			if v, ok := t.hdr[k]; ok {
				h[k] = v
			}
		}
	}
	for k, v := range t.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			h[k] = v
		}
	}
}

// grow makes room for need body bytes. It gives up storing (and frees the
// copy) when need exceeds MaxObjectBytes or when the copies of all
// in-progress fetches would exceed MaxBytes, so memory stays bounded however
// many misses run at once.
func (t *tee) grow(need int) bool {
	if need <= cap(t.body) {
		return true
	}
	limit := t.c.cfg.MaxObjectBytes
	if int64(need) > limit {
		t.abandon()
		return false
	}
	newCap := min(int64(max(need, 2*cap(t.body), 512)), limit)
	delta := newCap - int64(cap(t.body))
	if t.c.teeBytes.Add(delta) > t.c.cfg.MaxBytes {
		t.c.teeBytes.Add(-delta)
		t.abandon()
		return false
	}
	t.reserved += delta
	nb := make([]byte, len(t.body), newCap)
	copy(nb, t.body)
	t.body = nb
	return true
}

func (t *tee) abandon() {
	t.release()
	t.store, t.body = false, nil
}

// release returns the copy's reservation (once); a stored body is
// accounted by its shard from then on.
func (t *tee) release() {
	t.c.teeBytes.Add(-t.reserved)
	t.reserved = 0
}

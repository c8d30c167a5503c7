package cache

// This file holds the storage: shards, LRU lists, byte accounting.

import (
	"container/list"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// shard is one independently locked part of the cache, chosen by a hash of
// the primary key, so hits on different URIs do not contend on one lock.
// Each shard runs its own LRU within MaxBytes/len(shards); there are at most
// 16 shards and never so many that a MaxObjectBytes response cannot fit.
type shard struct {
	mu        sync.Mutex
	max       int64
	prims     map[string]*primary // host + request-URI -> variants
	lru       *list.List          // of *entry, front = most recently used
	bytes     int64
	flights   map[string]*flight // in-progress fetches by full key
	evictions *atomic.Int64
}

// primary groups the variants of one URI; vary is the header list named by
// the most recent response's Vary.
type primary struct {
	vary     []string
	variants map[string]*list.Element // by joined vary values
}

// entry is a stored response. It is immutable once stored (refreshes replace
// it), so hits read it without holding the lock.
type entry struct {
	prim, vkey    string
	status        int
	header        http.Header // slices clipped so appends never share memory
	body          []byte
	etag, lastMod string
	responseTime  time.Time
	initialAge    time.Duration // corrected initial age, RFC 9111 §4.2.3
	lifetime      time.Duration
	noCache       bool // revalidate on every use
	size          int64
}

type flight struct{ done chan struct{} }

// lookupLocked returns the stored variant for r (or nil) and the full key
// (primary, NUL, subject if keyed by identity, vary values), appended to
// primary. Map lookups index with
// string(bytes), which does not allocate.
func (s *shard) lookupLocked(r *http.Request, primary []byte, subject string) (*entry, []byte) {
	n := len(primary)
	buf := append(primary, 0)
	p := s.prims[string(buf[:n])]
	if p == nil {
		// The flight key still needs the subject: two subjects' misses
		// must not be coalesced into one fetch.
		return nil, appendVariant(buf, r, subject, nil)
	}
	buf = appendVariant(buf, r, subject, p.vary)
	el := p.variants[string(buf[n+1:])]
	if el == nil {
		return nil, buf
	}
	return el.Value.(*entry), buf
}

func (s *shard) elementLocked(e *entry) *list.Element {
	return s.prims[e.prim].variants[e.vkey]
}

// storeLocked inserts or replaces e and evicts until the cache fits.
func (s *shard) storeLocked(e *entry, vary []string) {
	if e.size > s.max {
		return
	}
	p := s.prims[e.prim]
	if p == nil {
		p = &primary{variants: make(map[string]*list.Element)}
		s.prims[e.prim] = p
	}
	if !sameNames(p.vary, vary) {
		// The variants were keyed by other headers: they can no longer be
		// found, so drop them now rather than waiting for the LRU.
		for _, el := range p.variants {
			s.removeLocked(el)
		}
		p = &primary{vary: vary, variants: make(map[string]*list.Element)}
		s.prims[e.prim] = p
	}
	if old := p.variants[e.vkey]; old != nil {
		s.removeLocked(old)
		if s.prims[e.prim] == nil { // removeLocked dropped the empty primary
			s.prims[e.prim] = p
		}
	}
	p.variants[e.vkey] = s.lru.PushFront(e)
	s.bytes += e.size
	for s.bytes > s.max {
		s.removeLocked(s.lru.Back())
		s.evictions.Add(1)
	}
}

func (s *shard) removeLocked(el *list.Element) {
	e := s.lru.Remove(el).(*entry)
	s.bytes -= e.size
	p := s.prims[e.prim]
	if p == nil || p.variants[e.vkey] != el {
		return
	}
	delete(p.variants, e.vkey)
	if len(p.variants) == 0 {
		delete(s.prims, e.prim)
	}
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dropLocked removes e if it is still the stored variant.
func (s *shard) dropLocked(e *entry) {
	if p := s.prims[e.prim]; p != nil {
		if el := p.variants[e.vkey]; el != nil && el.Value == e {
			s.removeLocked(el)
		}
	}
}

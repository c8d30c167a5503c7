package ratelimit

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// entry is one bucket, linked into its shard's recency list.
type entry struct {
	key        string
	bucket     *rate.Limiter
	seen       time.Time // last Allow, for idle eviction
	prev, next *entry    // prev is more recent
}

// shard is an LRU map guarded by its own mutex. The list is intrusive (no
// container/list) so a hit allocates nothing.
type shard struct {
	mu         sync.Mutex
	m          map[string]*entry
	head, tail *entry // head: most recent
	cap        int
}

func (s *shard) init(capacity int) {
	s.cap = max(capacity, 1)
	s.m = make(map[string]*entry)
}

// touch returns key's entry, creating it if needed, and marks it most
// recently used. It evicts at most a couple of idle entries per call so the
// cost stays O(1), and the least recently used entry when the shard is full.
func (s *shard) touch(key string, now time.Time, ttl time.Duration, newBucket func() *rate.Limiter) *entry {
	if e, ok := s.m[key]; ok {
		e.seen = now
		s.moveToFront(e)
		s.evictIdle(now, ttl, 2)
		return e
	}
	s.evictIdle(now, ttl, 2)
	if len(s.m) >= s.cap {
		s.remove(s.tail)
	}
	// Clone: key may point into a larger request buffer we must not retain.
	e := &entry{key: strings.Clone(key), bucket: newBucket(), seen: now}
	s.m[e.key] = e
	s.pushFront(e)
	return e
}

// evictIdle removes up to limit (all if negative) entries idle longer than
// ttl, oldest first, and returns how many it removed.
func (s *shard) evictIdle(now time.Time, ttl time.Duration, limit int) int {
	n := 0
	for s.tail != nil && n != limit && now.Sub(s.tail.seen) > ttl {
		s.remove(s.tail)
		n++
	}
	return n
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *shard) moveToFront(e *entry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *shard) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
}

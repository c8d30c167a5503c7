package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// credCache is a small LRU of recently verified Basic credentials with an
// expiry per entry. A plain mutex is fine: a hit is a map lookup and a list
// move, far below the bcrypt it saves.
type credCache struct {
	mu    sync.Mutex
	max   int
	items map[[sha256.Size]byte]*list.Element
	order *list.List // front: most recent; values are *credEntry
}

type credEntry struct {
	key     [sha256.Size]byte
	expires time.Time
}

func newCredCache(size int) *credCache {
	return &credCache{max: max(size, 1), items: map[[sha256.Size]byte]*list.Element{}, order: list.New()}
}

func (c *credCache) get(key [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return false
	}
	if !now.Before(el.Value.(*credEntry).expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return false
	}
	c.order.MoveToFront(el)
	return true
}

func (c *credCache) put(key [sha256.Size]byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value.(*credEntry).expires = expires
		c.order.MoveToFront(el)
		return
	}
	if c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*credEntry).key)
	}
	c.items[key] = c.order.PushFront(&credEntry{key: key, expires: expires})
}

func (c *credCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

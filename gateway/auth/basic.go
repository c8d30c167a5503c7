package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Basic cache defaults; see the package doc.
const (
	DefaultBasicCacheTTL  = time.Minute
	DefaultBasicCacheSize = 1024
)

type basicAuth struct {
	users map[string][]byte // user -> bcrypt hash
	dummy []byte            // hash checked for unknown users, at the users' cost
	salt  [32]byte
	cache *credCache // nil when disabled
	ttl   time.Duration
}

func newBasic(c *BasicConfig, cc basicCache, salt [32]byte) (*basicAuth, error) {
	b := &basicAuth{users: map[string][]byte{}, salt: salt, ttl: cc.ttl}
	where := map[string]string{}
	for user, hash := range c.Users {
		if err := b.add(user, hash, where, "users"); err != nil {
			return nil, fmt.Errorf("users[%q]: %w", user, err)
		}
	}
	if c.File != "" {
		if err := b.loadFile(c.File, where); err != nil {
			return nil, err
		}
	}
	if len(b.users) == 0 {
		return nil, fmt.Errorf("no users: set users or file")
	}
	cost := bcrypt.MinCost
	for _, h := range b.users {
		c, _ := bcrypt.Cost(h) // validated in add
		cost = max(cost, c)
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	dummy, err := bcrypt.GenerateFromPassword(pw[:], cost)
	if err != nil {
		return nil, err
	}
	b.dummy = dummy
	if b.ttl == 0 {
		b.ttl = DefaultBasicCacheTTL
	}
	size := cc.size
	if size == 0 {
		size = DefaultBasicCacheSize
	}
	if size < 0 {
		return nil, fmt.Errorf("cache_size %d: must not be negative", size)
	}
	if b.ttl > 0 {
		b.cache = newCredCache(size)
	}
	return b, nil
}

func (b *basicAuth) add(user, hash string, where map[string]string, at string) error {
	if !validValue(user) || strings.ContainsRune(user, ':') {
		return fmt.Errorf("user %q: empty, or contains ':' or control characters", user)
	}
	if prev, dup := where[user]; dup {
		return fmt.Errorf("user %q: already defined at %s", user, prev)
	}
	if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
		return fmt.Errorf("user %q: only bcrypt hashes ($2y$/$2b$/$2a$) are supported; create one with `htpasswd -nbB user password`", user)
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return fmt.Errorf("user %q: bad bcrypt hash: %v", user, err)
	}
	where[user] = at
	b.users[user] = []byte(hash)
	return nil
}

func (b *basicAuth) loadFile(path string, where map[string]string) error {
	return eachLine(path, func(text, at string) error {
		text = strings.TrimSpace(text)
		if text == "" || text[0] == '#' {
			return nil
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok {
			return errors.New(`want "user:bcrypt-hash"`)
		}
		return b.add(user, hash, where, at)
	})
}

func (b *basicAuth) verify(r *http.Request, now time.Time) (Identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return Identity{}, &Error{Status: http.StatusUnauthorized, Method: MethodBasic, Reason: "malformed credentials"}
	}
	var key [sha256.Size]byte
	if b.cache != nil {
		key = b.cacheKey(user, pass)
		if b.cache.get(key, now) {
			return Identity{Subject: user, Method: MethodBasic}, nil
		}
	}
	hash, known := b.users[user]
	if !known {
		hash = b.dummy // same work as a real user, so timing hides who exists
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(pass)); err != nil || !known {
		return Identity{}, &Error{Status: http.StatusUnauthorized, Method: MethodBasic, Reason: "wrong user or password"}
	}
	if b.cache != nil {
		b.cache.put(key, now.Add(b.ttl))
	}
	return Identity{Subject: user, Method: MethodBasic}, nil
}

// cacheKey is SHA-256(salt || len(user) || user || password). The length
// prefix keeps ("ab","c") and ("a","bc") apart; the salt keeps the key from
// being an unsalted, brute-forceable hash of the password.
func (b *basicAuth) cacheKey(user, pass string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(b.salt[:])
	h.Write([]byte{byte(len(user) >> 8), byte(len(user))})
	h.Write([]byte(user))
	h.Write([]byte(pass))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

package balance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"hash"
	"net/http"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Sticky pins clients to a backend with a signed cookie (session
// affinity). The cookie carries the backend's ID and an expiry, signed
// with HMAC-SHA256 so a client can neither forge a pin to a backend of its
// choosing nor extend one; the MAC also covers the cookie name, so a cookie
// issued for one pool does not validate in another sharing the secret.
//
// The value is base64url (no padding) of
//
//	version(1) | expiry unix seconds, big endian (8; 0 = none) | ID | HMAC-SHA256 (32)
//
// A Sticky is safe for concurrent use; set its exported fields before the
// first use only.
type Sticky struct {
	name   string
	secret []byte
	ttl    time.Duration

	// Now is the clock Pin checks expiry against; nil means time.Now.
	Now func() time.Time
	// Secure marks issued cookies Secure; set it when clients reach the
	// gateway over TLS.
	Secure bool

	scratch sync.Pool // *stickyScratch: keyed MAC and buffers, so Pin stays allocation-light
}

const (
	stickyVersion  = 1
	stickyHeader   = 1 + 8 // version + expiry
	maxStickyValue = 1024  // longer cookie values are rejected unread
	minSecret      = 16
)

var stickyEncoding = base64.RawURLEncoding.Strict()

// NewSticky returns a Sticky issuing cookie name, signed with secret (at
// least 16 bytes; 32 random bytes recommended), valid for ttl. A zero ttl
// gives session cookies whose signature never expires.
func NewSticky(name string, secret []byte, ttl time.Duration) (*Sticky, error) {
	switch {
	case !httpguts.ValidHeaderFieldName(name):
		return nil, fmt.Errorf("balance: sticky cookie name %q is not a valid cookie name", name)
	case len(secret) < minSecret:
		return nil, fmt.Errorf("balance: sticky cookie %q: secret is %d bytes, want at least %d", name, len(secret), minSecret)
	case ttl < 0:
		return nil, errors.New("balance: sticky cookie " + name + ": negative TTL")
	}
	return &Sticky{name: name, secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

// Name is the cookie name.
func (s *Sticky) Name() string { return s.name }

type stickyScratch struct {
	mac hash.Hash
	in  []byte // the cookie value, copied so the decoder can read it
	out []byte // the decoded value
	sum []byte
}

func (s *Sticky) get() *stickyScratch {
	if sc, _ := s.scratch.Get().(*stickyScratch); sc != nil {
		return sc
	}
	return &stickyScratch{mac: hmac.New(sha256.New, s.secret), sum: make([]byte, 0, sha256.Size)}
}

// sign returns the MAC of name || 0 || payload in sc.sum.
func (s *Sticky) sign(sc *stickyScratch, payload []byte) []byte {
	sc.mac.Reset()
	sc.in = append(append(sc.in[:0], s.name...), 0)
	sc.mac.Write(sc.in)
	sc.mac.Write(payload)
	sc.sum = sc.mac.Sum(sc.sum[:0])
	return sc.sum
}

// Pin returns the backend the request's cookie pins it to, or nil when the
// cookie is absent, malformed, tampered with or expired, or when lookup
// does not know the ID or the backend is not Available. The caller then
// balances normally and sets a fresh Cookie.
func (s *Sticky) Pin(r *http.Request, lookup func(id string) *upstream.Backend) *upstream.Backend {
	v, ok := cookieValue(r.Header, s.name)
	if !ok || len(v) > maxStickyValue {
		return nil
	}
	sc := s.get()
	defer s.scratch.Put(sc)

	sc.in = append(sc.in[:0], v...)
	if n := stickyEncoding.DecodedLen(len(sc.in)); cap(sc.out) < n {
		sc.out = make([]byte, n)
	}
	n, err := stickyEncoding.Decode(sc.out[:cap(sc.out)], sc.in)
	if err != nil || n < stickyHeader+sha256.Size || sc.out[0] != stickyVersion {
		return nil
	}
	payload, tag := sc.out[:n-sha256.Size], sc.out[n-sha256.Size:n]
	if !hmac.Equal(s.sign(sc, payload), tag) {
		return nil
	}
	if exp := int64(binary.BigEndian.Uint64(payload[1:stickyHeader])); exp != 0 && s.now().Unix() >= exp {
		return nil
	}
	b := lookup(string(payload[stickyHeader:]))
	if b == nil || !b.Available() {
		return nil
	}
	return b
}

func (s *Sticky) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Cookie returns the cookie pinning a client to b, issued at now.
func (s *Sticky) Cookie(b *upstream.Backend, now time.Time) *http.Cookie {
	id := b.ID()
	var exp int64
	if s.ttl > 0 {
		exp = now.Add(s.ttl).Unix()
	}
	raw := make([]byte, stickyHeader+len(id), stickyHeader+len(id)+sha256.Size)
	raw[0] = stickyVersion
	binary.BigEndian.PutUint64(raw[1:stickyHeader], uint64(exp))
	copy(raw[stickyHeader:], id)
	sc := s.get()
	raw = append(raw, s.sign(sc, raw)...)
	s.scratch.Put(sc)
	c := &http.Cookie{
		Name:     s.name,
		Value:    stickyEncoding.EncodeToString(raw),
		Path:     "/",
		HttpOnly: true,
		Secure:   s.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	if s.ttl > 0 {
		c.MaxAge = int((s.ttl + time.Second - 1) / time.Second)
	}
	return c
}

// Package split spreads a route's requests across pools by weight, for
// canaries and API versions:
//
//	split: [{pool: v1, weight: 90}, {pool: v2, weight: 10}]
//	split_sticky: {header: X-User}   # or {cookie: session} or {client_ip: true}
//
// Without stickiness each request picks by weighted random. With it, the
// key (header, cookie or client address) is hashed onto [0, total weight),
// so the same key lands on the same pool while the weights are unchanged;
// a request without the key picks at random.
package split

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Target is one pool of a split; the comments on its fields are the
// reference's text.
type Target struct {
	Pool   string `yaml:"pool"`   // required; names a pool
	Weight int    `yaml:"weight"` // share of the route's requests, relative to the others; 1..10000
}

// Sticky keeps a client on one pool of a split; set exactly one field.
type Sticky struct {
	Header   string `yaml:"header"`    // key by this request header
	Cookie   string `yaml:"cookie"`    // key by this cookie
	ClientIP bool   `yaml:"client_ip"` // key by the client address
}

// Validate reports the problems of a split by key relative to the split
// list (keys start with "[i]"); known reports whether a pool exists.
func Validate(ts []Target, known func(string) bool) yamlconf.Errors {
	var v yamlconf.Check
	if len(ts) < 2 {
		v.Add("", "needs at least two pools (a single pool is pool:)")
	}
	seen := map[string]bool{}
	for i, t := range ts {
		k := fmt.Sprintf("[%d]", i)
		switch {
		case t.Pool == "":
			v.Add(k+".pool", "required")
		case !known(t.Pool):
			v.Add(k+".pool", "unknown pool %q", t.Pool)
		case seen[t.Pool]:
			v.Add(k+".pool", "pool %q listed twice", t.Pool)
		}
		seen[t.Pool] = true
		if t.Weight < 1 || t.Weight > 10000 {
			v.Add(k+".weight", "must be 1..10000, got %d", t.Weight)
		}
	}
	return v.Errs
}

// Validate reports the problems of s by key relative to the block.
func (s *Sticky) Validate() yamlconf.Errors {
	var v yamlconf.Check
	n := 0
	if s.Header != "" {
		n++
	}
	if s.Cookie != "" {
		n++
	}
	if s.ClientIP {
		n++
	}
	if n != 1 {
		v.Add("", "set exactly one of header, cookie or client_ip")
	}
	return v.Errs
}

// Picker chooses a split's pool for a request.
type Picker struct {
	cum   []int // cumulative weights; cum[len-1] is the total
	key   func(*http.Request) (string, bool)
	total int
}

// New returns a picker over ts (validated), sticky when s is not nil.
func New(ts []Target, s *Sticky) *Picker {
	p := &Picker{cum: make([]int, len(ts))}
	for i, t := range ts {
		p.total += t.Weight
		p.cum[i] = p.total
	}
	if s == nil {
		return p
	}
	switch {
	case s.Header != "":
		h := textproto.CanonicalMIMEHeaderKey(s.Header)
		p.key = func(r *http.Request) (string, bool) {
			v := r.Header[h]
			if len(v) == 0 || v[0] == "" {
				return "", false
			}
			return v[0], true
		}
	case s.Cookie != "":
		name := s.Cookie
		p.key = func(r *http.Request) (string, bool) {
			c, err := r.Cookie(name)
			if err != nil || c.Value == "" {
				return "", false
			}
			return c.Value, true
		}
	case s.ClientIP:
		p.key = func(r *http.Request) (string, bool) {
			ip := clientip.Of(r)
			return ip, ip != ""
		}
	}
	return p
}

// Pick returns the index of r's target.
func (p *Picker) Pick(r *http.Request) int {
	n := -1
	if p.key != nil {
		if k, ok := p.key(r); ok {
			n = int(hash(k) % uint64(p.total))
		}
	}
	if n < 0 {
		n = rand.IntN(p.total)
	}
	for i, c := range p.cum {
		if n < c {
			return i
		}
	}
	return len(p.cum) - 1
}

// hash is FNV-1a: fixed, unlike maphash's per-process seed, so a key keeps
// its pool across reloads and restarts while the weights stay the same.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

package ratelimit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// DefaultMaxKeys bounds the number of buckets when Config.MaxKeys is zero.
const DefaultMaxKeys = 100_000

// maxKeyLen is the longest key stored verbatim; longer keys are hashed so an
// entry costs at most ~maxKeyLen bytes of key whatever the client sends.
const maxKeyLen = 128

// Config describes one limit; it is a route's rate_limit block of the
// gateway's file, so the comments on its keys are that reference's text.
// Burst must be at least 1 for New (DeriveDefaults fills the file's
// default); the zero values of MaxKeys, IdleTTL and Key select defaults.
// The policy name in the headers is not in the file: see Named. IdleTTL is never below Burst/Rate: a shorter one would let a
// client refill its bucket early by pausing.
type Config struct {
	Rate    float64       `yaml:"rate"`     // tokens per second; required
	Burst   int           `yaml:"burst"`    // bucket size; default max(1, rate)
	Key     string        `yaml:"key"`      // ip | header:NAME | identity | route; default ip
	MaxKeys int           `yaml:"max_keys"` // buckets kept at most (LRU); default 100000
	IdleTTL time.Duration `yaml:"idle_ttl"` // forget a key idle this long; default max(burst/rate, 1m)
}

func (c *Config) SetDefaults() { c.Key, c.MaxKeys = "ip", DefaultMaxKeys }

// DeriveDefaults fills the default that depends on another key: burst 0
// (or left out) is max(1, rate).
func (c *Config) DeriveDefaults() {
	if c.Burst == 0 {
		c.Burst = max(1, int(c.Rate))
	}
}

// Validate reports the problems of c by key relative to the block; what
// is a request's rate is the caller's to word (unit), e.g. "requests".
func (c *Config) Validate(unit string) yamlconf.Errors {
	var v yamlconf.Check
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		v.Add("rate", "must be a positive number of %s per second, got %v", unit, c.Rate)
	}
	v.Between("burst", c.Burst, 1, math.MaxInt32)
	if _, err := ParseKey(c.Key); err != nil {
		v.Add("key", "want ip, identity, route or header:NAME, got %q", c.Key)
	}
	v.Between("max_keys", c.MaxKeys, 1, 100_000_000)
	v.NonNegative("idle_ttl", c.IdleTTL)
	if w := c.window(); c.IdleTTL > 0 && c.Rate > 0 && c.IdleTTL < w {
		v.Add("idle_ttl", "%v is shorter than the refill time burst/rate = %v", c.IdleTTL, w)
	}
	return v.Errs
}

// window is the time to refill an empty bucket: Burst/Rate.
func (c *Config) window() time.Duration {
	return time.Duration(float64(c.Burst) / c.Rate * float64(time.Second))
}

// Limiter holds one token bucket per key. It is safe for concurrent use.
type Limiter struct {
	clk    clock.Clock
	limit  rate.Limit
	burst  int
	ttl    time.Duration
	policy string
	window time.Duration // time to refill an empty bucket: Burst/Rate
	seed   maphash.Seed
	mask   uint64
	shards []shard

	policyHeader string // precomputed RateLimit-Policy value
	ratePrefix   string // precomputed `"name";r=`
}

// Option tunes what New builds beyond the file's block.
type Option func(*Limiter)

// Named sets the policy name in the RateLimit headers; default "default".
func Named(policy string) Option { return func(l *Limiter) { l.policy = policy } }

// New validates cfg and returns a Limiter that reads time from clk.
func New(cfg Config, clk clock.Clock, opts ...Option) (*Limiter, error) {
	if clk == nil {
		return nil, errors.New("ratelimit: nil clock")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Key == "" {
		cfg.Key = "ip"
	}
	if err := cfg.Validate("tokens").Err(); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	l := &Limiter{clk: clk, policy: "default"}
	for _, o := range opts {
		o(l)
	}
	if err := checkPolicyName(l.policy); err != nil {
		return nil, err
	}
	window := cfg.window()
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = max(window, time.Minute)
	}

	n := 32 // shards: enough to spread lock contention on a few cores
	for n > 1 && cfg.MaxKeys/n < 64 {
		n /= 2
	}
	l.limit, l.burst, l.ttl, l.window = rate.Limit(cfg.Rate), cfg.Burst, cfg.IdleTTL, window
	l.seed, l.mask, l.shards = maphash.MakeSeed(), uint64(n-1), make([]shard, n)
	for i := range l.shards {
		l.shards[i].init(cfg.MaxKeys / n)
	}
	l.policyHeader = fmt.Sprintf("%q;q=%d;w=%d", l.policy, cfg.Burst, ceilSeconds(window))
	l.ratePrefix = fmt.Sprintf("%q;r=", l.policy)
	return l, nil
}

// checkPolicyName keeps the name inside what a Structured Fields string can
// carry without escaping, so headers can be built by concatenation.
func checkPolicyName(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("ratelimit: policy %q: only printable ASCII without quotes or backslashes", s)
		}
	}
	return nil
}

// Allow takes one token from key's bucket and reports the outcome. It does not
// allocate unless key is new (or longer than 128 bytes).
func (l *Limiter) Allow(key string) Decision {
	key = storedKey(key)
	now := l.clk.Now()
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	e := s.touch(key, now, l.ttl, l.newBucket)
	ok := e.bucket.AllowN(now, 1)
	tokens := e.bucket.TokensAt(now)
	s.mu.Unlock()
	return l.decision(ok, tokens)
}

// Peek reports whether Allow(key) would succeed now, without taking a token
// and without creating a bucket. It is for limits that charge only some
// outcomes, such as failed logins, but must refuse before the costly part
// once the bucket is empty. Peek then Allow is not atomic: concurrent
// requests that all peek before any is charged can overshoot the burst by
// the number of such requests in flight.
func (l *Limiter) Peek(key string) Decision {
	key = storedKey(key)
	now := l.clk.Now()
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	tokens := float64(l.burst) // an unknown or idle-expired key has a full bucket
	s.mu.Lock()
	if e, ok := s.m[key]; ok && now.Sub(e.seen) <= l.ttl {
		tokens = e.bucket.TokensAt(now)
	}
	s.mu.Unlock()
	return l.decision(tokens >= 1, tokens)
}

// storedKey bounds the memory a key costs: longer keys are hashed.
func storedKey(key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = "\x00sha256:" + string(sum[:]) // NUL: cannot collide with a header value
	}
	return key
}

func (l *Limiter) newBucket() *rate.Limiter { return rate.NewLimiter(l.limit, l.burst) }

func (l *Limiter) decision(ok bool, tokens float64) Decision {
	d := Decision{
		Allowed:   ok,
		Limit:     l.burst,
		Remaining: int(max(tokens, 0)), // truncation: a partial token cannot be spent
		Reset:     l.durationFor(float64(l.burst) - tokens),
		l:         l,
	}
	if !ok {
		d.RetryAfter = l.durationFor(1 - tokens)
	}
	return d
}

func (l *Limiter) durationFor(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(tokens / float64(l.limit) * float64(time.Second))
}

// Len reports how many buckets are held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// EvictIdle drops every bucket idle for IdleTTL and returns how many it
// dropped. Allow already evicts lazily; call this from a ticker to return
// memory after a burst of clients goes quiet.
func (l *Limiter) EvictIdle() int {
	now := l.clk.Now()
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.evictIdle(now, l.ttl, -1)
		s.mu.Unlock()
	}
	return n
}

// Policy returns the policy name used in the headers.
func (l *Limiter) Policy() string { return l.policy }

// ceilSeconds rounds d up to whole seconds, as the headers carry integers.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

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
)

// DefaultMaxKeys bounds the number of buckets when Config.MaxKeys is zero.
const DefaultMaxKeys = 100_000

// maxKeyLen is the longest key stored verbatim; longer keys are hashed so an
// entry costs at most ~maxKeyLen bytes of key whatever the client sends.
const maxKeyLen = 128

// Config describes one limit. The zero values of MaxKeys, IdleTTL and Policy
// select defaults.
type Config struct {
	Rate    float64       // tokens added per second; > 0
	Burst   int           // bucket size: requests allowed at once; >= 1
	MaxKeys int           // most buckets kept; default DefaultMaxKeys
	IdleTTL time.Duration // drop buckets idle this long; default max(Burst/Rate, 1m), never below Burst/Rate
	Policy  string        // policy name in the RateLimit headers; default "default"
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

// New validates cfg and returns a Limiter that reads time from clk.
func New(cfg Config, clk clock.Clock) (*Limiter, error) {
	if clk == nil {
		return nil, errors.New("ratelimit: nil clock")
	}
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("ratelimit: rate %v: must be a positive number of tokens per second", cfg.Rate)
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("ratelimit: burst %d: must be at least 1", cfg.Burst)
	}
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("ratelimit: max_keys %d: must not be negative", cfg.MaxKeys)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Policy == "" {
		cfg.Policy = "default"
	}
	if err := checkPolicyName(cfg.Policy); err != nil {
		return nil, err
	}
	window := time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second))
	switch {
	case cfg.IdleTTL < 0:
		return nil, fmt.Errorf("ratelimit: idle_ttl %v: must not be negative", cfg.IdleTTL)
	case cfg.IdleTTL == 0:
		cfg.IdleTTL = max(window, time.Minute)
	case cfg.IdleTTL < window:
		// A shorter TTL would let a client refill its bucket early by pausing.
		return nil, fmt.Errorf("ratelimit: idle_ttl %v: shorter than the refill time burst/rate = %v", cfg.IdleTTL, window)
	}

	n := 32 // shards: enough to spread lock contention on a few cores
	for n > 1 && cfg.MaxKeys/n < 64 {
		n /= 2
	}
	l := &Limiter{
		clk:    clk,
		limit:  rate.Limit(cfg.Rate),
		burst:  cfg.Burst,
		ttl:    cfg.IdleTTL,
		policy: cfg.Policy,
		window: window,
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i].init(cfg.MaxKeys / n)
	}
	l.policyHeader = fmt.Sprintf("%q;q=%d;w=%d", cfg.Policy, cfg.Burst, ceilSeconds(window))
	l.ratePrefix = fmt.Sprintf("%q;r=", cfg.Policy)
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

// Package ratelimit is a per-key token-bucket rate limiter with bounded
// memory, for the gateway's request path.
//
// # Model
//
// Each key (client IP, header value, authenticated subject, or one key for a
// whole route: see ParseKey) owns a token bucket from golang.org/x/time/rate
// that holds at most Config.Burst tokens and refills at Config.Rate tokens per
// second. A request takes one token; with none left it is denied. Per-route
// limits are expressed by giving each route its own Limiter.
//
// # Bounded memory
//
// Buckets live in a sharded LRU of at most Config.MaxKeys entries in total.
// Inserting into a full shard evicts that shard's least recently used bucket,
// and buckets idle for Config.IdleTTL are dropped lazily on later calls (or
// eagerly by EvictIdle). Keys longer than 128 bytes are stored as their
// SHA-256, so a hostile header value cannot inflate an entry. Memory is
// therefore O(MaxKeys), whatever the number of distinct clients.
//
// Eviction errs on the lenient side: an evicted client starts again with a
// full bucket. IdleTTL is never shorter than the refill time Burst/Rate, so
// idle eviction is lossless (the bucket would be full anyway); only capacity
// eviction under a flood of distinct keys can hand a client a fresh bucket.
// The LRU order is per shard (keys are spread over shards by a seeded hash),
// which approximates a global LRU without a global lock.
//
// # Headers
//
// Decision.WriteHeaders follows draft-ietf-httpapi-ratelimit-headers-10/-11
// (Structured Fields syntax; -11 of May 2026 kept the -10 field syntax):
//
//	RateLimit-Policy: "default";q=<Burst>;w=<ceil(Burst/Rate) seconds>
//	RateLimit: "default";r=<tokens left>;t=<seconds until the bucket is full>
//	Retry-After: <seconds until one token>   (denied requests only)
//
// t is the time until the quota is fully restored (r would equal q), which is
// the draft's "reset" for a quota of q per w. Retry-After (RFC 9110) is the
// earliest time a retry can succeed, which for a token bucket is sooner.
//
// Older drafts (-06 and before) used RateLimit-Limit/-Remaining/-Reset; those
// are not sent.
package ratelimit

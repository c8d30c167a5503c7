// Package auth authenticates gateway requests per route with API keys, JWTs
// or HTTP Basic, and optionally restricts which subjects may pass.
//
// An Authenticator is built once from a Config (files are read and keys parsed
// in New) and is then immutable and safe for concurrent use; a config reload
// builds a new one.
//
// # Credentials and order
//
//  1. API key in Config.APIKeys.Header (default X-API-Key).
//  2. Authorization: Bearer <token>: a JWT when JWT is enabled and the token
//     has the three-part JWT shape, otherwise an API key if APIKeys.Bearer.
//  3. Authorization: Basic, when Basic is enabled.
//
// The first credential present decides: an invalid one is a 401, there is no
// fall-through to another scheme. A missing credential is a 401 carrying one
// WWW-Authenticate challenge per enabled scheme. An authenticated subject
// outside Config.AllowSubjects is a 403.
//
// # API keys
//
// Only SHA-256 digests of keys are configured (hex, in Config or a file of
// "name digest" lines). The presented key is hashed and looked up by digest.
// The lookup compares digests, never keys, so its timing can only reveal bits
// of the presented key's own digest, from which nothing about a configured key
// can be learnt: the path is O(1), allocation-free and timing safe (see
// apiKeys.verify). HashKey computes the digest to configure. The subject is
// the key's name.
//
// # JWT
//
// golang-jwt/jwt/v5 verifies HS256 (shared secret), RS256 and ES256 (P-256)
// with public keys from a PEM file (PUBLIC KEY, RSA PUBLIC KEY or
// CERTIFICATE blocks, several allowed) and/or a JWKS file. The accepted
// algorithms are pinned (jwt.WithValidMethods) and the key function returns
// only keys of the type that matches the token's algorithm, so "alg: none"
// and RS/HS confusion (an HS256 token "signed" with the RSA public key) fail.
// A "kid" header selects JWKS keys with that kid (plus any PEM keys, which
// have none). exp is required; exp, nbf, iss and aud are checked with
// JWTConfig.Skew of leeway (default 60s). The subject is the "sub" claim.
//
// # Basic
//
// Passwords are bcrypt hashes (in Config or an htpasswd-style file of
// "user:$2y$..." lines; other htpasswd formats are rejected). Bcrypt costs
// tens of milliseconds by design, so successful verifications are cached in a
// small LRU (BasicCache size entries, default 1024) for
// its ttl (default 1m). The cache key is SHA-256 over a random
// per-Authenticator salt, the user and the password, so neither the password
// nor an unsalted hash of it is kept in memory. Failures are not cached: each
// wrong guess pays a full bcrypt, and unknown users are checked against a
// dummy hash at the highest cost of the configured users, so timing does
// not reveal which users exist. Because bcrypt is CPU-heavy, the gateway
// applies a route's rate limit, and its optional per-client limit on
// failures (auth.max_failures), before it calls Authenticate: a refused
// guess costs no bcrypt. Error.Method tells wrong credentials (set) from
// none at all (empty), for such counting.
//
// # Forwarding
//
// On success Authenticate deletes any client-sent Config.ForwardHeader
// (default X-Auth-Subject) and sets it to the subject; with
// Config.StripCredentials it also deletes the credential headers this
// Authenticator reads (the API-key header, and Authorization when a scheme
// that uses it is enabled). Routes without authentication must delete the
// forward header themselves, or clients could spoof it there.
package auth

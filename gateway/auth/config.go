package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config enables one or more schemes for a route; it is a route's auth
// block of the gateway's file, so the comments on its keys are that
// reference's text. At least one of APIKeys, JWT and Basic must be set.
// A client-sent ForwardHeader is always removed first. MaxFailures is
// built by the caller (a ratelimit.Limiter in front of the route): New
// ignores it.
type Config struct {
	APIKeys          *APIKeyConfig `yaml:"api_keys"`          //
	JWT              *JWTConfig    `yaml:"jwt"`               //
	Basic            *BasicConfig  `yaml:"basic"`             //
	AllowSubjects    []string      `yaml:"allow_subjects"`    // authenticated subjects outside this list get 403; empty = any
	ForwardHeader    string        `yaml:"forward_header"`    // the identity is sent to the backend in this header; default X-Auth-Subject
	StripCredentials bool          `yaml:"strip_credentials"` // remove the credentials before forwarding; default false
	Realm            string        `yaml:"realm"`             // realm in WWW-Authenticate; default "drawbridge"
	// MaxFailures limits failed authentications per client address: past
	// it, requests get 429 before any credential is checked. nil = no limit.
	MaxFailures *FailureLimit `yaml:"max_failures"`
}

// FailureLimit is a token bucket of failed authentications per client
// address (IPv6 per /64): each 401 takes a token.
type FailureLimit struct {
	Rate  float64 `yaml:"rate"`  // failures forgiven per second; required
	Burst int     `yaml:"burst"` // failures allowed in a row; default 10
}

func (f *FailureLimit) SetDefaults() { f.Burst = 10 }

// APIKeyConfig accepts keys whose SHA-256 digest is configured, stored as
// hex SHA-256 hashes, never in clear. File lines are "name hex-sha256";
// '#' starts a comment.
type APIKeyConfig struct {
	Header string            `yaml:"header"` // default X-API-Key
	Bearer bool              `yaml:"bearer"` // also accept "Authorization: Bearer <key>"
	Keys   map[string]string `yaml:"keys"`   // name (the subject) -> hex SHA-256 of the key
	File   string            `yaml:"file"`   // lines "name hex-sha256"; relative to this file
}

// JWTConfig accepts signed JWTs. For New, Algorithms may be left empty:
// every algorithm for which a key is configured; the file requires them.
// Secret is >= 32 bytes; KeyFile holds PEM public keys or certificates;
// JWKSFile RSA, EC P-256 and oct keys. Skew 0 means 60s, negative none.
type JWTConfig struct {
	Algorithms []string      `yaml:"algorithms"` // HS256, RS256, ES256
	Secret     string        `yaml:"secret"`     // HS256; "env:NAME" reads $NAME
	KeyFile    string        `yaml:"key_file"`   // PEM public keys (RS256, ES256); relative to this file
	JWKSFile   string        `yaml:"jwks_file"`  // JSON Web Key Set; relative to this file
	Issuer     string        `yaml:"issuer"`     // required iss when set
	Audience   []string      `yaml:"audience"`   // aud must contain one of these when set
	Skew       time.Duration `yaml:"skew"`       // leeway for exp/nbf; default 60s
}

// BasicConfig is HTTP Basic auth with bcrypt hashes. The cache of
// successful checks is not in the file: see BasicCache.
type BasicConfig struct {
	Users map[string]string `yaml:"users"` // user -> bcrypt hash
	File  string            `yaml:"file"`  // htpasswd lines "user:$2y$..."; relative to this file
}

// Option tunes what New builds beyond the file's block.
type Option func(*basicCache)

type basicCache struct {
	ttl  time.Duration
	size int
}

// BasicCache keeps successful Basic checks for ttl (0 means
// DefaultBasicCacheTTL, negative disables the cache), at most size
// credentials (0 means DefaultBasicCacheSize).
func BasicCache(ttl time.Duration, size int) Option {
	return func(c *basicCache) { c.ttl, c.size = ttl, size }
}

func (c *Config) SetDefaults() { c.ForwardHeader, c.Realm = "X-Auth-Subject", "drawbridge" }

// Validate reports the problems of the auth block by key relative to it.
// Keys and files are read by New; this checks what the file says.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if c.APIKeys == nil && c.JWT == nil && c.Basic == nil {
		v.Add("", "needs at least one of api_keys, jwt, basic")
	}
	if k := c.APIKeys; k != nil {
		if len(k.Keys) == 0 && k.File == "" {
			v.Add("api_keys", "needs keys or file")
		}
		for _, name := range slices.Sorted(maps.Keys(k.Keys)) {
			if h := k.Keys[name]; len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
				v.Add("api_keys.keys."+name, "want the hex SHA-256 of the key (64 hex digits; echo -n KEY | sha256sum), not the key itself")
			}
		}
		if k.Header != "" && !httpguts.ValidHeaderFieldName(k.Header) {
			v.Add("api_keys.header", "invalid header name %q", k.Header)
		}
	}
	if j := c.JWT; j != nil {
		if len(j.Algorithms) == 0 {
			v.Add("jwt.algorithms", "required: HS256, RS256 and/or ES256")
		}
		for i, alg := range j.Algorithms {
			if alg != "HS256" && alg != "RS256" && alg != "ES256" {
				v.Add(fmt.Sprintf("jwt.algorithms[%d]", i), "want HS256, RS256 or ES256, got %q", alg)
			}
		}
		if j.Secret == "" && j.KeyFile == "" && j.JWKSFile == "" {
			v.Add("jwt", "needs secret, key_file or jwks_file")
		}
	}
	if b := c.Basic; b != nil && len(b.Users) == 0 && b.File == "" {
		v.Add("basic", "needs users or file")
	}
	if f := c.MaxFailures; f != nil {
		if !(f.Rate > 0) || math.IsInf(f.Rate, 0) {
			v.Add("max_failures.rate", "must be a positive number of failures per second, got %v", f.Rate)
		}
		v.Between("max_failures.burst", f.Burst, 1, math.MaxInt32)
	}
	c.checkHeaders(&v)
	return v.Errs
}

// checkHeaders checks what New needs of the block's own values; New and
// Validate share it, so they agree.
func (c *Config) checkHeaders(v *yamlconf.Check) {
	if c.ForwardHeader != "" && !httpguts.ValidHeaderFieldName(c.ForwardHeader) {
		v.Add("forward_header", "invalid header name %q", c.ForwardHeader)
	}
	if c.Realm != "" && (strings.ContainsAny(c.Realm, "\"\\") || !validValue(c.Realm)) {
		v.Add("realm", "%q: no quotes, backslashes or control characters", c.Realm)
	}
}

// Authenticator checks requests against one route's Config.
type Authenticator struct {
	clk        clock.Clock
	apiKeys    *apiKeys
	jwt        *jwtVerifier
	basic      *basicAuth
	allow      map[string]struct{}
	forward    string   // canonical
	strip      []string // credential headers, removed when StripCredentials
	challenges []string // WWW-Authenticate values for a missing credential
	bearerBad  string   // Bearer challenge for a rejected token (RFC 6750)
}

// New loads the files named in cfg and returns an Authenticator. Errors name
// the offending field, or the file and line.
func New(cfg Config, clk clock.Clock, opts ...Option) (*Authenticator, error) {
	if clk == nil {
		return nil, errors.New("auth: nil clock")
	}
	if cfg.APIKeys == nil && cfg.JWT == nil && cfg.Basic == nil {
		return nil, errors.New("auth: no scheme configured: set api_keys, jwt or basic")
	}
	var v yamlconf.Check
	cfg.checkHeaders(&v)
	if err := v.Errs.Err(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	realm := cfg.Realm
	if realm == "" {
		realm = "drawbridge"
	}
	a := &Authenticator{clk: clk}
	fwd := cfg.ForwardHeader
	if fwd == "" {
		fwd = "X-Auth-Subject"
	}
	a.forward = http.CanonicalHeaderKey(fwd)

	var err error
	var bearer bool
	if cfg.APIKeys != nil {
		if a.apiKeys, err = newAPIKeys(cfg.APIKeys); err != nil {
			return nil, fmt.Errorf("auth: api_keys: %w", err)
		}
		a.strip = append(a.strip, a.apiKeys.header)
		a.challenges = append(a.challenges, fmt.Sprintf(`APIKey realm=%q, header=%q`, realm, a.apiKeys.header))
		bearer = a.apiKeys.bearer
	}
	if cfg.JWT != nil {
		if a.jwt, err = newJWT(cfg.JWT, clk); err != nil {
			return nil, fmt.Errorf("auth: jwt: %w", err)
		}
		bearer = true
	}
	if bearer {
		a.challenges = append(a.challenges, fmt.Sprintf(`Bearer realm=%q`, realm))
		a.bearerBad = fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, realm)
	}
	if cfg.Basic != nil {
		var salt [32]byte
		_, _ = rand.Read(salt[:]) // crypto/rand.Read never fails (Go 1.24+)
		var cache basicCache
		for _, o := range opts {
			o(&cache)
		}
		if a.basic, err = newBasic(cfg.Basic, cache, salt); err != nil {
			return nil, fmt.Errorf("auth: basic: %w", err)
		}
		a.challenges = append(a.challenges, fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, realm))
	}
	if bearer || cfg.Basic != nil {
		a.strip = append(a.strip, "Authorization")
	}
	if !cfg.StripCredentials {
		a.strip = nil
	}
	if len(cfg.AllowSubjects) > 0 {
		a.allow = make(map[string]struct{}, len(cfg.AllowSubjects))
		for _, s := range cfg.AllowSubjects {
			a.allow[s] = struct{}{}
		}
	}
	return a, nil
}

// validValue reports whether s can be sent as a header value unchanged: no
// control characters (so no header injection via a subject), and not empty.
func validValue(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

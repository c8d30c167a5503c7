package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"net/http"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// Config enables one or more schemes for a route. At least one of APIKeys,
// JWT and Basic must be set.
type Config struct {
	APIKeys *APIKeyConfig
	JWT     *JWTConfig
	Basic   *BasicConfig

	// AllowSubjects, if not empty, lists the subjects allowed through;
	// others get 403.
	AllowSubjects []string
	// ForwardHeader carries the subject to the backend; default
	// "X-Auth-Subject". A client-sent value is always removed first.
	ForwardHeader string
	// StripCredentials removes the credential headers before forwarding.
	StripCredentials bool
	// Realm names the protection space in WWW-Authenticate; default
	// "drawbridge".
	Realm string
}

// APIKeyConfig accepts keys whose SHA-256 digest is configured.
type APIKeyConfig struct {
	Header string            // default "X-API-Key"
	Bearer bool              // also accept "Authorization: Bearer <key>"
	Keys   map[string]string // key name (the subject) -> hex SHA-256 of the key
	File   string            // lines "name hex-sha256"; '#' starts a comment
}

// JWTConfig accepts signed JWTs.
type JWTConfig struct {
	// Algorithms accepted, from HS256, RS256 and ES256. Default: every
	// algorithm for which a key is configured.
	Algorithms []string
	Secret     string        // HS256 secret, >= 32 bytes; "env:NAME" reads $NAME
	KeyFile    string        // PEM public keys or certificates (RS256, ES256)
	JWKSFile   string        // JSON Web Key Set (RSA, EC P-256, oct)
	Issuer     string        // required "iss" when set
	Audience   []string      // when set, "aud" must contain one of these
	Skew       time.Duration // leeway for exp/nbf; 0 means 60s, negative means none
}

// BasicConfig accepts HTTP Basic credentials checked against bcrypt hashes.
type BasicConfig struct {
	Users     map[string]string // user -> bcrypt hash
	File      string            // htpasswd-style lines "user:$2y$..."
	CacheTTL  time.Duration     // keep successful checks this long; 0 means 1m, negative disables
	CacheSize int               // most cached credentials; 0 means 1024
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
func New(cfg Config, clk clock.Clock) (*Authenticator, error) {
	if clk == nil {
		return nil, errors.New("auth: nil clock")
	}
	if cfg.APIKeys == nil && cfg.JWT == nil && cfg.Basic == nil {
		return nil, errors.New("auth: no scheme configured: set api_keys, jwt or basic")
	}
	realm := cfg.Realm
	if realm == "" {
		realm = "drawbridge"
	}
	if strings.ContainsAny(realm, "\"\\") || !validValue(realm) {
		return nil, fmt.Errorf("auth: realm %q: no quotes, backslashes or control characters", realm)
	}
	a := &Authenticator{clk: clk}
	fwd := cfg.ForwardHeader
	if fwd == "" {
		fwd = "X-Auth-Subject"
	}
	if !httpguts.ValidHeaderFieldName(fwd) {
		return nil, fmt.Errorf("auth: forward_header %q: not a valid header name", fwd)
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
		if a.basic, err = newBasic(cfg.Basic, salt); err != nil {
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

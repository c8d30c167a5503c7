package auth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// DefaultSkew is the clock-skew leeway for exp and nbf.
const DefaultSkew = 60 * time.Second

// verificationKey is a public key (or secret) with its optional JWKS kid.
type verificationKey struct {
	kid string
	key jwt.VerificationKey // *rsa.PublicKey, *ecdsa.PublicKey or []byte
}

type jwtVerifier struct {
	parser *jwt.Parser
	secret []byte // HS256
	rsa    []verificationKey
	ec     []verificationKey
	// Key sets for tokens without a kid, built once.
	rsaSet, ecSet jwt.VerificationKeySet
}

func newJWT(c *JWTConfig, clk clock.Clock) (*jwtVerifier, error) {
	v := &jwtVerifier{}
	if c.Secret != "" {
		secret := c.Secret
		if name, ok := strings.CutPrefix(secret, "env:"); ok {
			if secret = os.Getenv(name); secret == "" {
				return nil, fmt.Errorf("secret: environment variable %s is empty or unset", name)
			}
		}
		// RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
		if len(secret) < 32 {
			return nil, fmt.Errorf("secret: %d bytes, HS256 needs at least 32", len(secret))
		}
		v.secret = []byte(secret)
	}
	if c.KeyFile != "" {
		keys, err := loadPEMKeys(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("key_file: %w", err)
		}
		v.addKeys(keys)
	}
	if c.JWKSFile != "" {
		keys, secrets, err := loadJWKS(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwks_file: %w", err)
		}
		v.addKeys(keys)
		if len(secrets) > 0 {
			if v.secret != nil || len(secrets) > 1 {
				return nil, fmt.Errorf("jwks_file %s: only one HS256 secret is supported (secret or one oct key)", c.JWKSFile)
			}
			v.secret = secrets[0]
		}
	}

	have := map[string]bool{"HS256": v.secret != nil, "RS256": len(v.rsa) > 0, "ES256": len(v.ec) > 0}
	algs := c.Algorithms
	if len(algs) == 0 {
		for _, alg := range []string{"HS256", "RS256", "ES256"} {
			if have[alg] {
				algs = append(algs, alg)
			}
		}
		if len(algs) == 0 {
			return nil, errors.New("no keys: set secret, key_file or jwks_file")
		}
	}
	for _, alg := range algs {
		ok, known := have[alg]
		switch {
		case !known:
			return nil, fmt.Errorf("algorithms: %q not supported (HS256, RS256, ES256)", alg)
		case !ok && alg == "HS256":
			return nil, errors.New("algorithms: HS256 needs secret (or an oct key in jwks_file)")
		case !ok:
			return nil, fmt.Errorf("algorithms: %s has no matching key in key_file or jwks_file", alg)
		}
	}
	for _, k := range v.rsa {
		v.rsaSet.Keys = append(v.rsaSet.Keys, k.key)
	}
	for _, k := range v.ec {
		v.ecSet.Keys = append(v.ecSet.Keys, k.key)
	}

	skew := c.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(slices.Clone(algs)), // pins algorithms: rejects "none" and others
		jwt.WithLeeway(max(skew, 0)),
		jwt.WithTimeFunc(clk.Now),
		jwt.WithExpirationRequired(),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if len(c.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(c.Audience...))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func (v *jwtVerifier) addKeys(keys []verificationKey) {
	for _, k := range keys {
		switch k.key.(type) {
		case *rsa.PublicKey:
			v.rsa = append(v.rsa, k)
		case *ecdsa.PublicKey:
			v.ec = append(v.ec, k)
		}
	}
}

// keyFor returns only keys whose type matches the token's algorithm. The
// parser has already checked the algorithm against the allowed list; this is
// the second lock against confusion, since golang-jwt's HMAC refuses anything
// but []byte and RSA/ECDSA refuse anything but their own key types.
func (v *jwtVerifier) keyFor(t *jwt.Token) (any, error) {
	var keys []verificationKey
	var all jwt.VerificationKeySet
	switch t.Method.Alg() {
	case "HS256":
		if v.secret == nil {
			return nil, errors.New("no HS256 secret")
		}
		return v.secret, nil
	case "RS256":
		keys, all = v.rsa, v.rsaSet
	case "ES256":
		keys, all = v.ec, v.ecSet
	default:
		return nil, fmt.Errorf("algorithm %s not accepted", t.Method.Alg())
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return all, nil
	}
	var set jwt.VerificationKeySet
	for _, k := range keys {
		if k.kid == kid || k.kid == "" {
			set.Keys = append(set.Keys, k.key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no %s key with kid %q", t.Method.Alg(), kid)
	}
	return set, nil
}

func (v *jwtVerifier) verify(token string) (Identity, error) {
	var claims jwt.RegisteredClaims
	if _, err := v.parser.ParseWithClaims(token, &claims, v.keyFor); err != nil {
		return Identity{}, invalidToken(err.Error())
	}
	if !validValue(claims.Subject) {
		return Identity{}, invalidToken(fmt.Sprintf("sub %q: missing or not a valid header value", claims.Subject))
	}
	return Identity{Subject: claims.Subject, Method: MethodJWT}, nil
}

func invalidToken(reason string) error {
	return &Error{Status: http.StatusUnauthorized, Method: MethodJWT, Reason: reason, bearer: true}
}

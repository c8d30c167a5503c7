package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func jwtAuth(t *testing.T, mutate func(*JWTConfig)) (*Authenticator, func(time.Duration)) {
	k := testKeys()
	cfg := &JWTConfig{
		Secret:   hsSecret,
		KeyFile:  writeFile(t, "keys.pem", "# signing keys\n"+pemPublic(t, &k.rsa.PublicKey)),
		JWKSFile: jwksFile(t, "ec-1", &k.ec.PublicKey, "rsa-2", &k.rsa.PublicKey),
		Issuer:   "https://idp.example",
		Audience: []string{"other", "drawbridge"},
	}
	if mutate != nil {
		mutate(cfg)
	}
	a, clk := mustNew(t, Config{JWT: cfg})
	return a, clk.Advance
}

func TestJWTHTTP(t *testing.T) {
	k := testKeys()
	a, _ := jwtAuth(t, nil)
	srv := server(t, a)
	exp := epoch.Add(time.Hour)
	for name, tok := range map[string]string{
		"HS256":           sign(t, jwt.SigningMethodHS256, []byte(hsSecret), claims("hs-user", exp), ""),
		"RS256 PEM":       sign(t, jwt.SigningMethodRS256, k.rsa, claims("rs-user", exp), ""),
		"RS256 JWKS kid":  sign(t, jwt.SigningMethodRS256, k.rsa, claims("rs-user", exp), "rsa-2"),
		"ES256 JWKS kid":  sign(t, jwt.SigningMethodES256, k.ec, claims("es-user", exp), "ec-1"),
		"ES256 JWKS none": sign(t, jwt.SigningMethodES256, k.ec, claims("es-user", exp), ""),
	} {
		r := do(t, srv, "Authorization", "Bearer "+tok)
		if r.status != 200 || !strings.HasSuffix(r.header.Get("Got-Subject"), "-user") || r.header.Get("Got-Method") != "jwt" {
			t.Errorf("%s: status %d, subject %q", name, r.status, r.header.Get("Got-Subject"))
		}
		if r.header.Get("Got-Authorization") == "" {
			t.Errorf("%s: Authorization stripped without StripCredentials", name)
		}
	}
	r := do(t, srv, "Authorization", "Bearer not.a.jwt")
	if ch := r.header.Get("WWW-Authenticate"); r.status != 401 || ch != `Bearer realm="drawbridge", error="invalid_token"` {
		t.Fatalf("bad token: %d, %q", r.status, ch)
	}
	r = do(t, srv)
	if ch := r.header.Get("WWW-Authenticate"); r.status != 401 || ch != `Bearer realm="drawbridge"` {
		t.Fatalf("no token: %d, %q", r.status, ch)
	}
}

func TestJWTRejects(t *testing.T) {
	k := testKeys()
	a, _ := jwtAuth(t, nil)
	exp := epoch.Add(time.Hour)
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	otherEC := sign(t, jwt.SigningMethodES256, mustEC(t), claims("x", exp), "")
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims("x", exp)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(hsSecret), c, "") }
	valid := hs(claims("x", exp))

	for name, tok := range map[string]string{
		"alg none": noneTok,
		"HS256 with RSA PEM as secret (alg confusion)": sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), claims("x", exp), ""),
		"HS384 (not pinned)":                           sign(t, jwt.SigningMethodHS384, []byte(hsSecret), claims("x", exp), ""),
		"wrong HS secret":                              sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("z", 40)), claims("x", exp), ""),
		"unknown EC key":                               otherEC,
		"unknown kid":                                  sign(t, jwt.SigningMethodES256, k.ec, claims("x", exp), "ec-9"),
		"tampered":                                     valid[:len(valid)-4] + "AAAA",
		"expired beyond skew":                          hs(claims("x", epoch.Add(-61*time.Second))),
		"nbf beyond skew":                              hs(claims("x", exp, "nbf", epoch.Add(61*time.Second).Unix())),
		"no exp":                                       hs(jwt.MapClaims{"sub": "x", "iss": "https://idp.example", "aud": "drawbridge"}),
		"wrong iss":                                    hs(claims("x", exp, "iss", "https://evil.example")),
		"wrong aud":                                    hs(claims("x", exp, "aud", "someone-else")),
		"no aud":                                       hs(jwt.MapClaims{"sub": "x", "exp": exp.Unix(), "iss": "https://idp.example"}),
		"no sub":                                       hs(claims("", exp)),
		"sub with newline":                             hs(claims("a\nX-Admin: 1", exp)),
	} {
		id, err := a.Check(newReq("Authorization", "Bearer "+tok))
		var e *Error
		if err == nil {
			t.Errorf("%s: accepted as %+v", name, id)
		} else if e = err.(*Error); e.Status != 401 || e.Method != MethodJWT {
			t.Errorf("%s: %v, want a 401 jwt error", name, err)
		}
	}
	if _, err := a.Check(newReq("Authorization", "Bearer "+valid)); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
}

func TestJWTSkew(t *testing.T) {
	a, advance := jwtAuth(t, func(c *JWTConfig) { c.Skew = 10 * time.Second })
	tok := sign(t, jwt.SigningMethodHS256, []byte(hsSecret), claims("x", epoch.Add(time.Minute), "nbf", epoch.Add(5*time.Second).Unix()), "")
	check := func() error { _, err := a.Check(newReq("Authorization", "Bearer "+tok)); return err }
	if err := check(); err != nil {
		t.Fatalf("nbf 5s ahead within 10s skew: %v", err)
	}
	advance(time.Minute + 9*time.Second)
	if err := check(); err != nil {
		t.Fatalf("expired 9s ago within 10s skew: %v", err)
	}
	advance(2 * time.Second)
	if err := check(); err == nil {
		t.Fatal("expired 11s ago accepted with 10s skew")
	}
}

// TestJWTPinnedAlgorithms: with only ES256 allowed, valid RS256 and HS256
// tokens are refused even though keys for them are loaded.
func TestJWTPinnedAlgorithms(t *testing.T) {
	k := testKeys()
	a, _ := jwtAuth(t, func(c *JWTConfig) { c.Algorithms = []string{"ES256"} })
	exp := epoch.Add(time.Hour)
	for _, tok := range []string{
		sign(t, jwt.SigningMethodRS256, k.rsa, claims("x", exp), ""),
		sign(t, jwt.SigningMethodHS256, []byte(hsSecret), claims("x", exp), ""),
	} {
		if _, err := a.Check(newReq("Authorization", "Bearer "+tok)); err == nil {
			t.Fatal("token of an algorithm outside Algorithms accepted")
		}
	}
	if _, err := a.Check(newReq("Authorization", "Bearer "+sign(t, jwt.SigningMethodES256, k.ec, claims("x", exp), ""))); err != nil {
		t.Fatal(err)
	}
}

func TestJWTSecretFromEnv(t *testing.T) {
	t.Setenv("DRAWBRIDGE_TEST_JWT", hsSecret)
	a, _ := mustNew(t, Config{JWT: &JWTConfig{Secret: "env:DRAWBRIDGE_TEST_JWT"}})
	tok := sign(t, jwt.SigningMethodHS256, []byte(hsSecret), jwt.MapClaims{"sub": "env", "exp": epoch.Add(time.Hour).Unix()}, "")
	if id, err := a.Check(newReq("Authorization", "bearer "+tok)); err != nil || id.Subject != "env" {
		t.Fatalf("%v %v", id, err)
	}
}

// TestJWTAlgorithmConfusionRSAOnly: with only an RSA key configured, a token
// "signed" with HS256 using the public key PEM as the HMAC secret (the
// classic confusion attack) is refused, whatever alg header it carries.
func TestJWTAlgorithmConfusionRSAOnly(t *testing.T) {
	k := testKeys()
	pemText := pemPublic(t, &k.rsa.PublicKey)
	a, _ := mustNew(t, Config{JWT: &JWTConfig{KeyFile: writeFile(t, "rsa.pem", pemText)}})
	exp := epoch.Add(time.Hour)
	for _, secret := range [][]byte{[]byte(pemText), k.rsa.PublicKey.N.Bytes()} {
		tok := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "x", "exp": exp.Unix()}, "")
		if _, err := a.Check(newReq("Authorization", "Bearer "+tok)); err == nil {
			t.Fatal("HS256 token keyed with the RSA public key accepted")
		}
	}
	ok := sign(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"sub": "x", "exp": exp.Unix()}, "")
	if _, err := a.Check(newReq("Authorization", "Bearer "+ok)); err != nil {
		t.Fatalf("genuine RS256 token refused: %v", err)
	}
}

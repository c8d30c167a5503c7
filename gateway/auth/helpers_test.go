package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/drawbridge-dev/drawbridge/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const hsSecret = "0123456789abcdef0123456789abcdef-test-secret"

// Keys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemPublic(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func jwksFile(t testing.TB, kid string, ec *ecdsa.PublicKey, rsaKid string, rs *rsa.PublicKey) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	ecBytes, err := ec.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "use": "enc", "kid": "enc-only", "n": "AQAB", "e": "AQAB"}, // skipped
		{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "x": enc(ecBytes[1:33]), "y": enc(ecBytes[33:])},
		{"kty": "RSA", "kid": rsaKid, "n": enc(rs.N.Bytes()), "e": enc(big.NewInt(int64(rs.E)).Bytes())},
	}}
	b, _ := json.Marshal(set)
	return writeFile(t, "jwks.json", string(b))
}

func bcryptHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(sub string, exp time.Time, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": exp.Unix(), "iss": "https://idp.example", "aud": "drawbridge"}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func mustNew(t testing.TB, cfg Config, opts ...Option) (*Authenticator, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	a, err := New(cfg, clk, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

// backend is the upstream: it echoes what the gateway forwarded.
func server(t *testing.T, a *Authenticator) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Authenticate(w, r)
		if err != nil {
			return
		}
		w.Header().Set("Got-Subject", r.Header.Get("X-Auth-Subject"))
		w.Header().Set("Got-Method", id.Method)
		w.Header().Set("Got-Api-Key", r.Header.Get("X-API-Key"))
		w.Header().Set("Got-Authorization", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	header http.Header
}

func do(t *testing.T, srv *httptest.Server, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return result{resp.StatusCode, resp.Header}
}

func newReq(hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", "http://gw.example/", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func mustEC(t testing.TB) *ecdsa.PrivateKey { return mustECKey(t, elliptic.P256()) }

func mustECKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustECCurve(t testing.TB, name string) *ecdsa.PublicKey {
	c := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}[name]
	return &mustECKey(t, c).PublicKey
}

func nilSafeClock() clock.Clock { return clock.NewFake(epoch) }

package auth

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/drawbridge-dev/drawbridge/clock"
)

func benchCheck(b *testing.B, a *Authenticator, r *http.Request) {
	b.Helper()
	if _, err := a.Check(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Check(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKey(b *testing.B) {
	keys := map[string]string{}
	for i := range 1000 { // lookup cost must not grow with the number of keys
		keys["k"+strconv.Itoa(i)] = HashKey("key-" + strconv.Itoa(i))
	}
	keys["client"] = HashKey("dbk_live_4f1c2b8e9a7d6c5b4a39281706f5e4d3")
	a, err := New(Config{APIKeys: &APIKeyConfig{Keys: keys}}, clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	benchCheck(b, a, newReq("X-API-Key", "dbk_live_4f1c2b8e9a7d6c5b4a39281706f5e4d3"))
}

// BenchmarkAPIKeyAuthenticate includes the forward-header rewrite and
// stripping, i.e. the full per-request cost on the gateway.
func BenchmarkAPIKeyAuthenticate(b *testing.B) {
	a, err := New(Config{APIKeys: &APIKeyConfig{Keys: map[string]string{"client": HashKey("k")}}, StripCredentials: true}, clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	r := newReq()
	b.ReportAllocs()
	for b.Loop() {
		r.Header["X-Api-Key"] = []string{"k"}
		if _, err := a.Authenticate(nil, r); err != nil {
			b.Fatal("refused")
		}
	}
}

func benchJWT(b *testing.B, method jwt.SigningMethod, key any, kid string) {
	k := testKeys()
	cfg := &JWTConfig{
		Secret:   hsSecret,
		KeyFile:  writeFile(b, "k.pem", pemPublic(b, &k.rsa.PublicKey)),
		JWKSFile: jwksFile(b, "ec-1", &k.ec.PublicKey, "rsa-2", &k.rsa.PublicKey),
	}
	a, err := New(Config{JWT: cfg}, clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	tok := sign(b, method, key, jwt.MapClaims{"sub": "user-1", "exp": time.Now().Add(time.Hour).Unix()}, kid)
	benchCheck(b, a, newReq("Authorization", "Bearer "+tok))
}

func BenchmarkJWTHS256(b *testing.B) { benchJWT(b, jwt.SigningMethodHS256, []byte(hsSecret), "") }
func BenchmarkJWTRS256(b *testing.B) { benchJWT(b, jwt.SigningMethodRS256, testKeys().rsa, "rsa-2") }
func BenchmarkJWTES256(b *testing.B) { benchJWT(b, jwt.SigningMethodES256, testKeys().ec, "ec-1") }

func benchBasic(b *testing.B, cost int, cacheTTL time.Duration) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(Config{Basic: &BasicConfig{Users: map[string]string{"alice": string(h)}}}, clock.Real{}, BasicCache(cacheTTL, 0))
	if err != nil {
		b.Fatal(err)
	}
	r := newReq()
	r.SetBasicAuth("alice", "pw")
	benchCheck(b, a, r)
}

func BenchmarkBasicCached(b *testing.B)         { benchBasic(b, bcrypt.DefaultCost, time.Minute) }
func BenchmarkBasicUncachedCost10(b *testing.B) { benchBasic(b, bcrypt.DefaultCost, -1) }

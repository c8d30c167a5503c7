package auth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func basicReq(user, pass string) *http.Request {
	r := newReq()
	r.SetBasicAuth(user, pass)
	return r
}

func TestBasicHTTP(t *testing.T) {
	file := writeFile(t, "htpasswd", "# users\nbob:"+bcryptHash(t, "b0b")+"\n")
	a, _ := mustNew(t, Config{
		Basic:            &BasicConfig{Users: map[string]string{"alice": bcryptHash(t, "wonder land")}, File: file},
		Realm:            "ops",
		StripCredentials: true,
	})
	srv := server(t, a)
	for user, pass := range map[string]string{"alice": "wonder land", "bob": "b0b"} {
		r := basicReq(user, pass)
		res := do(t, srv, "Authorization", r.Header.Get("Authorization"))
		if res.status != 200 || res.header.Get("Got-Subject") != user || res.header.Get("Got-Authorization") != "" {
			t.Errorf("%s: %d %v", user, res.status, res.header)
		}
	}
	for _, c := range [][2]string{{"alice", "wrong"}, {"mallory", "wonder land"}, {"bob", ""}} {
		res := do(t, srv, "Authorization", basicReq(c[0], c[1]).Header.Get("Authorization"))
		if ch := res.header.Get("WWW-Authenticate"); res.status != 401 || ch != `Basic realm="ops", charset="UTF-8"` {
			t.Errorf("%v: %d, %q", c, res.status, ch)
		}
	}
	if res := do(t, srv, "Authorization", "Basic !!!"); res.status != 401 {
		t.Errorf("malformed: %d", res.status)
	}
}

// TestBasicCache proves hits skip bcrypt: after a success the stored hash is
// replaced, and the same credentials still pass until the TTL expires.
func TestBasicCache(t *testing.T) {
	a, clk := mustNew(t, Config{Basic: &BasicConfig{
		Users: map[string]string{"alice": bcryptHash(t, "pw")},
	}}, BasicCache(30*time.Second, 2))
	check := func(user, pass string) error { _, err := a.Check(basicReq(user, pass)); return err }
	if err := check("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	a.basic.users["alice"] = []byte(bcryptHash(t, "rotated"))
	if err := check("alice", "pw"); err != nil {
		t.Fatalf("cached credentials refused: %v", err)
	}
	if err := check("alice", "pw2"); err == nil {
		t.Fatal("a different password hit the cache")
	}
	clk.Advance(30 * time.Second)
	if err := check("alice", "pw"); err == nil {
		t.Fatal("cache entry outlived its TTL")
	}
	// Bounded: failures are not cached, successes evict LRU beyond CacheSize.
	a.basic.users["alice"] = []byte(bcryptHash(t, "pw"))
	a.basic.users["bob"] = []byte(bcryptHash(t, "pw"))
	a.basic.users["carol"] = []byte(bcryptHash(t, "pw"))
	for _, u := range []string{"alice", "bob", "carol", "alice"} {
		if err := check(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.basic.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, max 2", n)
	}
}

func TestForbiddenSubject(t *testing.T) {
	a, _ := mustNew(t, Config{
		APIKeys:       &APIKeyConfig{Keys: map[string]string{"ok": HashKey("k1"), "other": HashKey("k2")}},
		AllowSubjects: []string{"ok"},
	})
	srv := server(t, a)
	if r := do(t, srv, "X-API-Key", "k1"); r.status != 200 {
		t.Fatalf("allowed subject: %d", r.status)
	}
	r := do(t, srv, "X-API-Key", "k2")
	if r.status != 403 || r.header.Get("WWW-Authenticate") != "" || r.header.Get("Got-Subject") != "" {
		t.Fatalf("subject outside allow list: %d %v", r.status, r.header)
	}
	if r := do(t, srv, "X-API-Key", "k3"); r.status != 401 {
		t.Fatalf("unknown key: %d, want 401 not 403", r.status)
	}
}

func TestConfigErrors(t *testing.T) {
	k := testKeys()
	keysBadLine := writeFile(t, "keys", "a "+HashKey("x")+"\nb nothex\n")
	htBad := writeFile(t, "htpasswd", "alice:"+bcryptHash(t, "x")+"\n\nbob:$apr1$abc$def\n")
	pemPriv := writeFile(t, "priv.pem", "\n\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	pemMixed := writeFile(t, "mixed.pem", pemPublic(t, &k.rsa.PublicKey)+"-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n")
	p384 := writeFile(t, "p384.pem", pemPublic(t, mustECCurve(t, "P-384")))
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing", Config{}, "no scheme"},
		{"bad digest", Config{APIKeys: &APIKeyConfig{Keys: map[string]string{"a": "abc"}}}, `api_keys: keys["a"]: name "a": digest must be 64 hex`},
		{"key file line", Config{APIKeys: &APIKeyConfig{File: keysBadLine}}, keysBadLine + ":2:"},
		{"missing key file", Config{APIKeys: &APIKeyConfig{File: "/nonexistent/keys"}}, "api_keys: file: open /nonexistent/keys"},
		{"dup digest", Config{APIKeys: &APIKeyConfig{Keys: map[string]string{"a": HashKey("x")}, File: writeFile(t, "k2", "b "+HashKey("x"))}}, "same key digest"},
		{"htpasswd apr1", Config{Basic: &BasicConfig{File: htBad}}, htBad + `:3: user "bob": only bcrypt`},
		{"short secret", Config{JWT: &JWTConfig{Secret: "short"}}, "jwt: secret: 5 bytes"},
		{"empty env", Config{JWT: &JWTConfig{Secret: "env:DRAWBRIDGE_UNSET_FOR_TEST"}}, "DRAWBRIDGE_UNSET_FOR_TEST is empty"},
		{"unknown alg", Config{JWT: &JWTConfig{Secret: hsSecret, Algorithms: []string{"none"}}}, `algorithms: "none" not supported`},
		{"alg without key", Config{JWT: &JWTConfig{Secret: hsSecret, Algorithms: []string{"RS256"}}}, "RS256 has no matching key"},
		{"private key PEM", Config{JWT: &JWTConfig{KeyFile: pemPriv}}, pemPriv + ":3: PRIVATE KEY: unsupported block type"},
		{"bad second PEM block", Config{JWT: &JWTConfig{KeyFile: pemMixed}}, pemMixed + ":10:"},
		{"P-384 key", Config{JWT: &JWTConfig{KeyFile: p384}}, "ES256 needs P-256"},
		{"bad JWKS", Config{JWT: &JWTConfig{JWKSFile: writeFile(t, "j.json", `{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AA","y":"AA"}]}`)}}, `keys[0] (kid "k"): x and y must be 32 bytes`},
		{"forward header", Config{APIKeys: &APIKeyConfig{Keys: map[string]string{"a": HashKey("x")}}, ForwardHeader: "bad header"}, "forward_header"},
	} {
		_, err := New(tc.cfg, nilSafeClock())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\n\twant it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestConcurrentChecks exercises the shared Basic cache and JWT parser from
// many goroutines (run with -race).
func TestConcurrentChecks(t *testing.T) {
	a, _ := mustNew(t, Config{
		Basic:   &BasicConfig{Users: map[string]string{"alice": bcryptHash(t, "pw")}},
		APIKeys: &APIKeyConfig{Keys: map[string]string{"k": HashKey("key")}},
	}, BasicCache(0, 4))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				r := basicReq("alice", "pw")
				if (g+i)%2 == 0 {
					r = newReq("X-API-Key", "key")
				}
				if _, err := a.Authenticate(httptest.NewRecorder(), r); err != nil {
					t.Error("refused")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestUnknownUserCostsAsMuchAsWrongPassword guards the timing oracle: a
// wrong user must take as long as a wrong password, or the response time
// tells an attacker which user names exist. The unknown user is checked
// against a dummy hash at the highest cost of the configured users.
func TestUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	const cost = 8 // slow enough (~15 ms) to dwarf scheduling noise
	hash := func(pw string, c int) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), c)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	a, _ := mustNew(t, Config{Basic: &BasicConfig{Users: map[string]string{
		"alice": hash("pw", cost), "bob": hash("pw", bcrypt.MinCost),
	}}})
	if c, err := bcrypt.Cost(a.basic.dummy); err != nil || c != cost {
		t.Fatalf("dummy hash cost %d (%v), want the highest user cost %d", c, err, cost)
	}
	timed := func(user string) time.Duration {
		start := time.Now()
		if _, err := a.Check(basicReq(user, "guess")); err == nil {
			t.Fatalf("%s/guess accepted", user)
		}
		return time.Since(start)
	}
	const n = 5
	var known, unknown []time.Duration
	for range n { // interleaved, so a burst of load hits both alike
		known = append(known, timed("alice"))
		unknown = append(unknown, timed("mallory"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[n/2], unknown[n/2]
	if ratio := float64(u) / float64(k); ratio < 0.5 || ratio > 2 {
		t.Fatalf("median check: unknown user %v, wrong password %v: ratio %.2f, want about 1", u, k, ratio)
	}
}

package gateway

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// cacheAuthScheme is one way alice and bob authenticate on a cached route.
type cacheAuthScheme struct {
	name string
	auth string                               // the route's auth section, without strip_credentials
	cred func(req *http.Request, user string) // presents user's credentials
}

func cacheAuthSchemes(t *testing.T) []cacheAuthScheme {
	t.Helper()
	secret := strings.Repeat("s", 32)
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	return []cacheAuthScheme{
		{"api key", fmt.Sprintf("api_keys: {keys: {alice: %x, bob: %x}}", sha256.Sum256([]byte("key-alice")), sha256.Sum256([]byte("key-bob"))),
			func(req *http.Request, user string) { req.Header.Set("X-API-Key", "key-"+user) }},
		{"bearer api key", fmt.Sprintf("api_keys: {bearer: true, keys: {alice: %x, bob: %x}}", sha256.Sum256([]byte("key-alice")), sha256.Sum256([]byte("key-bob"))),
			func(req *http.Request, user string) { req.Header.Set("Authorization", "Bearer key-"+user) }},
		{"jwt", "jwt: {algorithms: [HS256], secret: " + secret + "}",
			func(req *http.Request, user string) {
				tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
			}},
		{"basic", fmt.Sprintf("basic: {users: {alice: %q, bob: %q}}", hash("pw-alice"), hash("pw-bob")),
			func(req *http.Request, user string) { req.SetBasicAuth(user, "pw-"+user) }},
	}
}

// perSubjectBackend answers with the subject the gateway forwarded, and
// says the response may be cached for a minute but not that it is public:
// the typical API that forgets "private".
func perSubjectBackend(t *testing.T) *testkit.HTTPBackend {
	return startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "data of "+r.Header.Get("X-Auth-Subject"))
	}))
}

// Bob must never receive alice's cached response, whatever the scheme and
// whether the credentials are stripped before the cache sees the request.
func TestCacheNeverSharesAuthenticatedResponses(t *testing.T) {
	be := perSubjectBackend(t)
	for _, sc := range cacheAuthSchemes(t) {
		for _, strip := range []bool{false, true} {
			for _, keyed := range []bool{false, true} {
				name := fmt.Sprintf("%s/strip=%v/key_by_identity=%v", sc.name, strip, keyed)
				t.Run(name, func(t *testing.T) {
					cfg := parseConfig(t, routeWith(fmt.Sprintf("auth:\n  %s\n  strip_credentials: %v\ncache: {max_bytes: 1048576, key_by_identity: %v}", sc.auth, strip, keyed), "", be.Addr()))
					_, gw := startGateway(t, cfg, Options{})
					c := gw.Client()
					get := func(user string) (string, string) {
						req, _ := http.NewRequest("GET", gw.URL+"/me", nil)
						sc.cred(req, user)
						resp, err := c.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						defer resp.Body.Close()
						b, _ := io.ReadAll(resp.Body)
						if resp.StatusCode != 200 {
							t.Fatalf("%s: %d %s", user, resp.StatusCode, b)
						}
						return string(b), resp.Header.Get("X-Cache")
					}
					for round := 0; round < 2; round++ {
						for _, user := range []string{"alice", "bob"} {
							body, xc := get(user)
							if body != "data of "+user {
								t.Fatalf("round %d: %s got %q (X-Cache %s)", round, user, body, xc)
							}
							if want := "MISS"; round == 1 && keyed {
								want = "HIT"
								if xc != want {
									t.Fatalf("keyed by identity: %s's second request: X-Cache %q, want HIT", user, xc)
								}
							} else if xc != want {
								t.Fatalf("round %d: %s: X-Cache %q, want MISS", round, user, xc)
							}
						}
					}
				})
			}
		}
	}
}

// A client cannot poison the cached page every other client gets through
// headers that are not part of the key: the gateway sets X-Forwarded-Host
// and -Proto itself from the request (Host is keyed), and responses to
// requests carrying override headers are not stored.
func TestCacheUnkeyedHeadersThroughGateway(t *testing.T) {
	be := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		origin := r.Header.Get("X-Forwarded-Proto") + "://" + r.Header.Get("X-Forwarded-Host")
		if u := r.Header.Get("X-Original-URL"); u != "" {
			origin = u
		}
		if s := r.Header.Get("X-Forwarded-Scheme"); s != "" {
			origin = s + "://redirect"
		}
		io.WriteString(w, `<script src="`+origin+`/app.js">`)
	}))
	cfg := parseConfig(t, routeWith("cache: {max_bytes: 1048576}", "", be.Addr()))
	_, gw := startGateway(t, cfg, Options{})
	c := gw.Client()
	fetch := func(path string, hdr ...string) string {
		req, _ := http.NewRequest("GET", gw.URL+path, nil)
		req.Host = "site.test"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		_, body := testkit.Do(t, c, req)
		return body
	}
	clean := `<script src="http://site.test/app.js">`
	for i, attack := range [][]string{
		{"X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "javascript"},
		{"X-Original-URL", "//evil.test"},
		{"X-Forwarded-Scheme", "nothttps"},
	} {
		path := fmt.Sprint("/page", i)
		fetch(path, attack...)
		if got := fetch(path); got != clean {
			t.Errorf("after a request with %v, a plain client got %q", attack, got)
		}
	}
}

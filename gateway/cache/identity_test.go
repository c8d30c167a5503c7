package cache

import (
	"io"
	"net/http"
	"testing"
)

// stripAuth plays a gateway route with strip_credentials: the subject is
// the X-Api-Key value, and the key is gone before the cache sees r.
func stripAuth(r *http.Request) Requester {
	sub := r.Header.Get("X-Api-Key")
	r.Header.Del("X-Api-Key")
	r.Header.Del("Authorization")
	return Requester{Authenticated: sub != "", Subject: sub}
}

// perUser answers with the subject the backend was told about, the way an
// API behind the gateway reads X-Auth-Subject.
func perUser(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		io.WriteString(w, "data of "+r.Header.Get("X-Auth-Subject"))
	}
}

// stripAuthAsserting is stripAuth, then the identity header the
// gateway's auth sets for the backend.
func stripAuthAsserting(r *http.Request) Requester {
	who := stripAuth(r)
	r.Header.Set("X-Auth-Subject", who.Subject)
	return who
}

func TestStrippedCredentialsStillCountAsAuthenticated(t *testing.T) {
	rg := newRig(t, Config{}, perUser("max-age=60"))
	rg.who = stripAuthAsserting
	expect(t, rg.get(t, "/me", "X-Api-Key", "alice"), 200, "MISS", "data of alice")
	expect(t, rg.get(t, "/me", "X-Api-Key", "bob"), 200, "MISS", "data of bob")
	if st := rg.c.Stats(); st.Entries != 0 {
		t.Fatalf("%d entries stored for authenticated requests without public/s-maxage", st.Entries)
	}
	// Explicit permission (RFC 9111 §3.5) still shares.
	for _, cc := range []string{"public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"} {
		rg := newRig(t, Config{}, fixed(cc, "shared"))
		rg.who = stripAuth
		rg.get(t, "/p", "X-Api-Key", "alice")
		expect(t, rg.get(t, "/p", "X-Api-Key", "bob"), 200, "HIT", "shared")
	}
}

func TestKeyByIdentity(t *testing.T) {
	for _, cc := range []string{"max-age=60", "public, max-age=60", "s-maxage=60"} {
		rg := newRig(t, Config{KeyByIdentity: true}, perUser(cc))
		rg.who = stripAuthAsserting
		expect(t, rg.get(t, "/me", "X-Api-Key", "alice"), 200, "MISS", "data of alice")
		expect(t, rg.get(t, "/me", "X-Api-Key", "bob"), 200, "MISS", "data of bob")
		expect(t, rg.get(t, "/me", "X-Api-Key", "alice"), 200, "HIT", "data of alice")
		expect(t, rg.get(t, "/me", "X-Api-Key", "bob"), 200, "HIT", "data of bob")
		// A subject that spells another's key plus bytes gets its own entry.
		expect(t, rg.get(t, "/me", "X-Api-Key", "ali"), 200, "MISS", "data of ali")
		// An unsafe method invalidates every subject's copy of the URI.
		rg.do(t, http.MethodPost, "/me", "X-Api-Key", "bob")
		expect(t, rg.get(t, "/me", "X-Api-Key", "alice"), 200, "MISS", "data of alice")
	}
	// private is still never stored by a shared cache.
	rg := newRig(t, Config{KeyByIdentity: true}, perUser("private, max-age=60"))
	rg.who = stripAuth
	rg.get(t, "/me", "X-Api-Key", "alice")
	expect(t, rg.get(t, "/me", "X-Api-Key", "alice"), 200, "MISS", "data of ")
}

func TestSubjectIgnoredUnlessKeyed(t *testing.T) {
	// A Subject without KeyByIdentity must not make a response storable.
	rg := newRig(t, Config{}, perUser("max-age=60"))
	rg.who = stripAuthAsserting
	rg.get(t, "/me", "X-Api-Key", "alice")
	expect(t, rg.get(t, "/me", "X-Api-Key", "bob"), 200, "MISS", "data of bob")
}

func TestCookieRequests(t *testing.T) {
	session := func(cc, vary string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", cc)
			if vary != "" {
				w.Header().Set("Vary", vary)
			}
			io.WriteString(w, "cart of "+r.Header.Get("Cookie"))
		}
	}
	rg := newRig(t, Config{}, session("max-age=60", ""))
	rg.get(t, "/cart", "Cookie", "sid=alice")
	expect(t, rg.get(t, "/cart", "Cookie", "sid=bob"), 200, "MISS", "cart of sid=bob")

	rg = newRig(t, Config{}, session("max-age=60", "Cookie"))
	rg.get(t, "/cart", "Cookie", "sid=alice")
	expect(t, rg.get(t, "/cart", "Cookie", "sid=bob"), 200, "MISS", "cart of sid=bob")
	expect(t, rg.get(t, "/cart", "Cookie", "sid=alice"), 200, "HIT", "cart of sid=alice")

	rg = newRig(t, Config{}, session("public, max-age=60", ""))
	rg.get(t, "/logo", "Cookie", "sid=alice")
	expect(t, rg.get(t, "/logo", "Cookie", "sid=bob"), 200, "HIT", "cart of sid=alice")
}

func TestUnkeyedHeadersDoNotPoison(t *testing.T) {
	// The backend builds a link from an override header, as many
	// frameworks do; a client must not get that stored for everyone.
	link := func(vary string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60")
			if vary != "" {
				w.Header().Set("Vary", vary)
			}
			host := "site.test"
			for _, h := range []string{"X-Original-Url", "X-Forwarded-Scheme", "X-Host", "Forwarded", "X-Http-Method-Override"} {
				if v := r.Header.Get(h); v != "" {
					host = v
				}
			}
			io.WriteString(w, `<script src="//`+host+`/app.js">`)
		}
	}
	clean := `<script src="//site.test/app.js">`
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Scheme", "X-Host", "Forwarded", "X-HTTP-Method-Override"} {
		rg := newRig(t, Config{}, link(""))
		rg.get(t, "/", h, "evil.test")
		expect(t, rg.get(t, "/"), 200, "MISS", clean)
		expect(t, rg.get(t, "/"), 200, "HIT", clean)
	}
	// Named in Vary, the header is part of the key: stored, but only for it.
	rg := newRig(t, Config{}, link("X-Host"))
	rg.get(t, "/", "X-Host", "evil.test")
	expect(t, rg.get(t, "/"), 200, "MISS", clean)
	expect(t, rg.get(t, "/", "X-Host", "evil.test"), 200, "HIT", `<script src="//evil.test/app.js">`)
}

func TestVaryStarNeverStoredForAnyone(t *testing.T) {
	rg := newRig(t, Config{KeyByIdentity: true}, fixed("public, max-age=60", "x", "Vary", "*"))
	rg.who = stripAuth
	rg.get(t, "/", "X-Api-Key", "alice")
	expect(t, rg.get(t, "/", "X-Api-Key", "alice"), 200, "MISS", "x")
}

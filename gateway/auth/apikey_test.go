package auth

import (
	"strings"
	"testing"
)

func TestAPIKeyHTTP(t *testing.T) {
	a, _ := mustNew(t, Config{
		APIKeys:          &APIKeyConfig{Bearer: true, Keys: map[string]string{"team-a": HashKey("secret-a")}},
		StripCredentials: true,
	})
	srv := server(t, a)

	r := do(t, srv, "X-API-Key", "secret-a", "X-Auth-Subject", "admin")
	if r.status != 200 || r.header.Get("Got-Subject") != "team-a" || r.header.Get("Got-Method") != "api_key" {
		t.Fatalf("valid key: %d %v", r.status, r.header)
	}
	if r.header.Get("Got-Api-Key") != "" {
		t.Fatal("API key was forwarded despite StripCredentials")
	}
	if r := do(t, srv, "Authorization", "Bearer secret-a"); r.status != 200 || r.header.Get("Got-Subject") != "team-a" {
		t.Fatalf("bearer key: %d", r.status)
	}
	for _, hdr := range [][]string{
		{"X-API-Key", "secret-b"},
		{"X-API-Key", ""},
		{"Authorization", "Bearer secret-b"},
		{"Authorization", "Basic dTpw"}, // Basic not enabled
		{},
	} {
		r := do(t, srv, hdr...)
		ch := strings.Join(r.header.Values("WWW-Authenticate"), " | ")
		if r.status != 401 || !strings.Contains(ch, `APIKey realm="drawbridge", header="X-Api-Key"`) || !strings.Contains(ch, "Bearer") {
			t.Errorf("%v: %d, WWW-Authenticate %q", hdr, r.status, ch)
		}
		if r.header.Get("Got-Subject") != "" {
			t.Errorf("%v reached the backend", hdr)
		}
	}
}

func TestAPIKeyKeepsCredentialsUnlessStripping(t *testing.T) {
	a, _ := mustNew(t, Config{APIKeys: &APIKeyConfig{Header: "X-Key", Keys: map[string]string{"k": HashKey("s")}}, ForwardHeader: "X-Who"})
	r := newReq("X-Key", "s", "X-Who", "spoofed")
	if _, err := a.Authenticate(nil, r); err != nil {
		t.Fatal("rejected")
	}
	if r.Header.Get("X-Key") != "s" || len(r.Header.Values("X-Who")) != 1 || r.Header.Get("X-Who") != "k" {
		t.Fatalf("headers after Authenticate: %v", r.Header)
	}
}

func TestAPIKeyFile(t *testing.T) {
	file := writeFile(t, "keys", "# team keys\n\nteam-b "+HashKey("secret-b")+"  # rotated 2026-01\n"+
		"team-c "+strings.ToUpper(HashKey("secret-c"))+"\n")
	a, _ := mustNew(t, Config{APIKeys: &APIKeyConfig{File: file, Keys: map[string]string{"team-a": HashKey("secret-a")}}})
	for key, want := range map[string]string{"secret-a": "team-a", "secret-b": "team-b", "secret-c": "team-c"} {
		id, err := a.Check(newReq("X-Api-Key", key))
		if err != nil || id.Subject != want {
			t.Errorf("%s: %v %v, want %s", key, id, err, want)
		}
	}
}

func TestAPIKeyPathDoesNotAllocate(t *testing.T) {
	a, _ := mustNew(t, Config{APIKeys: &APIKeyConfig{Keys: map[string]string{"k": HashKey("0123456789abcdef0123456789abcdef-long-key")}}})
	r := newReq("X-Api-Key", "0123456789abcdef0123456789abcdef-long-key")
	if n := testing.AllocsPerRun(100, func() {
		if _, err := a.Check(r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Check allocates %v times per request", n)
	}
	bad := newReq("X-Api-Key", "nope")
	if n := testing.AllocsPerRun(100, func() { _, _ = a.Check(bad) }); n != 0 {
		t.Fatalf("a refused key allocates %v times", n)
	}
}

package pipeline

import (
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

func TestCompilerKeepsStateWhileSettingsStay(t *testing.T) {
	c := NewCompiler(clock.NewFake(time.Unix(0, 0)))
	rc := &config.Route{Name: "api", RateLimit: &config.RateLimit{Rate: 1, Key: "ip"}, Cache: &config.Cache{MaxBytes: 1 << 20}}
	compile := func() Route {
		t.Helper()
		r, err := c.Route(rc)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := compile()
	c.Commit()
	if again := compile(); again.RateLimit != first.RateLimit || again.Cache != first.Cache {
		t.Fatal("a reload with the same settings replaced the limiter or the cache")
	}
	c.Abort()
	rc.RateLimit = &config.RateLimit{Rate: 2, Key: "ip"}
	changed := compile()
	if changed.RateLimit == first.RateLimit || changed.Cache != first.Cache {
		t.Fatal("a changed rate limit kept its limiter, or the unchanged cache was replaced")
	}
	// Aborted: the live state is still the first configuration's.
	c.Abort()
	rc.RateLimit = &config.RateLimit{Rate: 1, Key: "ip"}
	if r := compile(); r.RateLimit != first.RateLimit {
		t.Fatal("an aborted reload changed the live state")
	}
	if r := compile(); r.ByIdentity || r.IdentityHeader != "X-Auth-Subject" {
		t.Fatalf("ip-keyed limit without auth: by identity %v, identity header %q", r.ByIdentity, r.IdentityHeader)
	}
}

func TestCompilerNamesTheRoute(t *testing.T) {
	c := NewCompiler(clock.NewFake(time.Unix(0, 0)))
	_, err := c.Route(&config.Route{Name: "files", Static: &config.Static{Root: "/does/not/exist"}})
	if err == nil || err.Error()[:14] != `route "files":` {
		t.Fatalf("err = %v, want one naming route \"files\"", err)
	}
}

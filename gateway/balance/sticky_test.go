package balance

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func stickyFixture(t testing.TB) (*Sticky, []*upstream.Backend, func(string) *upstream.Backend) {
	t.Helper()
	s, err := NewSticky("srv", testSecret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(0, t0)
	s.Now = func() time.Time { return clock }
	members := equalPool(3)
	lookup := func(id string) *upstream.Backend {
		for _, b := range members {
			if b.ID() == id {
				return b
			}
		}
		return nil
	}
	return s, members, lookup
}

func withCookie(name, value string) *http.Request {
	r := request("/", "Cookie", "other=1; "+name+"="+value+"; last=2")
	return r
}

func TestStickyRoundTrip(t *testing.T) {
	s, members, lookup := stickyFixture(t)
	c := s.Cookie(members[1], time.Unix(0, t0))
	if c.Name != "srv" || !c.HttpOnly || c.Path != "/" || c.MaxAge != 3600 {
		t.Errorf("cookie attributes: %+v", c)
	}
	if got := s.Pin(withCookie(c.Name, c.Value), lookup); got != members[1] {
		t.Fatalf("Pin = %v, want b1", got)
	}
	// The form net/http itself writes must parse too.
	r := request("/")
	r.AddCookie(c)
	if got := s.Pin(r, lookup); got != members[1] {
		t.Fatalf("Pin after AddCookie = %v, want b1", got)
	}
	if n := testing.AllocsPerRun(100, func() { s.Pin(r, lookup) }); n > 1 && !raceEnabled {
		t.Errorf("Pin: %v allocations, want <= 1 (the ID string)", n)
	}
}

func TestStickyRejects(t *testing.T) {
	s, members, lookup := stickyFixture(t)
	value := s.Cookie(members[1], time.Unix(0, t0)).Value
	other, _ := NewSticky("srv", []byte("another secret, 32 bytes long..."), time.Hour)
	renamed, _ := NewSticky("srv2", testSecret, time.Hour)
	renamed.Now = s.Now
	flip := func(i int) string {
		b := []byte(value)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string]*http.Request{
		"no cookie":         request("/"),
		"empty":             withCookie("srv", ""),
		"garbage":           withCookie("srv", "not base64 !!"),
		"short":             withCookie("srv", "AAAA"),
		"truncated":         withCookie("srv", value[:len(value)-2]),
		"extended":          withCookie("srv", value+"AA"),
		"tampered header":   withCookie("srv", flip(1)),
		"tampered id":       withCookie("srv", flip(13)),
		"tampered mac":      withCookie("srv", flip(len(value)-3)),
		"huge":              withCookie("srv", strings.Repeat("A", 5000)),
		"other secret":      withCookie("srv", other.Cookie(members[1], time.Unix(0, t0)).Value),
		"other cookie name": withCookie("srv", renamed.Cookie(members[1], time.Unix(0, t0)).Value),
	}
	for name, r := range cases {
		if got := s.Pin(r, lookup); got != nil {
			t.Errorf("%s: pinned to %s", name, got.ID())
		}
	}
	// The renamed one is fine under its own name: only the binding failed.
	if got := renamed.Pin(withCookie("srv2", renamed.Cookie(members[1], time.Unix(0, t0)).Value), lookup); got != members[1] {
		t.Errorf("renamed sticky does not accept its own cookie: %v", got)
	}
}

func TestStickyExpiry(t *testing.T) {
	s, members, lookup := stickyFixture(t)
	issued := time.Unix(0, t0)
	r := withCookie("srv", s.Cookie(members[0], issued).Value)
	s.Now = func() time.Time { return issued.Add(59 * time.Minute) }
	if s.Pin(r, lookup) != members[0] {
		t.Error("rejected before expiry")
	}
	s.Now = func() time.Time { return issued.Add(61 * time.Minute) }
	if got := s.Pin(r, lookup); got != nil {
		t.Errorf("expired cookie pinned to %s", got.ID())
	}

	// TTL 0: a session cookie that never expires.
	forever, _ := NewSticky("srv", testSecret, 0)
	c := forever.Cookie(members[0], issued)
	if c.MaxAge != 0 {
		t.Errorf("session cookie has MaxAge %d", c.MaxAge)
	}
	forever.Now = func() time.Time { return issued.Add(24 * 365 * time.Hour) }
	if forever.Pin(withCookie("srv", c.Value), lookup) != members[0] {
		t.Error("TTL 0 cookie expired")
	}
}

func TestStickyUnknownOrUnavailableBackend(t *testing.T) {
	s, members, lookup := stickyFixture(t)
	gone := upstream.New(upstream.Spec{ID: "gone", Address: "x"})
	if got := s.Pin(withCookie("srv", s.Cookie(gone, time.Unix(0, t0)).Value), lookup); got != nil {
		t.Errorf("unknown backend: pinned to %s", got.ID())
	}
	r := withCookie("srv", s.Cookie(members[2], time.Unix(0, t0)).Value)
	members[2].SetFlag(upstream.FlagDraining, true)
	if got := s.Pin(r, lookup); got != nil {
		t.Errorf("draining backend: pinned to %s", got.ID())
	}
	members[2].SetFlag(upstream.FlagDraining, false)
	if got := s.Pin(r, lookup); got != members[2] {
		t.Errorf("recovered backend: got %v", got)
	}
}

func TestNewStickyValidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []byte
		ttl    time.Duration
	}{
		{"", testSecret, time.Hour},
		{"a b", testSecret, time.Hour},
		{"a;b", testSecret, time.Hour},
		{"srv", []byte("short"), time.Hour},
		{"srv", testSecret, -time.Second},
	} {
		if _, err := NewSticky(tc.name, tc.secret, tc.ttl); err == nil {
			t.Errorf("NewSticky(%q, %d-byte secret, %v): no error", tc.name, len(tc.secret), tc.ttl)
		}
	}
	// The secret is copied: later changes to the caller's slice do not
	// change the key.
	secret := append([]byte(nil), testSecret...)
	s, _ := NewSticky("srv", secret, time.Hour)
	b := upstream.New(upstream.Spec{ID: "b"})
	v := s.Cookie(b, time.Unix(0, t0)).Value
	secret[0] ^= 1
	s.Now = func() time.Time { return time.Unix(0, t0) }
	if s.Pin(withCookie("srv", v), func(string) *upstream.Backend { return b }) != b {
		t.Error("changing the caller's secret slice changed the key")
	}
}

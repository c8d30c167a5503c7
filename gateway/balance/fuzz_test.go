package balance

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// FuzzParseKey feeds arbitrary specs and request parts to the key
// extractors: no panic, and query keys must agree with net/url wherever
// net/url accepts the query.
func FuzzParseKey(f *testing.F) {
	f.Add("header:X-User", "alice", "sid=abc; x=1", "u=alice&b=2", "192.0.2.1:80")
	f.Add("cookie:sid", "", `sid="q"; sid=2`, "u=%41%zz", "[::1]:443")
	f.Add("query:u", "x", ";;=", "%75=x+y&u=z", "::1")
	f.Add("ip", "", "", "", "[")
	f.Add("path", "/a", "", "&&&=", "")
	f.Add("query:u", "", "sid", "a=1& u=2&u&u=3", "")
	f.Fuzz(func(t *testing.T, spec, header, cookie, query, remote string) {
		r := &http.Request{
			Header:     http.Header{"Cookie": {cookie}, "X-User": {header}},
			URL:        &url.URL{Path: header, RawQuery: query},
			RemoteAddr: remote,
			Host:       header,
		}
		if key, err := ParseKey(spec); err == nil {
			key(r)
		}
		for _, spec := range []string{"header:X-User", "header:Host", "cookie:sid", "query:u", "path", "ip"} {
			key, err := ParseKey(spec)
			if err != nil {
				t.Fatal(err)
			}
			key(r)
		}
		if vals, err := url.ParseQuery(query); err == nil && len(query) < maxDecoded {
			key, _ := ParseKey("query:u")
			want := MissingKey
			if v := vals["u"]; len(v) > 0 {
				want = hashKey(v[0])
			}
			if got := key(r); got != want {
				t.Errorf("query %q: hash %x, net/url's first u=%q hashes %x", query, got, vals["u"], want)
			}
		}
	})
}

// FuzzStickyCookie: arbitrary cookie values never panic and never pin,
// except values that decode to exactly a cookie the Sticky issued (a MAC
// forgery would be a real failure).
func FuzzStickyCookie(f *testing.F) {
	s, err := NewSticky("srv", testSecret, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(0, t0)
	s.Now = func() time.Time { return now }
	b := upstream.New(upstream.Spec{ID: "b1", Address: "x"})
	valid := s.Cookie(b, now).Value
	f.Add(valid, "b1")
	f.Add(valid[:20], "b1")
	f.Add("", "")
	f.Add(`"`+valid+`"`, "b1")
	f.Add(strings.Repeat("_", 60), "é")
	f.Fuzz(func(t *testing.T, value, id string) {
		lookup := func(string) *upstream.Backend { return b }
		r := &http.Request{Header: http.Header{"Cookie": {"srv=" + value}}}
		if got := s.Pin(r, lookup); got != nil {
			if v, _ := cookieValue(r.Header, "srv"); v != valid {
				t.Errorf("pinned by %q, which is not an issued cookie", v)
			}
		}
		// Any ID round-trips (while the value fits the size limit).
		other := upstream.New(upstream.Spec{ID: id, Address: "x"})
		c := s.Cookie(other, now)
		r = &http.Request{Header: http.Header{"Cookie": {"srv=" + c.Value}}}
		got := s.Pin(r, func(got string) *upstream.Backend {
			if got != other.ID() {
				t.Errorf("ID %q came back as %q", other.ID(), got)
			}
			return other
		})
		if got != other && len(c.Value) <= maxStickyValue {
			t.Errorf("ID %q did not round-trip", id)
		}
	})
}

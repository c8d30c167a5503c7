package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	cases := []struct {
		in   []string
		want directives
	}{
		{nil, directives{maxAge: -1, sMaxAge: -1}},
		{[]string{"max-age=60"}, directives{maxAge: 60, sMaxAge: -1}},
		{[]string{"Max-Age=60, S-MAXAGE=5"}, directives{maxAge: 60, sMaxAge: 5}},
		{[]string{"public", "max-age=10"}, directives{maxAge: 10, sMaxAge: -1, public: true}},
		{[]string{`no-cache="Set-Cookie, X-Foo", max-age=3`}, directives{maxAge: 3, sMaxAge: -1, noCache: true}},
		{[]string{`private="a,b"`}, directives{maxAge: -1, sMaxAge: -1, private: true}},
		{[]string{"no-store,must-revalidate"}, directives{maxAge: -1, sMaxAge: -1, noStore: true, mustRevalidate: true}},
		{[]string{"proxy-revalidate"}, directives{maxAge: -1, sMaxAge: -1, mustRevalidate: true}},
		{[]string{"max-age=abc"}, directives{maxAge: 0, sMaxAge: -1}},            // invalid: stale
		{[]string{"max-age"}, directives{maxAge: 0, sMaxAge: -1}},                // no value: stale
		{[]string{"max-age=60, max-age=70"}, directives{maxAge: 0, sMaxAge: -1}}, // conflicting: stale
		{[]string{`max-age="60"`}, directives{maxAge: 60, sMaxAge: -1}},
		{[]string{"max-age=99999999999999999999"}, directives{maxAge: maxDelta, sMaxAge: -1}},
		{[]string{" , ,max-age = 7 ,"}, directives{maxAge: 7, sMaxAge: -1}},
	}
	for _, tc := range cases {
		if got := parseCacheControl(tc.in); got != tc.want {
			t.Errorf("parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestFreshness(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{"Expires": {date.Add(time.Minute).Format(http.TimeFormat)}}
	if got, _ := freshness(h, directives{maxAge: -1, sMaxAge: -1}, date, 0); got != time.Minute {
		t.Errorf("Expires lifetime = %v", got)
	}
	if got, _ := freshness(h, directives{maxAge: 5, sMaxAge: -1}, date, 0); got != 5*time.Second {
		t.Errorf("max-age must beat Expires: %v", got)
	}
	if got, explicit := freshness(http.Header{}, directives{maxAge: -1, sMaxAge: -1}, date, time.Hour); got != time.Hour || explicit {
		t.Errorf("heuristic = %v %v", got, explicit)
	}
}

func TestNotModified(t *testing.T) {
	lm := "Sat, 01 Mar 2026 10:00:00 GMT"
	cases := []struct {
		h    http.Header
		want bool
	}{
		{http.Header{"If-None-Match": {`"a"`}}, true},
		{http.Header{"If-None-Match": {`W/"a"`}}, true},
		{http.Header{"If-None-Match": {`"b", "a"`}}, true},
		{http.Header{"If-None-Match": {`*`}}, true},
		{http.Header{"If-None-Match": {`"b"`}, "If-Modified-Since": {lm}}, false}, // INM wins
		{http.Header{"If-Modified-Since": {lm}}, true},
		{http.Header{"If-Modified-Since": {"Sat, 01 Mar 2026 09:59:59 GMT"}}, false},
		{http.Header{"If-Modified-Since": {"garbage"}}, false},
		{http.Header{}, false},
	}
	for _, tc := range cases {
		if got := notModified(tc.h, `"a"`, lm); got != tc.want {
			t.Errorf("notModified(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a,b", s-maxage=1`, `"`, `\`, "max-age=99999999999999999999999", ",,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseCacheControl([]string{s, s})
		if d.maxAge < -1 || d.maxAge > maxDelta || d.sMaxAge < -1 || d.sMaxAge > maxDelta {
			t.Fatalf("out of range: %+v", d)
		}
		notModified(http.Header{"If-None-Match": {s}, "If-Modified-Since": {s}}, s, s)
		varyNames([]string{s})
	})
}

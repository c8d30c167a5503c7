package ratelimit

import (
	"net/http"
	"strings"
	"testing"
)

func req(remote string, hdr ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		spec, identity string
		r              *http.Request
		want           string
	}{
		{"ip", "", req("192.0.2.1:1234"), "192.0.2.1"},
		{"ip", "", req("192.0.2.1"), "192.0.2.1"},
		{"ip", "", req("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64"},
		{"ip", "", req("[2001:db8:1:2:ffff::1]:443"), "2001:db8:1:2::/64"},
		{"ip", "", req("[::ffff:192.0.2.9]:80"), "192.0.2.9"},
		{"identity", "alice", req("192.0.2.1:1"), "alice"},
		{"identity", "", req("192.0.2.1:1"), "\x00192.0.2.1"},
		{"header:X-Api-Key", "", req("192.0.2.1:1", "X-API-Key", "k1"), "k1"},
		{"header: x-api-key ", "", req("192.0.2.1:1"), "\x00192.0.2.1"},
		{"route", "alice", req("192.0.2.1:1"), ""},
	} {
		f, err := ParseKey(tc.spec)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", tc.spec, err)
		}
		if got := f(tc.r, tc.identity); got != tc.want {
			t.Errorf("%s on %s: %q, want %q", tc.spec, tc.r.RemoteAddr, got, tc.want)
		}
	}
	for _, bad := range []string{"", "IP", "header:", "header:a b", "cookie:x"} {
		if _, err := ParseKey(bad); err == nil || !strings.Contains(err.Error(), "key") {
			t.Errorf("ParseKey(%q) = %v, want error", bad, err)
		}
	}
}

func TestIPv4KeyDoesNotAllocate(t *testing.T) {
	f, _ := ParseKey("ip")
	r := req("198.51.100.7:5555")
	if n := testing.AllocsPerRun(100, func() { _ = f(r, "") }); n != 0 {
		t.Fatalf("ip key: %v allocs per request", n)
	}
}

// FuzzKey drives the key functions and the limiter with arbitrary client
// input: no panics, keys are deterministic, fallback keys never collide with
// header values, and the limiter stays within its bounds.
func FuzzKey(f *testing.F) {
	f.Add("192.0.2.1:80", "tenant", "alice")
	f.Add("[2001:db8::1]:443", "", "")
	f.Add("not an address", "\x00192.0.2.1", "")
	f.Add("[fe80::1%eth0]:1", strings.Repeat("k", 300), "bob")
	l, _ := newLimiter(f, Config{Rate: 1, Burst: 3, MaxKeys: 64})
	specs := []string{"ip", "identity", "header:X-Key", "route"}
	funcs := make([]KeyFunc, len(specs))
	for i, s := range specs {
		var err error
		if funcs[i], err = ParseKey(s); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, remote, header, identity string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Key": {header}}}
		for i, kf := range funcs {
			k := kf(r, identity)
			if k2 := kf(r, identity); k2 != k {
				t.Fatalf("%s: key not deterministic: %q vs %q", specs[i], k, k2)
			}
			if specs[i] == "header:X-Key" && header != "" && k != header {
				t.Fatalf("header key %q, want the header value %q", k, header)
			}
			d := l.Allow(k)
			if d.Remaining < 0 || d.Remaining > 3 || d.Limit != 3 || d.Allowed == (d.RetryAfter > 0) {
				t.Fatalf("key %q: bad decision %+v", k, d)
			}
			h := http.Header{}
			d.WriteHeaders(h)
			if len(h["Ratelimit"]) != 1 || len(h["Ratelimit-Policy"]) != 1 {
				t.Fatalf("headers %v", h)
			}
		}
		if n := l.Len(); n > 64 {
			t.Fatalf("Len %d > MaxKeys 64", n)
		}
	})
}

package balance

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func request(target string, header ...string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestParseKey(t *testing.T) {
	h := hashBytes[string]
	for _, tc := range []struct {
		spec string
		req  *http.Request
		want uint64
	}{
		{"header:X-User", request("/", "X-User", "alice"), h("alice")},
		{"header:x-user", request("/", "X-User", "alice"), h("alice")}, // canonicalised
		{"header:X-User", request("/", "X-User", "alice", "X-User", "bob"), h("alice")},
		{"header:X-User", request("/"), MissingKey},
		{"header:X-User", request("/", "X-User", ""), MissingKey},
		{"header:Host", request("http://example.com/"), h("example.com")},

		{"cookie:sid", request("/", "Cookie", "sid=abc"), h("abc")},
		{"cookie:sid", request("/", "Cookie", "a=1; sid=abc; b=2"), h("abc")},
		{"cookie:sid", request("/", "Cookie", "a=1;sid=abc"), h("abc")},
		{"cookie:sid", request("/", "Cookie", `sid="abc"`), h("abc")},
		{"cookie:sid", request("/", "Cookie", "xsid=1; sidx=2; sid=abc"), h("abc")},
		{"cookie:sid", request("/", "Cookie", "sid=abc; sid=def"), h("abc")},
		{"cookie:sid", request("/", "Cookie", "a=1", "Cookie", "sid=abc"), h("abc")},
		{"cookie:sid", request("/", "Cookie", "  sid=a=b  ;"), h("a=b")},
		{"cookie:sid", request("/", "Cookie", "sid"), MissingKey},
		{"cookie:sid", request("/", "Cookie", "sid="), MissingKey},
		{"cookie:sid", request("/", "Cookie", `sid=""`), MissingKey},
		{"cookie:sid", request("/", "Cookie", ";;; ; =;"), MissingKey},
		{"cookie:sid", request("/", "Cookie", `sid="`), h(`"`)},
		{"cookie:sid", request("/"), MissingKey},

		{"query:u", request("/?u=alice"), h("alice")},
		{"query:u", request("/?a=1&u=alice&u=bob"), h("alice")},
		{"query:u", request("/?u=x%20y"), h("x y")},
		{"query:u", request("/?u=x+y"), h("x y")},
		{"query:u", request("/?%75=alice"), h("alice")},
		{"query:u", request("/?uu=1&u"), MissingKey},
		{"query:u", request("/?u=%zz"), h("%zz")}, // malformed: hashed as sent
		{"query:u", request("/?a=1"), MissingKey},
		{"query:u", request("/"), MissingKey},
		{"query:a b", request("/?a+b=1"), h("1")},
		{"query:u", &http.Request{URL: &url.URL{RawQuery: "a=1& u=2"}}, MissingKey},
		{"query:u", &http.Request{URL: &url.URL{RawQuery: "u&u=2"}}, MissingKey},
		{"query:u", &http.Request{URL: &url.URL{RawQuery: "a=u=1&u=2"}}, h("2")},

		{"path", request("/a/b"), h("/a/b")},
		{"path", request("/a%2Fb"), h("/a/b")},

		{"ip", &http.Request{RemoteAddr: "192.0.2.1:5000"}, h("192.0.2.1")},
		{"ip", &http.Request{RemoteAddr: "[2001:db8::1]:5000"}, h("2001:db8::1")},
		{"ip", &http.Request{RemoteAddr: "[2001:db8::1"}, h("[2001:db8::1")},
		{"ip", &http.Request{RemoteAddr: "2001:db8::1"}, h("2001:db8::1")},
		{"ip", &http.Request{RemoteAddr: "192.0.2.1"}, h("192.0.2.1")},
		{"ip", &http.Request{RemoteAddr: ""}, MissingKey},
		{"path", &http.Request{}, MissingKey},
		{"query:u", &http.Request{}, MissingKey},
	} {
		key, err := ParseKey(tc.spec)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", tc.spec, err)
		}
		if got := key(tc.req); got != tc.want {
			t.Errorf("%s on %s %q cookie=%q: got %x, want %x", tc.spec, tc.req.URL, tc.req.RemoteAddr, tc.req.Header.Get("Cookie"), got, tc.want)
		}
	}
}

func TestParseKeyRejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{"", "header", "header:", "cookie:", "query:", "Header:X", "path:/x", "ip:v4", "body", "header:X User", "cookie:a;b", "header:X:Y"} {
		_, err := ParseKey(spec)
		if err == nil {
			t.Errorf("ParseKey(%q): no error", spec)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", spec)) {
			t.Errorf("ParseKey(%q): error %q does not name the spec", spec, err)
		}
	}
}

func TestKeyFuncsDoNotAllocate(t *testing.T) {
	r := request("/some/path?a=1&user=x%20y", "X-User", "alice", "Cookie", "theme=dark; session=0123456789abcdef; lang=en")
	r.RemoteAddr = "[2001:db8::1]:5000"
	for _, spec := range []string{"header:X-User", "header:Host", "cookie:session", "query:user", "path", "ip"} {
		key, err := ParseKey(spec)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { key(r) }); n != 0 {
			t.Errorf("%s: %v allocations per call", spec, n)
		}
	}
}

// TestHashSpreads: sequential keys must spread evenly over 64 buckets of
// the top bits (what the ring's bucket index uses) and of the low bits. The
// chi-square statistic with 63 degrees of freedom exceeds 130 with
// probability below 1e-6.
func TestHashSpreads(t *testing.T) {
	const buckets, keys = 64, 64_000
	var top, low [buckets]float64
	for i := range keys {
		h := hashBytes(fmt.Sprint("user-", i))
		top[h>>58]++
		low[h%buckets]++
	}
	for name, b := range map[string][buckets]float64{"top": top, "low": low} {
		var chi2 float64
		for _, c := range b {
			chi2 += math.Pow(c-keys/buckets, 2) / (keys / buckets)
		}
		if chi2 > 130 {
			t.Errorf("%s bits: chi-square %.1f over %d buckets", name, chi2, buckets)
		}
	}
}

// TestHashIsStable pins the hash: changing it remaps every hashed key (and
// every ring point) on upgrade, and breaks affinity between gateways running
// different versions. Change these values only on purpose.
func TestHashIsStable(t *testing.T) {
	for s, want := range map[string]uint64{
		"":                   0x248870b868db9486,
		"a":                  0x8c1ebf94530c8df7,
		"192.0.2.1":          0xa2534133748ba02f,
		"0123456789abcdefXY": 0xd5575b997932d02d,
	} {
		if got := hashBytes(s); got != want {
			t.Errorf("hash(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestHashDistinguishesLengthsAndBytes(t *testing.T) {
	seen := map[uint64]string{}
	for n := range 20 {
		for _, c := range []byte{0, 1, 'a'} {
			s := strings.Repeat(string(rune(c)), n)
			for i := 0; i <= n; i++ {
				v := s
				if i < n {
					v = s[:i] + "\xff" + s[i+1:]
				}
				h := hashBytes(v)
				if prev, dup := seen[h]; dup && prev != v {
					t.Fatalf("collision: %q and %q", prev, v)
				}
				seen[h] = v
			}
		}
	}
}

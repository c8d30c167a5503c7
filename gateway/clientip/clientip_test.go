package clientip

import (
	"net/http"
	"testing"
)

func TestFromAddr(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4:5":          "1.2.3.4",
		"[::1]:5":            "::1",
		"[fe80::1%eth0]:443": "fe80::1%eth0",
		"1.2.3.4":            "1.2.3.4",
		"::1":                "::1",
		"2001:db8::1":        "2001:db8::1",
		"[::1":               "[::1",
		"":                   "",
		"@":                  "@",
	} {
		if got := FromAddr(in); got != want {
			t.Errorf("FromAddr(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { FromAddr("[2001:db8::1]:443") }); n != 0 {
		t.Errorf("FromAddr allocates %v times", n)
	}
}

func TestAddrAndPrefixes(t *testing.T) {
	ps, err := ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::1/32"})
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]bool{
		"10.1.2.3:80":          true,
		"[::ffff:10.1.2.3]:80": true, // mapped IPv4 is the IPv4 client
		"[2001:db8:5::1]:80":   true, // masked to its network
		"11.0.0.1:80":          false,
		"[fe80::1%eth0]:80":    false,
	} {
		a, ok := Addr(&http.Request{RemoteAddr: remote})
		if !ok || ps.Contains(a) != want {
			t.Errorf("%s: addr %v ok %v, contained %v, want %v", remote, a, ok, ps.Contains(a), want)
		}
	}
	if _, ok := Addr(&http.Request{RemoteAddr: "@"}); ok {
		t.Error("a non-IP peer parsed")
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

package clientip

import (
	"net/http"
	"testing"
)

// Every reader of the client agrees: the host without the port, and for
// prefix checks the unmapped, zoneless address.
func TestClient(t *testing.T) {
	nets, err := ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::1/32", "fe80::/10"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		remote, host string
		inNets, isIP bool
	}{
		{"10.1.2.3:80", "10.1.2.3", true, true},
		{"11.0.0.1:80", "11.0.0.1", false, true},
		{"[::ffff:10.1.2.3]:80", "::ffff:10.1.2.3", true, true}, // a mapped IPv4 client is that IPv4 client
		{"[2001:db8:5::1]:80", "2001:db8:5::1", true, true},     // the CIDR was masked to its network
		{"[fe80::1%eth0]:443", "fe80::1%eth0", true, true},      // zone dropped for matching
		{"[::1]:5", "::1", false, true},
		{"10.9.9.9", "10.9.9.9", true, true}, // no port: whole
		{"2001:db8::7", "2001:db8::7", true, true},
		{"[::1", "[::1", false, false},
		{"@", "@", false, false},
		{"", "", false, false},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote}
		a, ok := Addr(r)
		if Of(r) != c.host || ok != c.isIP || nets.Contains(a) != c.inNets {
			t.Errorf("%q: host %q, addr %v (ok %v), in nets %v; want %q, ok %v, in nets %v",
				c.remote, Of(r), a, ok, nets.Contains(a), c.host, c.isIP, c.inNets)
		}
	}
	if n := testing.AllocsPerRun(100, func() { FromAddr("[2001:db8::1]:443") }); n != 0 {
		t.Errorf("FromAddr allocates %v times", n)
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

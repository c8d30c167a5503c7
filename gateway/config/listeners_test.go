package config

import (
	"strings"
	"testing"
)

// TestListenerClashes: two listeners of one config that bind the same port
// on overlapping addresses are refused at the second, naming the first
// with its FILE:LINE; distinct ports, distinct hosts and port 0 are fine.
func TestListenerClashes(t *testing.T) {
	const rest = `routes:
  - name: all
    pool: p
pools:
  - name: p
    backends: [{address: 127.0.0.1:9001}]
`
	cases := []struct {
		name, head, want string
	}{
		{"wildcard listen vs loopback admin", "listen: 0.0.0.0:80\nadmin: {listen: 127.0.0.1:80}\n",
			`gw.yaml:2: admin.listen: "127.0.0.1:80" clashes with listen "0.0.0.0:80" at gw.yaml:1: both bind port 80`},
		{"empty host vs tls", "listen: :8443\ntls:\n  listen: 10.0.0.1:8443\n  certificates: [{cert_file: c.pem, key_file: k.pem}]\n",
			`gw.yaml:3: tls.listen: "10.0.0.1:8443" clashes with listen ":8443" at gw.yaml:1`},
		{"ipv6 wildcard l4 vs admin", "admin: {listen: 127.0.0.1:9090}\nl4:\n  - name: db\n    listen: \"[::]:9090\"\n    backends: [{address: 127.0.0.1:5432}]\n",
			`gw.yaml:4: l4[0].listen: "[::]:9090" clashes with admin.listen "127.0.0.1:9090" at gw.yaml:1`},
		{"same address", "listen: 127.0.0.1:8080\nadmin: {listen: 127.0.0.1:8080}\n",
			`gw.yaml:2: admin.listen: "127.0.0.1:8080" clashes with listen "127.0.0.1:8080" at gw.yaml:1`},
		{"different hosts", "listen: 127.0.0.1:8080\nadmin: {listen: 127.0.0.2:8080}\n", ""},
		{"ipv4 wildcard vs ipv6 loopback", "listen: 0.0.0.0:8080\nadmin: {listen: \"[::1]:8080\"}\n", ""},
		{"different ports", "listen: :8080\nadmin: {listen: 127.0.0.1:9090}\n", ""},
		{"port 0", "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\n", ""},
		{"admin disabled", "listen: :9090\nadmin: {enabled: false, listen: 127.0.0.1:9090}\n", ""},
	}
	for _, tc := range cases {
		_, err := Parse("gw.yaml", []byte(tc.head+rest))
		switch {
		case tc.want == "" && err != nil && strings.Contains(err.Error(), "clashes"):
			t.Errorf("%s: %v, want no clash", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
		}
	}
}

// TestListenerClashQuick: a config built in Go (gateway proxy) is checked
// too, naming the flag.
func TestListenerClashQuick(t *testing.T) {
	_, err := Quick(QuickProxy{Listen: "127.0.0.1:9090", To: "127.0.0.1:9001", Admin: "127.0.0.1:9090", Strategy: "round_robin"})
	if err == nil || err.Error() != `--admin: "127.0.0.1:9090" clashes with listen "127.0.0.1:9090": both bind port 9090` {
		t.Fatalf("quick proxy with admin on the client port: %v", err)
	}
}

package config

import (
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/l4"
)

// The l4 block is gateway/l4's Config: written zeros stay zeros (no
// sentinels between the file and the proxy), absent keys take its
// defaults, and its errors keep the file's line and the full key.
func TestL4Block(t *testing.T) {
	const head = "routes: [{name: r, pool: p}]\npools: [{name: p, backends: [{address: \"127.0.0.1:1\"}]}]\nl4:\n  - name: t\n    listen: \":7000\"\n"
	c, err := Parse("t.yaml", []byte(head+"    backends: [{address: \"127.0.0.1:2\"}]\n    connect_retries: 0\n    drain_timeout: 0s\n    health_check: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.L4[0]
	if l.ConnectRetries != 0 || l.DrainTimeout != 0 || l.ConnectTimeout != l4.DefaultConnectTimeout || l.Strategy != l4.DefaultStrategy {
		t.Errorf("written zeros or defaults lost: %+v", l)
	}
	if b := l.Backends[0]; b.Weight != 1 || b.ID != b.Address {
		t.Errorf("backend defaults: %+v", b)
	}
	if h := l.Health; h == nil || h.Interval != 5*time.Second || h.UnhealthyThreshold != 3 {
		t.Errorf("health_check defaults: %+v", h)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"port", "    backends: [{address: \"127.0.0.1:0\"}]\n", `t.yaml:6: l4[0].backends[0].address: invalid port "0" in "127.0.0.1:0"; want 1-65535`},
		{"duplicate id", "    backends:\n      - {address: \"127.0.0.1:2\"}\n      - {address: \"127.0.0.1:2\"}\n",
			`t.yaml:8: l4[0].backends[1].id: duplicate backend id "127.0.0.1:2" (same as backends[0]; set id to tell them apart)`},
		{"strategy", "    backends: [{address: \"127.0.0.1:2\"}]\n    strategy: least_response_time\n",
			"t.yaml:7: l4[0].strategy: strategy not supported at L4: least_response_time needs response times, and a TCP proxy only sees connect times; use least_connections"},
		{"health interval", "    backends: [{address: \"127.0.0.1:2\"}]\n    health_check: {interval: 0s}\n", "t.yaml:7: l4[0].health_check.interval: must be positive, got 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("t.yaml", []byte(head+tc.body)); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

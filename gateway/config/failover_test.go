package config

import (
	"strings"
	"testing"
	"time"
)

func TestFailoverAndDiscoveryConfig(t *testing.T) {
	ok := `routes: [{name: r, pool: p}]
pools:
  - name: p
    discovery: {type: asg, asg: web, port: 8080}
failover:
  mode: local
  node: gw-1
  lease: {path: lease.json}
  vip: {address: 10.77.0.100/24, interface: eth0}
`
	c, err := Parse("/etc/drawbridge/t.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Failover
	if f.Lease.Type != LeaseFile || f.Lease.TTL != 3*time.Second || f.Lease.Path != "/etc/drawbridge/lease.json" {
		t.Fatalf("local defaults: %+v", f.Lease)
	}
	if d := c.Pools[0].Discovery; !c.Pools[0].Dynamic() || d.Interval != 15*time.Second || d.Jitter != 0.1 {
		t.Fatalf("discovery defaults: %+v", d)
	}
	c, err = Parse("t.yaml", []byte("routes: [{name: r, pool: p}]\npools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\n"+
		"failover: {mode: aws, lease: {table: leases}, eip: {allocation_id: eipalloc-1, instance_id: i-1}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("t.yaml", []byte("routes: [{name: r, pool: p}]\npools: [{name: p, discovery: {type: asg, asg: g}}]\n"+
		"failover: {mode: aws, node: auto, lease: {table: leases}, eip: {allocation_id: eipalloc-1, instance_id: auto}}\n")); err != nil {
		t.Fatalf("port from tags and per-instance facts from IMDS: %v", err)
	}
	if l := c.Failover.Lease; l.Type != LeaseDynamoDB || l.TTL != 15*time.Second || l.Key != "drawbridge-gateway" {
		t.Fatalf("aws defaults: %+v", l)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"pools: [{name: p, discovery: {type: asg, port: 0}}]", "pools[0].discovery.asg: required with type asg"},
		{"pools: [{name: p, discovery: {type: asg, asg: g, port: 70000}}]", "pools[0].discovery.port"},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: aws, lease: {table: t}, eip: {allocation_id: eipalloc-1, instance_id: self}}", `failover.eip.instance_id: want i-... or auto (from IMDS), got "self"`},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: local, node: auto, lease: {path: l}, vip: {address: 10.0.0.1/24, interface: eth0}}", "failover.node: auto (the instance id from IMDS) needs mode aws"},
		{"pools: [{name: p, discovery: {type: file, jitter: 1.5}}]", "pools[0].discovery.file: required with type file"},
		{"pools: [{name: p, discovery: {type: dns}}]", `pools[0].discovery.type: want static, file or asg, got "dns"`},
		{"pools: [{name: p, discovery: {type: static}}]", "pools[0].backends: at least one backend is required"},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: vrrp}", `failover.mode: want none, local or aws, got "vrrp"`},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: local, lease: {path: l, ttl: 100ms}, vip: {address: 10.0.0.1, interface: eth0}}", "failover.lease.ttl: must be at least 300ms"},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: local, lease: {path: l}, vip: {address: 10.0.0.1, interface: eth0}}", "failover.vip.address: want an address with prefix length"},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: aws, lease: {table: t}, eip: {allocation_id: x, instance_id: i-1}}", "failover.eip.allocation_id"},
		{"pools: [{name: p, backends: [{address: 127.0.0.1:1}]}]\nfailover: {mode: aws, eip: {allocation_id: eipalloc-1, instance_id: i-1}}", "failover.lease.table: required with lease type dynamodb"},
	} {
		_, err := Parse("t.yaml", []byte("routes: [{name: r, pool: p}]\n"+tc.yaml+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
}

// A discovery provider's key under another provider is an error at its
// line, as the autoscaler's kinds are.
func TestDiscoveryMisplacedKey(t *testing.T) {
	_, err := Parse("t.yaml", []byte("routes: [{name: r, pool: p}]\npools:\n  - name: p\n    discovery:\n      type: file\n      file: b.yaml\n      asg: web\n"))
	if err == nil || err.Error() != "t.yaml:7: pools[0].discovery.asg: applies to asg discovery, not file" {
		t.Fatalf("got %v", err)
	}
}

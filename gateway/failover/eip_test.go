package failover

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestEIPFollowsLease: the Elastic IP is associated with whichever node
// acquires the lease, over the EC2 wire protocol, with throttling retried.
func TestEIPFollowsLease(t *testing.T) {
	d := awsdouble.New("us-east-1")
	defer d.Close()
	ia, ib := d.AddInstance("10.0.0.1", "us-east-1a", nil).ID, d.AddInstance("10.0.1.1", "us-east-1b", nil).ID
	alloc := d.AddAddress("198.51.100.7")
	d.FailNext("ec2:AssociateAddress", "RequestLimitExceeded", 2)
	cfg := testkit.AWS(t, d)
	cfg.Retryer = func() aws.Retryer {
		return awsclient.Retryer(awsclient.Options{MaxAttempts: 4, MaxBackoff: 5 * time.Millisecond})
	}
	api := ec2.NewFromConfig(cfg)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "lease.json")
	mk := func(node, instance string) *Controller {
		c, err := New(Config{Node: node, TTL: ttl, Lease: lease.NewFile(path, clk), Clock: clk,
			Address: &EIP{API: api, AllocationID: alloc, InstanceID: instance}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk("a", ia), mk("b", ib)
	ctx := context.Background()
	a.tick(ctx)
	b.tick(ctx)
	if got := d.Association(alloc); got != ia || !a.Status().AddressHeld {
		t.Fatalf("EIP -> %q (held %v), want %s", got, a.Status().AddressHeld, ia)
	}
	calls := 0
	for k, n := range d.Calls() {
		if strings.HasPrefix(k, "ec2:") {
			calls += n
		}
	}
	if calls != 3 {
		t.Fatalf("%d EC2 calls (%v), want 3 (2 throttled and retried)", calls, d.Calls())
	}
	clk.Advance(ttl) // a stopped renewing (dead)
	b.tick(ctx)
	wantRole(t, b, Active, 2)
	if got := d.Association(alloc); got != ib {
		t.Fatalf("EIP -> %q after failover, want %s", got, ib)
	}
}

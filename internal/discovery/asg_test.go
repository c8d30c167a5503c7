package discovery

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// awsConfig points the SDK at d with the project's retryer, so the
// back-off on throttling and 5xx is the one production uses.
func awsConfig(t *testing.T, d *awsdouble.Double) aws.Config {
	cfg := testkit.AWS(t, d)
	cfg.Retryer = func() aws.Retryer {
		return awsclient.Retryer(awsclient.Options{MaxAttempts: 3, MaxBackoff: 5 * time.Millisecond})
	}
	return cfg
}

// newDouble is the AWS double with group "web" of the given instances
// (their lifecycle states, health and addresses as given).
func newDouble(t *testing.T, instances ...awsdouble.Instance) *awsdouble.Double {
	d := awsdouble.New("us-east-1")
	t.Cleanup(d.Close)
	if err := d.AddGroup(awsdouble.Group{Name: "web", Min: 0, Max: 10, Desired: len(instances), AZs: []string{"us-east-1a"}, Instances: instances}); err != nil {
		t.Fatal(err)
	}
	return d
}

func inst(id, state, health, ip string) awsdouble.Instance {
	return awsdouble.Instance{ID: id, Lifecycle: state, Health: health, PrivateIP: ip, AZ: "us-east-1a"}
}

func newASG(t *testing.T, d *awsdouble.Double) *ASG {
	cfg := awsConfig(t, d)
	return &ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web", Port: 8080, Interval: 15 * time.Second, Jitter: 0.1}
}

func TestASGSnapshotWireProtocol(t *testing.T) {
	d := newDouble(t,
		inst("i-1", "InService", "Healthy", "10.0.1.1"),
		inst("i-2", "Pending", "Healthy", "10.0.1.2"),
		inst("i-3", "InService", "Unhealthy", "10.0.1.3"),
		inst("i-4", "InService", "Healthy", "10.0.1.4"),
		inst("i-5", "Terminating:Wait", "Healthy", "10.0.1.5"),
	)
	a := newASG(t, d)
	got, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.Spec{{ID: "i-1", Address: "10.0.1.1:8080", Weight: 1}, {ID: "i-4", Address: "10.0.1.4:8080", Weight: 1}}
	if !slices.Equal(sorted(got), want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Throttling and 5xx are retried with back-off by the shared retryer.
	const describe = "autoscaling:DescribeAutoScalingGroups"
	before := d.Calls()[describe]
	d.FailNext(describe, "Throttling", 1)
	d.FailNext(describe, "ServiceUnavailable", 1)
	if got, err = a.Snapshot(context.Background()); err != nil || len(got) != 2 {
		t.Fatalf("after retries: %v, %v", got, err)
	}
	if n := d.Calls()[describe] - before; n != 3 {
		t.Fatalf("DescribeAutoScalingGroups called %d times, want 3 (2 retried errors)", n)
	}

	a.Group = "nope"
	if _, err := a.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown group: err = %v", err)
	}
}

// TestASGWatchKeepsLastOnFailure polls through Watch with a fake clock: a
// scale-out is applied on the next poll, an API outage keeps the last
// membership, and recovery applies the newest one.
func TestASGWatchKeepsLastOnFailure(t *testing.T) {
	d := newDouble(t, inst("i-1", "InService", "Healthy", "10.0.1.1"))
	a := newASG(t, d)
	clk := clock.NewFake(time.Unix(0, 0))
	a.Clock = clk
	var errs sync.Map
	a.OnError = func(err error) { errs.Store(err.Error(), true) }
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, a, sink, nil) }()

	testkit.Eventually(t, "first membership", func() bool { n, _ := sink.last(); return n == 1 })
	poll := func() { // the poll after the jittered wait (at most 1.1 x 15s)
		testkit.Eventually(t, "the poller to wait", func() bool { return clk.Waiters() > 0 })
		clk.Advance(17 * time.Second)
	}
	if _, err := d.AttachInstance("web", inst("i-2", "InService", "Healthy", "10.0.1.2")); err != nil {
		t.Fatal(err)
	}
	poll()
	testkit.Eventually(t, "scale-out applied", func() bool { _, s := sink.last(); return len(s) == 2 })

	d.FailNext("autoscaling:DescribeAutoScalingGroups", "ServiceUnavailable", -1)
	poll()
	testkit.Eventually(t, "a failed poll", func() bool { n := 0; errs.Range(func(any, any) bool { n++; return true }); return n > 0 })
	if n, s := sink.last(); n != 2 || len(s) != 2 {
		t.Fatalf("outage changed the membership: %d sets, last %v", n, s)
	}

	d.Recover("autoscaling:DescribeAutoScalingGroups")
	d.DetachInstance("i-1")
	poll()
	testkit.Eventually(t, "scale-in applied", func() bool { _, s := sink.last(); return len(s) == 1 && s[0].ID == "i-2" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestJitterBounds(t *testing.T) {
	for range 1000 {
		if d := jittered(10*time.Second, 0.2); d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("jittered = %v", d)
		}
	}
}

package awsdouble_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/drawbridge-dev/drawbridge/autoscaler/lease"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/discovery"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func sdk(url string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestSDKClientsAgainstTheDouble drives the double with the real SDK
// clients and drawbridge's own AWS code: discovery (port from the tag),
// the DynamoDB lease, SetDesiredCapacity launching and terminating through
// the hooks, AssociateAddress, IMDSv2, and AWS-shaped errors.
func TestSDKClientsAgainstTheDouble(t *testing.T) {
	d := awsdouble.New("eu-west-1")
	var mu sync.Mutex
	launched, terminated := 0, 0
	d.Hooks.Launch = func(in awsdouble.Instance) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		launched++
		return "10.0.0." + string(rune('0'+launched)), nil
	}
	d.Hooks.Terminate = func(awsdouble.Instance) { mu.Lock(); terminated++; mu.Unlock() }
	var moved string
	d.Hooks.Associate = func(_, _, inst string) { mu.Lock(); moved = inst; mu.Unlock() }
	if err := d.AddGroup(awsdouble.Group{Name: "web", Min: 1, Max: 3, Desired: 1, AZs: []string{"eu-west-1a"},
		Tags: map[string]string{"drawbridge:pool": "backend", "drawbridge:port": "8080"}}); err != nil {
		t.Fatal(err)
	}
	d.AddTable("leases")
	gw := d.AddInstance("10.1.0.5", "eu-west-1a", nil)
	alloc := d.AddAddress("198.51.100.7")
	srv := httptest.NewServer(d)
	defer srv.Close()
	defer d.Close()
	cfg := sdk(srv.URL)
	ctx := context.Background()

	asg := &discovery.ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web"}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
		}
	}
	waitFor("one backend", func() bool {
		s, err := asg.Snapshot(ctx)
		return err == nil && len(s) == 1 && strings.HasSuffix(s[0].Address, ":8080")
	})

	as := autoscaling.NewFromConfig(cfg)
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(4)}); apiCode(err) != "ValidationError" {
		t.Fatalf("desired above max: %v", err)
	}
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	waitFor("three backends", func() bool { s, err := asg.Snapshot(ctx); return err == nil && len(s) == 3 })
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor("scale-in", func() bool { mu.Lock(); defer mu.Unlock(); return terminated == 2 })

	e := ec2.NewFromConfig(cfg)
	if _, err := e.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String("i-nope")}); apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("unknown instance: %v", err)
	}
	eip := &failover.EIP{API: e, AllocationID: alloc, InstanceID: gw.ID}
	if err := eip.Acquire(ctx); err != nil || d.Association(alloc) != gw.ID || moved != gw.ID {
		t.Fatalf("associate: %v, on %q", err, d.Association(alloc))
	}
	if _, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); apiCode(err) != "InvalidAction" {
		t.Fatalf("unknown action: %v", err)
	}

	ddb := dynamodb.NewFromConfig(cfg)
	clk := clock.NewFake(time.Unix(1000, 0))
	l := lease.NewDynamoDB(ddb, "leases", "k", clk)
	held, tok, err := l.TryAcquire(ctx, "a", time.Second)
	if err != nil || !held || tok != 1 {
		t.Fatalf("first acquire: %v %v %v", held, tok, err)
	}
	if held, _, err := l.TryAcquire(ctx, "b", time.Second); err != nil || held {
		t.Fatalf("b took a live lease: %v %v", held, err)
	}
	clk.Advance(2 * time.Second)
	if held, tok, err := l.TryAcquire(ctx, "b", time.Second); err != nil || !held || tok != 2 {
		t.Fatalf("takeover: %v %v %v", held, tok, err)
	}
	if _, _, err := lease.NewDynamoDB(ddb, "missing", "k", clk).TryAcquire(ctx, "a", time.Second); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("missing table: %v", err)
	}

	md := httptest.NewServer(d.IMDS(gw.ID))
	defer md.Close()
	id, err := failover.LookupIdentity(ctx, imds.New(imds.Options{Endpoint: md.URL}), nil, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || id.InstanceID != gw.ID || id.Region != "eu-west-1" || id.PrivateIP != "10.1.0.5" {
		t.Fatalf("identity: %+v %v", id, err)
	}
	resp, err := md.Client().Get(md.URL + "/latest/meta-data/instance-id")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("IMDSv1 GET without a token: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestTerminationHookDrains: with a termination lifecycle hook, an
// instance leaving on scale-in is out of discovery (Terminating:Wait) while
// its process still runs; the process stops only once the hook's
// heartbeat timeout has passed.
func TestTerminationHookDrains(t *testing.T) {
	const hook = 200 * time.Millisecond
	d := awsdouble.New("eu-west-1")
	var mu sync.Mutex
	n := 0
	stopped := map[string]time.Time{}
	d.Hooks.Launch = func(awsdouble.Instance) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return "10.0.0." + string(rune('0'+n)), nil
	}
	d.Hooks.Terminate = func(in awsdouble.Instance) { mu.Lock(); stopped[in.ID] = time.Now(); mu.Unlock() }
	if err := d.AddGroup(awsdouble.Group{Name: "web", Min: 1, Max: 2, Desired: 2, AZs: []string{"eu-west-1a"},
		Tags: map[string]string{"drawbridge:port": "8080"}, TerminationHook: hook}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	defer d.Close()
	cfg := sdk(srv.URL)
	ctx := context.Background()
	asg := &discovery.ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web"}
	deadline := time.Now().Add(10 * time.Second)
	for s, err := asg.Snapshot(ctx); err != nil || len(s) != 2; s, err = asg.Snapshot(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("two backends: %v %v", s, err)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	scaled := time.Now()
	if _, err := autoscaling.NewFromConfig(cfg).SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	s, err := asg.Snapshot(ctx)
	_, st := d.GroupState("web")
	mu.Lock()
	early := len(stopped)
	mu.Unlock()
	if err != nil || len(s) != 1 || len(st["Terminating:Wait"]) != 1 || early != 0 {
		t.Fatalf("right after scale-in: discovered %v (%v), states %v, %d stopped; want one discovered, one in Terminating:Wait, none stopped", s, err, st, early)
	}
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{st["Terminating:Wait"][0].ID}})
	if err != nil || string(out.Reservations[0].Instances[0].State.Name) != "running" {
		t.Fatalf("an instance held by the hook is still running in EC2: %v %v", out, err)
	}
	d.Close()
	mu.Lock()
	defer mu.Unlock()
	for id, at := range stopped {
		if at.Sub(scaled) < hook {
			t.Fatalf("%s stopped %v after the scale-in, before the hook's %v timeout", id, at.Sub(scaled), hook)
		}
	}
	if len(stopped) != 1 {
		t.Fatalf("stopped %v, want one instance", stopped)
	}
}

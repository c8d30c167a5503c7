package awsdouble_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/drawbridge-dev/drawbridge/autoscaler/loadsource"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func sdk(t *testing.T, d *awsdouble.Double) aws.Config {
	cfg := testkit.AWS(t, d)
	cfg.Region = "eu-west-1"
	return cfg
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
	defer d.Close()
	cfg := sdk(t, d)
	ctx := context.Background()

	asg := &discovery.ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web"}
	testkit.Eventually(t, "one backend", func() bool {
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
	testkit.Eventually(t, "three backends", func() bool { s, err := asg.Snapshot(ctx); return err == nil && len(s) == 3 })
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "scale-in", func() bool { mu.Lock(); defer mu.Unlock(); return terminated == 2 })

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
	defer d.Close()
	cfg := sdk(t, d)
	ctx := context.Background()
	asg := &discovery.ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web"}
	testkit.Eventually(t, "two backends", func() bool { s, err := asg.Snapshot(ctx); return err == nil && len(s) == 2 })
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

// TestCloudWatchGetMetricData reads the metric store with the real SDK
// client over the query protocol: exact dimension match, aggregation per
// period and statistic, pagination, validation, injected failures, and a
// clear error for a CBOR client.
func TestCloudWatchGetMetricData(t *testing.T) {
	d := awsdouble.New("eu-west-1")
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dims := map[string]string{"LoadBalancer": "app/x/1", "AvailabilityZone": "a"}
	for i, v := range []float64{10, 20, 30, 40, 50} { // at 0, 30, 60, 90, 120 s
		d.PutMetric("AWS/ApplicationELB", "RequestCount", dims, t0.Add(time.Duration(i)*30*time.Second), v)
	}
	d.PutMetric("AWS/ApplicationELB", "RequestCount", map[string]string{"LoadBalancer": "app/x/1"}, t0, 1000) // other dimension set
	d.PutMetric("AWS/ApplicationELB", "RequestCount", dims, t0.Add(3*time.Minute), 1000)                      // after EndTime

	client, err := loadsource.NewCloudWatchClient(sdk(t, d), loadsource.ProtocolQuery)
	if err != nil {
		t.Fatal(err)
	}
	in := func(stat string, period int32, scan cwtypes.ScanBy) *cloudwatch.GetMetricDataInput {
		return &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(3 * time.Minute)), ScanBy: scan,
			MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("load"), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("RequestCount"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("AvailabilityZone"), Value: aws.String("a")}, {Name: aws.String("LoadBalancer"), Value: aws.String("app/x/1")}}},
				Period: aws.Int32(period), Stat: aws.String(stat)}}}}
	}
	series := func(out *cloudwatch.GetMetricDataOutput) string {
		var b strings.Builder
		for _, r := range out.MetricDataResults {
			for i, ts := range r.Timestamps {
				fmt.Fprintf(&b, "%s=%g ", ts.UTC().Format("15:04"), r.Values[i])
			}
		}
		return strings.TrimSpace(b.String())
	}
	for _, tc := range []struct {
		stat   string
		period int32
		scan   cwtypes.ScanBy
		want   string
	}{
		{"Sum", 60, cwtypes.ScanByTimestampAscending, "00:00=30 00:01=70 00:02=50"},
		{"Sum", 60, "", "00:02=50 00:01=70 00:00=30"}, // descending by default
		{"Average", 120, cwtypes.ScanByTimestampAscending, "00:00=25 00:02=50"},
		{"Maximum", 180, cwtypes.ScanByTimestampAscending, "00:00=50"},
		{"SampleCount", 120, cwtypes.ScanByTimestampAscending, "00:00=4 00:02=1"},
		{"p50", 180, cwtypes.ScanByTimestampAscending, "00:00=30"},
	} {
		out, err := client.GetMetricData(ctx, in(tc.stat, tc.period, tc.scan))
		if err != nil || series(out) != tc.want || out.MetricDataResults[0].StatusCode != cwtypes.StatusCodeComplete {
			t.Errorf("%s/%d %s: %q (%v), want %q", tc.stat, tc.period, tc.scan, series(out), err, tc.want)
		}
	}

	d.CloudWatchPageSize = 2
	var pages []string
	q := in("Sum", 60, cwtypes.ScanByTimestampAscending)
	for {
		out, err := client.GetMetricData(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, series(out)+"/"+string(out.MetricDataResults[0].StatusCode))
		if out.NextToken == nil {
			break
		}
		q.NextToken = out.NextToken
	}
	if got := strings.Join(pages, " | "); got != "00:00=30 00:01=70/PartialData | 00:02=50/Complete" {
		t.Fatalf("pages: %s", got)
	}

	bad := in("Sum", 90, "")
	if _, err := client.GetMetricData(ctx, bad); apiCode(err) != "InvalidParameterValueException" { // the SDK names the modelled query error InvalidParameterValue so
		t.Errorf("period 90: %v", err)
	}
	bad = in("Sum", 60, "")
	bad.MetricDataQueries[0].Id = aws.String("Load")
	if _, err := client.GetMetricData(ctx, bad); apiCode(err) != "ValidationException" { // query code ValidationError
		t.Errorf("upper-case id: %v", err)
	}
	if _, err := client.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("n"), MetricName: aws.String("m"),
		StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Minute)), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}}); apiCode(err) != "InvalidAction" {
		t.Errorf("unmodelled action: %v", err)
	}
	d.FailNext("monitoring:GetMetricData", "AccessDenied", 1)
	if _, err := client.GetMetricData(ctx, in("Sum", 60, "")); apiCode(err) != "AccessDenied" {
		t.Errorf("injected AccessDenied: %v", err)
	}
	if f := d.Forms("monitoring:GetMetricData"); len(f) == 0 || f[0].Get("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name") != "AvailabilityZone" {
		t.Errorf("recorded forms: %v", f)
	}

	cborClient, err := loadsource.NewCloudWatchClient(sdk(t, d), loadsource.ProtocolCBOR)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cborClient.GetMetricData(ctx, in("Sum", 60, ""))
	if apiCode(err) != "UnsupportedProtocol" || !strings.Contains(err.Error(), "metric.protocol: query") {
		t.Fatalf("CBOR client: %v; want UnsupportedProtocol naming metric.protocol: query", err)
	}
}

// TestFailNextShapes: injected errors reach the SDK clients with their
// codes, in each service's own shape, queued in order, until Recover.
func TestFailNextShapes(t *testing.T) {
	d := awsdouble.New("eu-west-1")
	d.AddTable("leases")
	defer d.Close()
	ctx := context.Background()
	cfg := sdk(t, d)
	l := lease.NewDynamoDB(dynamodb.NewFromConfig(cfg), "leases", "k", clock.NewFake(time.Unix(1000, 0)))
	d.FailNext("dynamodb:UpdateItem", "AccessDeniedException", 1)
	if _, _, err := l.TryAcquire(ctx, "a", time.Second); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("dynamodb: %v", err)
	}
	if held, _, err := l.TryAcquire(ctx, "a", time.Second); err != nil || !held {
		t.Fatalf("dynamodb after the one failure: %v %v", held, err)
	}
	e := ec2.NewFromConfig(cfg)
	d.FailNext("ec2:DescribeInstances", "UnauthorizedOperation", -1)
	for range 2 {
		if _, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); apiCode(err) != "UnauthorizedOperation" {
			t.Fatalf("ec2: %v", err)
		}
	}
	d.Recover("ec2:DescribeInstances")
	if _, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("ec2 after Recover: %v", err)
	}
	if n := d.Calls()["ec2:DescribeInstances"]; n != 3 {
		t.Fatalf("%d DescribeInstances calls, want 3", n)
	}
}

package discovery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drawbridge-dev/drawbridge/autoscaler/awsclient"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// fakeAWS speaks the query protocols (form-encoded Action=..., XML
// answers) of the two operations discovery uses: Auto Scaling's
// DescribeAutoScalingGroups and EC2's DescribeInstances. It checks the
// parameters the SDK sends, so a change in what discovery asks for shows.
type fakeAWS struct {
	mu        sync.Mutex
	group     string
	instances []fakeInstance
	fail      int // answer this many next calls with a server error
	throttle  int // answer this many next calls with Throttling
	calls     map[string]int
}

type fakeInstance struct{ id, state, health, ip string }

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("Action")
	f.calls[action]++
	w.Header().Set("Content-Type", "text/xml")
	if f.throttle > 0 {
		f.throttle--
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		return
	}
	if f.fail > 0 {
		f.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>down</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		return
	}
	switch action {
	case "DescribeAutoScalingGroups":
		var b strings.Builder
		if name := r.PostForm.Get("AutoScalingGroupNames.member.1"); name == f.group {
			fmt.Fprintf(&b, "<member><AutoScalingGroupName>%s</AutoScalingGroupName><Instances>", name)
			for _, in := range f.instances {
				fmt.Fprintf(&b, "<member><InstanceId>%s</InstanceId><LifecycleState>%s</LifecycleState><HealthStatus>%s</HealthStatus></member>", in.id, in.state, in.health)
			}
			b.WriteString("</Instances></member>")
		}
		fmt.Fprintf(w, `<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups>%s</AutoScalingGroups></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>`, b.String())
	case "DescribeInstances":
		var b strings.Builder
		for _, in := range f.instances {
			for k, v := range r.PostForm {
				if strings.HasPrefix(k, "InstanceId.") && v[0] == in.id {
					fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><privateIpAddress>%s</privateIpAddress></item>", in.id, in.ip)
				}
			}
		}
		fmt.Fprintf(w, `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet>%s</instancesSet></item></reservationSet></DescribeInstancesResponse>`, b.String())
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<ErrorResponse><Error><Code>InvalidAction</Code><Message>%s</Message></Error></ErrorResponse>`, action)
	}
}

func (f *fakeAWS) set(fn func(*fakeAWS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// awsConfig points the SDK at srv with the project's retryer, so the
// back-off on throttling and 5xx is the one production uses.
func awsConfig(srv *httptest.Server) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsclient.Retryer(awsclient.Options{MaxAttempts: 3, MaxBackoff: 5 * time.Millisecond})
		},
	}
}

func newASG(t *testing.T, f *fakeAWS) *ASG {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := awsConfig(srv)
	return &ASG{AutoScaling: autoscaling.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), Group: "web", Port: 8080, Interval: 15 * time.Second, Jitter: 0.1}
}

func TestASGSnapshotWireProtocol(t *testing.T) {
	f := &fakeAWS{group: "web", calls: map[string]int{}, instances: []fakeInstance{
		{"i-1", "InService", "Healthy", "10.0.1.1"},
		{"i-2", "Pending", "Healthy", "10.0.1.2"},
		{"i-3", "InService", "Unhealthy", "10.0.1.3"},
		{"i-4", "InService", "Healthy", "10.0.1.4"},
		{"i-5", "Terminating:Wait", "Healthy", "10.0.1.5"},
	}}
	a := newASG(t, f)
	got, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []upstream.Spec{{ID: "i-1", Address: "10.0.1.1:8080", Weight: 1}, {ID: "i-4", Address: "10.0.1.4:8080", Weight: 1}}
	if !slices.Equal(sorted(got), want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Throttling and 5xx are retried with back-off by the shared retryer.
	f.set(func(f *fakeAWS) { f.throttle, f.fail, f.calls = 1, 1, map[string]int{} })
	if got, err = a.Snapshot(context.Background()); err != nil || len(got) != 2 {
		t.Fatalf("after retries: %v, %v", got, err)
	}
	if n := f.calls["DescribeAutoScalingGroups"]; n != 3 {
		t.Fatalf("DescribeAutoScalingGroups called %d times, want 3 (2 retried errors)", n)
	}

	a.Group = "nope"
	if _, err := a.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown group: err = %v", err)
	}
}

// recorder is a Sink that remembers every applied membership.
type recorder struct {
	mu   sync.Mutex
	sets [][]upstream.Spec
}

func (r *recorder) SetBackends(s []upstream.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, s)
	return nil
}

func (r *recorder) last() (int, []upstream.Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return 0, nil
	}
	return len(r.sets), r.sets[len(r.sets)-1]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestASGWatchKeepsLastOnFailure polls through Watch with a fake clock: a
// scale-out is applied on the next poll, an API outage keeps the last
// membership, and recovery applies the newest one.
func TestASGWatchKeepsLastOnFailure(t *testing.T) {
	f := &fakeAWS{group: "web", calls: map[string]int{}, instances: []fakeInstance{{"i-1", "InService", "Healthy", "10.0.1.1"}}}
	a := newASG(t, f)
	clk := clock.NewFake(time.Unix(0, 0))
	a.Clock = clk
	var errs sync.Map
	a.OnError = func(err error) { errs.Store(err.Error(), true) }
	sink := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, a, sink, nil) }()

	eventually(t, "first membership", func() bool { n, _ := sink.last(); return n == 1 })
	poll := func() { // the poll after the jittered wait (at most 1.1 x 15s)
		eventually(t, "the poller to wait", func() bool { return clk.Waiters() > 0 })
		clk.Advance(17 * time.Second)
	}
	f.set(func(f *fakeAWS) {
		f.instances = append(f.instances, fakeInstance{"i-2", "InService", "Healthy", "10.0.1.2"})
	})
	poll()
	eventually(t, "scale-out applied", func() bool { _, s := sink.last(); return len(s) == 2 })

	f.set(func(f *fakeAWS) { f.fail = 1000 })
	poll()
	eventually(t, "a failed poll", func() bool { n := 0; errs.Range(func(any, any) bool { n++; return true }); return n > 0 })
	if n, s := sink.last(); n != 2 || len(s) != 2 {
		t.Fatalf("outage changed the membership: %d sets, last %v", n, s)
	}

	f.set(func(f *fakeAWS) { f.fail = 0; f.instances = f.instances[1:] })
	poll()
	eventually(t, "scale-in applied", func() bool { _, s := sink.last(); return len(s) == 1 && s[0].ID == "i-2" })
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

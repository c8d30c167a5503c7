package actuator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// newDouble is the AWS double (region us-east-1) with one group of the
// given instances, in the lifecycle states given, as found.
func newDouble(t *testing.T, name string, min, max, desired int, states ...string) *awsdouble.Double {
	t.Helper()
	d := awsdouble.New("us-east-1")
	t.Cleanup(d.Close)
	instances := make([]awsdouble.Instance, 0, len(states))
	for _, s := range states {
		instances = append(instances, awsdouble.Instance{Lifecycle: s, AZ: "us-east-1a"})
	}
	if err := d.AddGroup(awsdouble.Group{Name: name, Min: min, Max: max, Desired: desired, AZs: []string{"us-east-1a"}, Instances: instances}); err != nil {
		t.Fatal(err)
	}
	return d
}

// setValues are the DesiredCapacity values that reached the double.
func setValues(d *awsdouble.Double) []int {
	var out []int
	for _, f := range d.Forms("autoscaling:SetDesiredCapacity") {
		n, _ := strconv.Atoi(f.Get("DesiredCapacity"))
		out = append(out, n)
	}
	return out
}

func newASGClient(t *testing.T, api http.Handler) *autoscaling.Client {
	t.Helper()
	cfg := testkit.AWS(t, api)
	// Real back-off shape, tiny bound: the test proves retries happen
	// without waiting seconds for them.
	cfg.Retryer = func() aws.Retryer {
		return awsclient.Retryer(awsclient.Options{MaxAttempts: 4, MaxBackoff: time.Millisecond})
	}
	return autoscaling.NewFromConfig(cfg)
}

func TestAWSActuator(t *testing.T) {
	cases := []struct {
		name        string
		min, max    int
		desired     int
		states      []string
		failNext    []string // error codes of the next DescribeAutoScalingGroups calls
		ask         int
		wantState   autoscaler.GroupState
		wantSet     []int
		wantErr     bool
		wantDescrib int // DescribeAutoScalingGroups calls, retries included
	}{
		{
			name: "lifecycle states", min: 1, max: 10, desired: 4,
			states:    []string{"InService", "InService", "Pending", "Pending:Wait", "Warmed:Running", "Terminating", "Standby"},
			ask:       5,
			wantState: autoscaler.GroupState{Name: "web", Min: 1, Max: 10, Desired: 4, InService: 2, Warming: 3},
			wantSet:   []int{5}, wantDescrib: 1,
		},
		{
			name: "above max is clipped before the call", min: 1, max: 5, desired: 2,
			ask:       50,
			wantState: autoscaler.GroupState{Name: "web", Min: 1, Max: 5, Desired: 2},
			wantSet:   []int{5}, wantDescrib: 1,
		},
		{
			name: "below min is clipped before the call", min: 2, max: 5, desired: 3,
			ask:       0,
			wantState: autoscaler.GroupState{Name: "web", Min: 2, Max: 5, Desired: 3},
			wantSet:   []int{2}, wantDescrib: 1,
		},
		{
			name: "throttling then 503 are retried", min: 1, max: 5, desired: 1,
			failNext:  []string{"Throttling", "ServiceUnavailable"},
			ask:       3,
			wantState: autoscaler.GroupState{Name: "web", Min: 1, Max: 5, Desired: 1},
			wantSet:   []int{3}, wantDescrib: 3,
		},
		{
			name: "persistent throttling gives up with an error", min: 1, max: 5, desired: 1,
			failNext: []string{"Throttling", "Throttling", "Throttling", "Throttling"},
			wantErr:  true, wantDescrib: 4,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDouble(t, "web-asg", tc.min, tc.max, tc.desired, tc.states...)
			for _, code := range tc.failNext {
				d.FailNext("autoscaling:DescribeAutoScalingGroups", code, 1)
			}
			a := NewAWS(newASGClient(t, d), map[string]string{"web": "web-asg"})
			ctx := context.Background()
			st, err := a.Describe(ctx, "web")
			if tc.wantErr {
				if err == nil {
					t.Fatal("Describe: want error, got none")
				}
			} else {
				if err != nil {
					t.Fatalf("Describe: %v", err)
				}
				if st != tc.wantState {
					t.Fatalf("Describe = %+v, want %+v", st, tc.wantState)
				}
				if err := a.SetDesired(ctx, "web", tc.ask, "test"); err != nil {
					t.Fatalf("SetDesired: %v", err)
				}
			}
			if n := d.Calls()["autoscaling:DescribeAutoScalingGroups"]; n != tc.wantDescrib {
				t.Errorf("DescribeAutoScalingGroups calls = %d, want %d (%v)", n, tc.wantDescrib, d.Calls())
			}
			set := setValues(d)
			if fmt.Sprint(set) != fmt.Sprint(tc.wantSet) {
				t.Errorf("SetDesiredCapacity values = %v, want %v", set, tc.wantSet)
			}
			for _, v := range set {
				if v < tc.min || v > tc.max {
					t.Errorf("out-of-range desired %d reached the server", v)
				}
			}
		})
	}
}

func TestAWSActuatorUnknownGroup(t *testing.T) {
	a := NewAWS(newASGClient(t, newDouble(t, "other", 1, 2, 1)), nil)
	if _, err := a.Describe(context.Background(), "web"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("Describe unknown group: err = %v, want not found", err)
	}
	if err := a.SetDesired(context.Background(), "web", 3, "x"); err == nil {
		t.Fatal("SetDesired on unknown group: want error")
	}
}

// The endpoint override of the shared config (as AWS_ENDPOINT_URL or the
// config's aws.endpoint would set it) reaches the Auto Scaling client.
func TestAWSActuatorEndpointFromConfig(t *testing.T) {
	d := awsdouble.New("eu-west-1")
	defer d.Close()
	if err := d.AddGroup(awsdouble.Group{Name: "web", Min: 1, Max: 3, Desired: 2, AZs: []string{"eu-west-1a"}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	cfg, err := awsclient.Load(context.Background(), awsclient.Options{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewAWSFromConfig(cfg, nil).Describe(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if st.Desired != 2 {
		t.Fatalf("Desired = %d, want 2", st.Desired)
	}
}

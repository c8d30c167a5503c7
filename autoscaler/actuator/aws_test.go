package actuator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/awsclient"
)

// fakeASG speaks the Auto Scaling query protocol (form-encoded requests,
// XML answers in the 2011-01-01 namespace), so the real SDK client runs
// unmodified against it. Like emulators, it accepts out-of-range desired
// capacities: the test checks that none reach it.
type fakeASG struct {
	mu        sync.Mutex
	name      string
	min, max  int
	desired   int
	states    []string
	failNext  []int // status codes to answer before serving (429/503 ...)
	calls     []string
	setValues []int
}

const asgNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

func (f *fakeASG) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	action := r.PostForm.Get("Action")
	f.calls = append(f.calls, action)
	if r.PostForm.Get("Version") != "2011-01-01" {
		queryError(w, 400, "InvalidAction", "bad version")
		return
	}
	if len(f.failNext) > 0 {
		code := f.failNext[0]
		f.failNext = f.failNext[1:]
		if code == 400 {
			queryError(w, 400, "Throttling", "Rate exceeded")
		} else {
			queryError(w, code, "InternalFailure", "try again")
		}
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "DescribeAutoScalingGroups":
		var b strings.Builder
		if r.PostForm.Get("AutoScalingGroupNames.member.1") == f.name {
			fmt.Fprintf(&b, "<member><AutoScalingGroupName>%s</AutoScalingGroupName><MinSize>%d</MinSize><MaxSize>%d</MaxSize><DesiredCapacity>%d</DesiredCapacity><Instances>", f.name, f.min, f.max, f.desired)
			for i, s := range f.states {
				fmt.Fprintf(&b, "<member><InstanceId>i-%d</InstanceId><LifecycleState>%s</LifecycleState><HealthStatus>Healthy</HealthStatus></member>", i, s)
			}
			b.WriteString("</Instances></member>")
		}
		fmt.Fprintf(w, `<DescribeAutoScalingGroupsResponse xmlns="%s"><DescribeAutoScalingGroupsResult><AutoScalingGroups>%s</AutoScalingGroups></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>`, asgNS, b.String())
	case "SetDesiredCapacity":
		if r.PostForm.Get("AutoScalingGroupName") != f.name {
			queryError(w, 400, "ValidationError", "AutoScalingGroup name not found")
			return
		}
		n, _ := strconv.Atoi(r.PostForm.Get("DesiredCapacity"))
		f.desired = n
		f.setValues = append(f.setValues, n)
		fmt.Fprintf(w, `<SetDesiredCapacityResponse xmlns="%s"><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></SetDesiredCapacityResponse>`, asgNS)
	default:
		queryError(w, 400, "InvalidAction", action)
	}
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>e1</RequestId></ErrorResponse>`, asgNS, code, msg)
}

func newASGClient(t *testing.T, url string) *autoscaling.Client {
	t.Helper()
	return autoscaling.New(autoscaling.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		// Real back-off shape, tiny bound: the test proves retries happen
		// without waiting seconds for them.
		Retryer: awsclient.Retryer(awsclient.Options{MaxAttempts: 4, MaxBackoff: time.Millisecond}),
	})
}

func TestAWSActuator(t *testing.T) {
	cases := []struct {
		name        string
		min, max    int
		desired     int
		states      []string
		failNext    []int
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
			failNext:  []int{400, 503},
			ask:       3,
			wantState: autoscaler.GroupState{Name: "web", Min: 1, Max: 5, Desired: 1},
			wantSet:   []int{3}, wantDescrib: 3,
		},
		{
			name: "persistent throttling gives up with an error", min: 1, max: 5, desired: 1,
			failNext: []int{400, 400, 400, 400},
			wantErr:  true, wantDescrib: 4,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeASG{name: "web-asg", min: tc.min, max: tc.max, desired: tc.desired, states: tc.states, failNext: tc.failNext}
			srv := httptest.NewServer(f)
			defer srv.Close()
			a := NewAWS(newASGClient(t, srv.URL), map[string]string{"web": "web-asg"})
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
			f.mu.Lock()
			defer f.mu.Unlock()
			n := 0
			for _, c := range f.calls {
				if c == "DescribeAutoScalingGroups" {
					n++
				}
			}
			if n != tc.wantDescrib {
				t.Errorf("DescribeAutoScalingGroups calls = %d, want %d (%v)", n, tc.wantDescrib, f.calls)
			}
			if fmt.Sprint(f.setValues) != fmt.Sprint(tc.wantSet) {
				t.Errorf("SetDesiredCapacity values = %v, want %v", f.setValues, tc.wantSet)
			}
			for _, v := range f.setValues {
				if v < tc.min || v > tc.max {
					t.Errorf("out-of-range desired %d reached the server", v)
				}
			}
		})
	}
}

func TestAWSActuatorUnknownGroup(t *testing.T) {
	srv := httptest.NewServer(&fakeASG{name: "other", min: 1, max: 2})
	defer srv.Close()
	a := NewAWS(newASGClient(t, srv.URL), nil)
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
	f := &fakeASG{name: "web", min: 1, max: 3, desired: 2}
	srv := httptest.NewServer(f)
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

package loadsource

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// exposition serves whatever body the test sets, like a gateway would.
type exposition struct {
	mu     sync.Mutex
	body   string
	status int
}

func (e *exposition) set(status int, body string) {
	e.mu.Lock()
	e.status, e.body = status, body
	e.mu.Unlock()
}

func (e *exposition) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.WriteHeader(e.status)
	fmt.Fprint(w, e.body)
}

func counters(vals map[string]float64) string {
	var b strings.Builder
	b.WriteString("# HELP drawbridge_backend_requests_total Requests forwarded.\n# TYPE drawbridge_backend_requests_total counter\n")
	for k, v := range vals { // k = pool/backend/code
		p := strings.Split(k, "/")
		fmt.Fprintf(&b, "drawbridge_backend_requests_total{pool=%q,backend=%q,code=%q} %g\n", p[0], p[1], p[2], v)
	}
	b.WriteString("# TYPE drawbridge_requests_total counter\ndrawbridge_requests_total{route=\"r\",code=\"2xx\"} 99999\n")
	return b.String()
}

func TestGatewayRates(t *testing.T) {
	type scrape struct {
		after   time.Duration
		status  int
		body    string
		want    []float64 // nil: no sample
		wantErr bool
	}
	cases := []struct {
		name    string
		pool    string
		scrapes []scrape
	}{
		{"first scrape yields no rate, then rate per pool", "web", []scrape{
			{status: 200, body: counters(map[string]float64{"web/a/2xx": 100, "web/b/2xx": 50, "api/x/2xx": 1e6})},
			{after: 10 * time.Second, status: 200, body: counters(map[string]float64{"web/a/2xx": 300, "web/b/2xx": 150, "web/b/5xx": 10, "api/x/2xx": 2e6}),
				want: []float64{31}}, // (200+100+10)/10
		}},
		{"counter reset counts from zero", "web", []scrape{
			{status: 200, body: counters(map[string]float64{"web/a/2xx": 1000})},
			{after: 10 * time.Second, status: 200, body: counters(map[string]float64{"web/a/2xx": 40}), want: []float64{4}},
			{after: 10 * time.Second, status: 200, body: counters(map[string]float64{"web/a/2xx": 140}), want: []float64{10}},
		}},
		{"idle gateway without the family is zero load", "web", []scrape{
			{status: 200, body: "# nothing yet\n"},
			{after: 10 * time.Second, status: 200, body: "", want: []float64{0}},
		}},
		{"failure is an error, never zero", "web", []scrape{
			{status: 200, body: counters(map[string]float64{"web/a/2xx": 1})},
			{after: 10 * time.Second, status: 503, body: "down", wantErr: true},
			{after: 10 * time.Second, status: 200, body: "garbage{{{", wantErr: true},
			{after: 10 * time.Second, status: 200, body: counters(map[string]float64{"web/a/2xx": 301}), want: []float64{10}},
		}},
		{"empty pool sums all pools", "", []scrape{
			{status: 200, body: counters(map[string]float64{"web/a/2xx": 0, "api/x/2xx": 0})},
			{after: 5 * time.Second, status: 200, body: counters(map[string]float64{"web/a/2xx": 10, "api/x/2xx": 15}), want: []float64{5}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := &exposition{}
			srv := httptest.NewServer(exp)
			defer srv.Close()
			clk := clock.NewFake(t0)
			g := NewGateway(srv.URL+"/metrics", srv.Client(), clk)
			for i, s := range tc.scrapes {
				clk.Advance(s.after)
				exp.set(s.status, s.body)
				got, err := g.Query(context.Background(), autoscaler.Query{Metric: tc.pool})
				if (err != nil) != s.wantErr {
					t.Fatalf("scrape %d: err = %v, wantErr %v", i, err, s.wantErr)
				}
				if len(got) != len(s.want) {
					t.Fatalf("scrape %d: got %v, want values %v", i, got, s.want)
				}
				for j := range got {
					if got[j].Value != s.want[j] || !got[j].Time.Equal(clk.Now()) {
						t.Fatalf("scrape %d: got %+v, want %v at %s", i, got[j], s.want[j], clk.Now())
					}
				}
			}
		})
	}
}

func TestPrometheusQueryRange(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		want    []autoscaler.Sample
		wantErr string
	}{
		{"series summed per timestamp, NaN skipped", 200,
			`{"status":"success","data":{"resultType":"matrix","result":[
			 {"metric":{"pool":"a"},"values":[[1767225600,"1.5"],[1767225660,"2"],[1767225720,"NaN"]]},
			 {"metric":{"pool":"b"},"values":[[1767225660,"3"]]}]}}`,
			[]autoscaler.Sample{{Time: t0, Value: 1.5}, {Time: t0.Add(time.Minute), Value: 5}}, ""},
		{"empty result is no data", 200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`, []autoscaler.Sample{}, ""},
		{"error status", 400, `{"status":"error","errorType":"bad_data","error":"parse error"}`, nil, "bad_data"},
		{"not json", 502, `<html>bad gateway</html>`, nil, "502"},
		{"wrong type", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, nil, "vector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got struct{ path, query, start, end, step string }
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.path = r.URL.Path
				q := r.URL.Query()
				got.query, got.start, got.end, got.step = q.Get("query"), q.Get("start"), q.Get("end"), q.Get("step")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			p := NewPrometheus(srv.URL+"/", `sum(rate(x[1m]))`, srv.Client())
			s, err := p.Query(context.Background(), autoscaler.Query{From: t0, To: t0.Add(time.Hour), Step: time.Minute})
			if testkit.WantErr(t, err, tc.wantErr) {
				return
			}
			if got.path != "/api/v1/query_range" || got.query != `sum(rate(x[1m]))` || got.start != "1767225600" || got.end != "1767229200" || got.step != "60" {
				t.Errorf("request = %+v", got)
			}
			if fmt.Sprint(s) != fmt.Sprint(tc.want) {
				t.Errorf("samples = %v, want %v", s, tc.want)
			}
		})
	}
}

func TestCloudWatchQueryProtocol(t *testing.T) {
	d := awsdouble.New("us-east-1")
	d.CloudWatchPageSize = 1 // one datapoint a page: exercises NextToken
	dims := map[string]string{"LoadBalancer": "app/x/1", "AvailabilityZone": "a"}
	for i, v := range []float64{60, 120, 180} {
		d.PutMetric("AWS/ApplicationELB", "RequestCount", dims, t0.Add(time.Duration(i)*time.Minute), v)
	}
	d.PutMetric("AWS/ApplicationELB", "RequestCount", map[string]string{"LoadBalancer": "app/x/1"}, t0, 1e6) // another dimension set
	d.PutMetric("AWS/ApplicationELB", "RequestCount", dims, t0.Add(3*time.Minute), 1e6)                      // at EndTime: outside
	client, err := NewCloudWatchClient(testkit.AWS(t, d), ProtocolQuery)
	if err != nil {
		t.Fatal(err)
	}
	cw := NewCloudWatch(client, CloudWatchMetric{Namespace: "AWS/ApplicationELB", MetricName: "RequestCount",
		Dimensions: map[string]string{"LoadBalancer": "app/x/1", "AvailabilityZone": "a"}})
	got, err := cw.Query(context.Background(), autoscaler.Query{From: t0, To: t0.Add(3 * time.Minute), Step: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Sums per 120 s period (90 s rounded up to whole minutes).
	want := []autoscaler.Sample{{Time: t0, Value: 180}, {Time: t0.Add(2 * time.Minute), Value: 180}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("samples = %v, want %v", got, want)
	}
	forms := d.Forms("monitoring:GetMetricData")
	if len(forms) != 2 {
		t.Fatalf("%d requests, want 2 (paginated)", len(forms))
	}
	f := forms[0]
	for k, v := range map[string]string{
		"MetricDataQueries.member.1.MetricStat.Metric.Namespace":                 "AWS/ApplicationELB",
		"MetricDataQueries.member.1.MetricStat.Metric.MetricName":                "RequestCount",
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name":  "AvailabilityZone",
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Value": "app/x/1",
		"MetricDataQueries.member.1.MetricStat.Period":                           "120", // 90 s rounded up to whole minutes
		"MetricDataQueries.member.1.MetricStat.Stat":                             "Sum",
		"StartTime": "2026-01-01T00:00:00Z",
	} {
		if f.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, f.Get(k), v)
		}
	}
}

func TestCloudWatchErrorsAreReported(t *testing.T) {
	d := awsdouble.New("us-east-1")
	d.FailNext("monitoring:GetMetricData", "AccessDenied", 1)
	client := cloudwatch.NewFromConfig(testkit.AWS(t, d), WithQueryProtocol)
	s, err := NewCloudWatch(client, CloudWatchMetric{Namespace: "n", MetricName: "m"}).Query(context.Background(),
		autoscaler.Query{From: t0, To: t0.Add(time.Minute), Step: time.Minute})
	if err == nil || s != nil {
		t.Fatalf("got %v, %v; want an error and no samples", s, err)
	}
}

func TestCloudWatchProtocolChoice(t *testing.T) {
	if _, err := NewCloudWatchClient(aws.Config{Region: "us-east-1"}, "json"); err == nil {
		t.Fatal("unknown protocol accepted")
	}
	for _, p := range []string{"", ProtocolCBOR, ProtocolQuery} {
		if _, err := NewCloudWatchClient(aws.Config{Region: "us-east-1"}, p); err != nil {
			t.Errorf("protocol %q: %v", p, err)
		}
	}
}

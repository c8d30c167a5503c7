// Package observability_test checks the Grafana dashboard and the
// Prometheus rules in this directory against the metric names the gateway
// and the autoscaler really expose, and runs promtool on the rules.
package observability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	asconfig "github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/daemon"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

const (
	rulesFile     = "alerts.yaml"
	rulesTest     = "alerts_test.yaml"
	dashboardFile = "grafana-dashboard.json"
)

// TestRulesAndDashboardUseRealMetricNames starts a real gateway (with a
// retry, an ejection, an open breaker, a failed reload and the failover
// lease, so that every family has a series) and a real autoscaler daemon
// reading that gateway, scrapes both /metrics over loopback and checks
// that every drawbridge metric named in the rules and the dashboard is
// exposed.
func TestRulesAndDashboardUseRealMetricNames(t *testing.T) {
	exposed := map[string]bool{}
	gwAdmin := startGateway(t)
	for n := range scrapeNames(t, "http://"+gwAdmin+"/metrics") {
		exposed[n] = true
	}
	for n := range scrapeNames(t, startAutoscaler(t, "http://"+gwAdmin)+"/metrics") {
		exposed[n] = true
	}

	rules, recorded := readRules(t)
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for file, text := range map[string]string{rulesFile: rules, dashboardFile: string(dash)} {
		used, records := metricNames(text)
		if len(used) < 10 {
			t.Fatalf("%s: found only %d metric names (%v): the extraction is broken", file, len(used), used)
		}
		for _, n := range used {
			if !exposed[n] {
				t.Errorf("%s: metric %s is not exposed by the gateway or the autoscaler", file, n)
			}
		}
		for _, r := range records {
			if !recorded[r] {
				t.Errorf("%s: %s is not a recording rule of %s", file, r, rulesFile)
			}
		}
	}
}

// TestMetricNameCheckCatchesTypos: the extraction sees a misspelt name in
// an expression, and ignores recording rule names.
func TestMetricNameCheckCatchesTypos(t *testing.T) {
	used, records := metricNames(`expr: sum(rate(drawbridge_requets_total{code="5xx"}[5m])) / job:drawbridge_requests:error_ratio_rate5m`)
	if !slices.Equal(used, []string{"drawbridge_requets_total"}) {
		t.Errorf("used = %v, want the misspelt drawbridge_requets_total", used)
	}
	if !slices.Equal(records, []string{"job:drawbridge_requests:error_ratio_rate5m"}) {
		t.Errorf("records = %v", records)
	}
}

// TestPromtool checks the rules and runs their unit tests with promtool,
// and checks every dashboard query parses as PromQL.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "rules", rulesFile)
	run("test", "rules", rulesTest)

	// Each dashboard query as a recording rule, Grafana's variables
	// replaced by what they stand for, so promtool parses them all.
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$autoscaler_job", ".*", "$job", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			n++
			q := vars.Replace(tg.Expr)
			if strings.Contains(q, "$") {
				t.Errorf("%s: panel %q: unknown variable in %s", dashboardFile, p.Title, tg.Expr)
			}
			fmt.Fprintf(&rules, "      - record: dashboard_query_%d\n        expr: %q\n", n, q)
		}
	}
	if n < 20 {
		t.Fatalf("%s: only %d queries found", dashboardFile, n)
	}
	tmp := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(tmp, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("check", "rules", tmp)
}

var (
	// A metric or recording rule name: PromQL's identifier syntax.
	identRe = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames returns the drawbridge metric names in text, and the
// recording rule names (level:metric:operations) that mention drawbridge.
func metricNames(text string) (used, records []string) {
	seen := map[string]bool{}
	for _, id := range identRe.FindAllString(text, -1) {
		if seen[id] {
			continue
		}
		seen[id] = true
		switch {
		case strings.Contains(id, ":") && strings.Contains(id, "drawbridge_"):
			records = append(records, id)
		case strings.HasPrefix(id, "drawbridge_"):
			used = append(used, id)
		}
	}
	sort.Strings(used)
	sort.Strings(records)
	return used, records
}

// readRules returns the rules file and the names it records.
func readRules(t *testing.T) (string, map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	rec := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				rec[r.Record] = true
			}
		}
	}
	return string(b), rec
}

// scrapeNames returns the series names url exposes: a histogram family X
// also yields X_bucket, X_sum and X_count, as PromQL sees them.
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	names := map[string]bool{}
	for n, f := range fams {
		names[n] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n+"_sum"], names[n+"_count"] = true, true
		}
	}
	return names
}

// startGateway runs a gateway with a good and a failing backend, and
// drives it until every family the rules and the dashboard read has a
// series. It returns the admin address.
func startGateway(t *testing.T) string {
	good := testkit.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	bad := testkit.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))

	dir := t.TempDir()
	path := testkit.WriteFile(t, dir, "gateway.yaml", fmt.Appendf(nil, `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
access_log: {enabled: false}
shutdown_timeout: 1s
routes:
  - name: all
    pool: p
    retry: {retry_on: ["503"], backoff_base: 1ms, backoff_max: 1ms}
pools:
  - name: p
    backends: [{address: %s, id: good}, {address: %s, id: bad}]
    outlier: {consecutive_failures: 2}
    circuit_breaker: {failure_ratio: 0.5, min_requests: 2}
failover:
  mode: local
  node: gw-test
  lease: {path: lease.json, ttl: 5s}
  vip: {address: 192.168.255.1/32, interface: drawbridge-none0}
`, good.Addr(), bad.Addr()))
	reload := make(chan struct{}, 1)
	ready := make(chan server.Listeners, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &server.Runner{ConfigPath: path, Reload: reload, Options: gateway.Options{Logger: slog.New(slog.DiscardHandler)},
		Ready: func(l server.Listeners, _ *gateway.Gateway) { ready <- l }}
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var ls server.Listeners
	select {
	case ls = <-ready:
	case err := <-done:
		t.Fatalf("gateway exited: %v", err)
	}
	admin := "http://" + ls.Admin.String() + "/metrics"
	testkit.Eventually(t, "the gateway to take the failover lease", func() bool {
		return strings.Contains(testkit.Get(t, admin), `drawbridge_failover_role{node="gw-test",role="active"} 1`)
	})

	// Sequential requests alternate between the backends: the failing
	// one's 503s are retried on the good one, and its streak ejects it and
	// opens its breaker.
	for range 6 {
		resp, err := http.Get("http://" + ls.HTTP.String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request through the gateway: %d %q, want 200 (a retry on the good backend)", resp.StatusCode, body)
		}
	}
	m := testkit.Get(t, admin)
	for _, want := range []string{
		`drawbridge_backend_ejections_total{backend="bad",pool="p"} 1`,
		`drawbridge_backend_circuit_opens_total{backend="bad",pool="p"} 1`,
		`drawbridge_backend_ejections_total{backend="good",pool="p"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("gateway /metrics lacks %s", want)
		}
	}

	// A bad edit is refused: drawbridge_config_reloads_total{result="failure"}.
	if err := os.WriteFile(path, []byte("listen: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	testkit.Eventually(t, "the refused reload", func() bool {
		return strings.Contains(testkit.Get(t, admin), `drawbridge_config_reloads_total{result="failure"}`)
	})
	return ls.Admin.String()
}

// startAutoscaler runs two decision rounds of a daemon with a group that
// reads the gateway and one whose source and actuator fail, and serves
// its admin
// handler. It returns the handler's base URL.
func startAutoscaler(t *testing.T, gatewayURL string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens here: the broken group's source fails
	// An Auto Scaling endpoint that refuses every call with an error the
	// SDK does not retry: the broken group's actuator fails at once.
	asg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>refused by the test</Message></Error></ErrorResponse>`)
	}))
	t.Cleanup(asg.Close)

	dir := t.TempDir()
	path := filepath.Join(dir, "autoscaler.yaml")
	cfg := fmt.Sprintf(`interval: 60s
admin: {enabled: false}
lease: {type: file, path: %[1]s, holder: as-test}
aws: {region: us-east-1, endpoint: %[4]q}
groups:
  - name: web
    metric: {source: gateway, url: %[2]q, pool: p}
    capacity_per_instance: 100
    min: 1
    max: 3
    policies: [{type: target_tracking}]
  - name: broken
    metric: {source: gateway, url: "http://%[3]s", pool: p}
    actuator: {type: aws}
    capacity_per_instance: 100
    min: 1
    max: 3
    policies: [{type: target_tracking}]
`, filepath.Join(dir, "lease"), gatewayURL, closed, asg.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := asconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	d, closeFn, err := daemon.FromConfig(ctx, c, daemon.Env{Clock: clock.Real{}, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFn() }) //nolint:errcheck
	// Two rounds: a gateway source needs two scrapes for a rate.
	d.RunOnce(ctx)
	rounds := d.RunOnce(ctx)
	if len(rounds) != 2 || rounds[0].Load == nil || rounds[1].SourceError == "" || !strings.Contains(rounds[1].ActError, "refused by the test") {
		t.Fatalf("rounds: want a load for web, a source and an actuator error for broken, got %+v", rounds)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

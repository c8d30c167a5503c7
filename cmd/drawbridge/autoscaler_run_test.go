package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePrometheus answers every range query with a steady load of 300.
func fakePrometheus(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().Truncate(time.Minute).Unix()
		var vals []string
		for i := int64(20); i >= 0; i-- {
			vals = append(vals, fmt.Sprintf(`[%d,"300"]`, now-60*i))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(vals, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeAutoscalerConfig(t *testing.T, promURL string) (path, stateDir string) {
	dir := t.TempDir()
	stateDir = filepath.Join(dir, "state")
	path = filepath.Join(dir, "autoscaler.yaml")
	cfg := fmt.Sprintf(`interval: 60s
state_dir: %s
admin: {enabled: false}
groups:
  - name: web
    metric: {source: prometheus, url: %q, query: "sum(rate(x[1m]))"}
    min: 1
    max: 5
    policies:
      - type: target_tracking
        target: 100
`, stateDir, promURL)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, stateDir
}

func TestAutoscalerRunOnceAndExplain(t *testing.T) {
	prom := fakePrometheus(t)
	path, stateDir := writeAutoscalerConfig(t, prom.URL)
	if _, err := run(t, "autoscaler", "run", "--config", path, "--once"); err != nil {
		t.Fatalf("run --once: %v", err)
	}
	for _, f := range []string{"history.json", "decisions.json", "core.json"} {
		if _, err := os.Stat(filepath.Join(stateDir, "web", f)); err != nil {
			t.Errorf("--once did not persist %s: %v", f, err)
		}
	}
	out, err := run(t, "autoscaler", "explain", "--config", path, "--group", "web")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	// 300 req/s at 100 per instance: --once took the dry-run group from 1
	// to 3, and explain resumes there (from the persisted decisions).
	for _, want := range []string{"POLICY", "target_tracking", "3 -> 3", "desired 3", "21 datapoints"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

func TestAutoscalerBadInputExit2(t *testing.T) {
	prom := fakePrometheus(t)
	path, _ := writeAutoscalerConfig(t, prom.URL)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("interval: 60s\ngroups:\n  - name: web\n    min: 9\n    max: 2\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"autoscaler", "run"}, "--config is required"},
		{[]string{"autoscaler", "run", "--config", "/nonexistent.yaml"}, "/nonexistent.yaml"},
		{[]string{"autoscaler", "run", "--config", bad}, bad + ":4:"},
		{[]string{"autoscaler", "explain", "--config", path}, "--group is required"},
		{[]string{"autoscaler", "explain", "--config", path, "--group", "api"}, `--group "api": not in`},
		{[]string{"autoscaler", "explain", "--config", path, "--group", "web", "--scrape-window", "-1s"}, "--scrape-window"},
	}
	for _, tc := range cases {
		_, err := run(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want exit 2 mentioning %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

// TestAutoscalerExplainExampleConfig: explain on the shipped example prints
// the conditions and the events (the example's scheduled actions have
// fired), whether or not a gateway answers at the example's metric URL.
func TestAutoscalerExplainExampleConfig(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "autoscaler.yaml")
	out, err := run(t, "autoscaler", "explain", "--config", example, "--group", "web", "--scrape-window", "10ms")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	for _, want := range []string{"Load:", "Load per instance:", "Conditions:", "AbleToScale", "ScalingActive", "ScalingLimited",
		"target_tracking", "Events:", "ScheduledAction", `action "business-hours" set min 4`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "autoscaler", "explain", "--config", example, "--group", "web", "--scrape-window", "10ms", "--json")
	if err != nil {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
	var e struct {
		Conditions []struct{ Type, Status, Reason string }
		Events     []struct{ Reason string }
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil || len(e.Conditions) != 3 || len(e.Events) == 0 {
		t.Fatalf("explain --json: %v: want 3 conditions and events in\n%s", err, out)
	}
}

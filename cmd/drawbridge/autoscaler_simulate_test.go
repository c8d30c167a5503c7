package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimulateJSONOnSharedTrace(t *testing.T) {
	trace := "../../../shared/traces/wikipedia-en-2016-01-per-hour.csv"
	if _, err := os.Stat(trace); err != nil {
		t.Skip("shared traces absent")
	}
	chart := filepath.Join(t.TempDir(), "c.svg")
	out, err := run(t, "autoscaler", "simulate", "--trace", trace, "--json", "--chart", chart)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"policy", "reactive", "oracle"} {
		var m map[string]any
		if err := json.Unmarshal(rep[k], &m); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range []string{"instance_hours", "under_provisioned_time", "under_provisioned_demand", "over_provisioned_time", "over_provisioned_demand", "scaling_actions"} {
			if _, ok := m[f]; !ok {
				t.Errorf("%s.%s missing", k, f)
			}
		}
	}
	var curve []map[string]any
	if err := json.Unmarshal(rep["reactive_curve"], &curve); err != nil || len(curve) != 9 {
		t.Errorf("reactive_curve: %v, %d points, want the default sweep's 9", err, len(curve))
	}
	if _, ok := rep["equal_cost"]; !ok {
		t.Error("equal_cost missing")
	}
	if svg, err := os.ReadFile(chart); err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("chart: %v", err)
	}
}

func TestSimulateWithConfigTable(t *testing.T) {
	trace := writeFile(t, "t.csv", "time,requests\n2026-01-01T00:00:00Z,6000\n2026-01-01T00:01:00Z,12000\n2026-01-01T00:02:00Z,30000\n")
	out, err := run(t, "autoscaler", "simulate", "--trace", trace, "--config", "../../examples/autoscaler.yaml", "--launch-delay", "1m")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"policy under test:", "reactive@", "oracle", "instance_hours", "at equal cost", "columns:", "τO = share of time"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateBadInputExit2(t *testing.T) {
	good := writeFile(t, "t.csv", "time,requests\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n")
	bad := writeFile(t, "bad.csv", "time,requests\n2026-01-01T00:01:00Z,1\n2026-01-01T00:00:00Z,2\n")
	weekCfg := writeFile(t, "w.yaml", "groups:\n  - name: web\n    min: 1\n    max: 5\n    policies: [{type: predictive, forecaster: seasonal_naive_week}]\n")
	badCfg := writeFile(t, "a.yaml", "groups:\n  - name: web\n    min: 5\n    max: 2\n    policies: [{type: target_tracking}]\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "--trace is required"},
		{[]string{"--trace", bad}, "bad.csv:3:"},
		{[]string{"--trace", good, "--launch-delay", "-1m"}, "--launch-delay"},
		{[]string{"--trace", good, "--capacity-per-instance", "0"}, "--capacity-per-instance"},
		{[]string{"--trace", good, "--chart", "x.png"}, "--chart"},
		{[]string{"--trace", good, "--config", badCfg}, "a.yaml:3: groups[0].min"},
		{[]string{"--trace", good, "--config", "../../examples/autoscaler.yaml", "--group", "nope"}, "--group"},
		{[]string{"--trace", good, "--group", "web"}, "--group: needs --config"},
		{[]string{"--trace", good, "--from", "tomorrow"}, "--from: \"tomorrow\""},
		{[]string{"--trace", good, "--from", "2026-01-02", "--to", "2026-01-01"}, "--from 2026-01-02 is not before"},
		{[]string{"--trace", good, "--from", "2027-01-01"}, "holds no interval"},
		{[]string{"--trace", good, "--sweep", "80:40:5"}, "--sweep"},
		{[]string{"--trace", good, "--reactive-target", "0"}, "--reactive-target"},
		{[]string{"--trace", good, "--peak-instances", "-1"}, "--peak-instances"},
		{[]string{"--trace", good, "--config", weekCfg}, "forecaster seasonal_naive_week needs"},
	}
	for _, tc := range tests {
		_, err := run(t, append([]string{"autoscaler", "simulate"}, tc.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want 2 and %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/clock"
)

// scheduledDaemon has one group whose target tracking policy needs 3
// datapoints and a scheduled action that raised min to 4 at 08:00 UTC
// (t0 is noon).
func scheduledDaemon(t *testing.T, clk clock.Clock, src *fakeSource, act *fakeGroup) *Daemon {
	t.Helper()
	cron, err := scaling.ParseCron("0 8 * * *")
	if err != nil {
		t.Fatal(err)
	}
	four := 4
	set := testPolicies()
	set.Scheduled = []scaling.Scheduled{{Name: "scheduled", Actions: []scaling.Action{{Name: "business-hours", Cron: cron, Min: &four}}}}
	d, err := New(Options{
		Groups:   []Group{{Name: "web", Min: 1, Max: 20, Policies: set, Source: src, Metric: "web", Unit: "requests/s", Actuator: act}},
		Interval: interval, Clock: clk, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// explainAfterRounds runs n rounds an interval apart, then explains web
// an interval later.
func explainAfterRounds(t *testing.T, d *Daemon, clk *clock.Fake, n int) Explanation {
	t.Helper()
	for range n {
		clk.Advance(interval)
		d.RunOnce(context.Background())
	}
	clk.Advance(interval)
	e, err := d.Explain(context.Background(), "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func condition(t *testing.T, e Explanation, typ string) Condition {
	t.Helper()
	for _, c := range e.Conditions {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("no %s condition in %+v", typ, e.Conditions)
	return Condition{}
}

// TestExplainConditions: with one datapoint the target tracking policy
// lacks data (INSUFFICIENT_DATA), and its proposal of 1 is raised to the
// scheduled minimum; the text reads like `kubectl describe hpa`.
func TestExplainConditions(t *testing.T) {
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	src.set(5)
	d := scheduledDaemon(t, clk, src, newFakeGroup(1))
	e, err := d.Explain(context.Background(), "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := condition(t, e, "AbleToScale"); c.Status != "True" {
		t.Errorf("AbleToScale = %+v, want True", c)
	}
	if c := condition(t, e, "ScalingActive"); c.Status != "False" || c.Reason != StateInsufficientData || !strings.Contains(c.Message, "target_tracking needs 3") {
		t.Errorf("ScalingActive = %+v, want False INSUFFICIENT_DATA naming target_tracking's 3 datapoints", c)
	}
	if c := condition(t, e, "ScalingLimited"); c.Status != "True" || c.Reason != "TooFewReplicas" || c.Message != "desired 1 raised to the scheduled minimum 4" {
		t.Errorf("ScalingLimited = %+v, want True TooFewReplicas: desired 1 raised to the scheduled minimum 4", c)
	}
	if e.LoadPerInstance == nil || *e.LoadPerInstance != 5 {
		t.Errorf("load per instance = %v, want 5", e.LoadPerInstance)
	}
	var out bytes.Buffer
	if err := e.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`Load: +5 requests/s at 2026-03-02T12:00:00Z \(1 datapoints in history\)`,
		`Load per instance: +5 \(1 in service\) / target 10 \(target_tracking\)`,
		`Min replicas: +4`,
		`ScalingActive +False +INSUFFICIENT_DATA`,
		`ScalingLimited +True +TooFewReplicas +desired 1 raised to the scheduled minimum 4`,
		`target_tracking +INSUFFICIENT_DATA \(1/3\)`,
		`Events:\n.*Type +Reason +Age +Message`,
		`Normal +ScheduledAction +4h0m +scheduled: action "business-hours" set min 4`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("explain output does not match %q:\n%s", re, out.String())
		}
	}
}

// TestExplainEventsAndJSON: a round that scaled out shows as an event,
// enough datapoints make the metric valid, and every JSON key is
// lower-case snake_case.
func TestExplainEventsAndJSON(t *testing.T) {
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	src.set(5)
	d := scheduledDaemon(t, clk, src, newFakeGroup(1))
	e := explainAfterRounds(t, d, clk, 3)
	if c := condition(t, e, "ScalingActive"); c.Status != "True" || c.Reason != "ValidMetricFound" || !strings.Contains(c.Message, "5 requests/s") {
		t.Errorf("ScalingActive = %+v, want True ValidMetricFound with the load and its unit", c)
	}
	found := false
	for _, ev := range e.Events {
		found = found || ev.Reason == "ScaledOut" && strings.HasPrefix(ev.Message, "new size 4 (was 1)")
	}
	if !found {
		t.Errorf("events lack the scale-out from 1 to 4: %+v", e.Events)
	}

	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !key.MatchString(k) {
					t.Errorf("JSON key %s.%s is not lower-case snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", doc)
	for _, k := range []string{`"conditions"`, `"events"`, `"policies"`, `"load_per_instance"`, `"unit"`, `"needed_datapoints"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 42 * time.Second: "42s", 5 * time.Minute: "5m", 14*time.Hour + 20*time.Minute: "14h20m", 72 * time.Hour: "3d"} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestExplainCappedAtMax: a load the maximum cannot serve shows as
// ScalingLimited TooManyReplicas with the wanted count.
func TestExplainCappedAtMax(t *testing.T) {
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	src.set(1000) // 100 instances at the target of 10
	d := newTestDaemon(t, clk, src, newFakeGroup(1), nil, nil, "a", nil)
	e := explainAfterRounds(t, d, clk, 3)
	if c := condition(t, e, "ScalingLimited"); c.Status != "True" || c.Reason != "TooManyReplicas" || c.Message != "desired 100 capped at the configured maximum 20" {
		t.Errorf("ScalingLimited = %+v, want True TooManyReplicas: desired 100 capped at the configured maximum 20", c)
	}
}

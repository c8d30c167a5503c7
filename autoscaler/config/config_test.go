package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("../../examples/autoscaler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != time.Minute || len(c.Groups) != 1 {
		t.Fatalf("config %+v", c)
	}
	g := &c.Groups[0]
	set := g.PolicySet()
	if len(set.TargetTracking) != 1 || len(set.Predictive) != 1 || len(set.Step) != 1 || len(set.Scheduled) != 1 {
		t.Fatalf("policy set %+v", set)
	}
	if tgt := set.TargetTracking[0].Target; tgt != 70 {
		t.Errorf("target tracking target %g, want 70 (70%% of capacity_per_instance)", tgt)
	}
	if a := set.Scheduled[0].Actions[0]; a.Location.String() != "Europe/Paris" || a.Cron.String() != "0 8 * * 1-5" || *a.Min != 4 {
		t.Errorf("first action %+v", a)
	}
	if set.Behavior.ScaleInStabilization != 300*time.Second {
		t.Errorf("behavior %+v", set.Behavior)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("a.yaml", []byte("groups:\n  - name: web\n    policies:\n      - type: target_tracking\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Groups[0]
	p, ok := g.Policies[0].Spec.(*TargetTrackingPolicy)
	if !ok {
		t.Fatalf("policy config %T, want *TargetTrackingPolicy", g.Policies[0].Spec)
	}
	if c.Interval != 60*time.Second || c.Lease.Type != "none" || c.Lease.TTL != 15*time.Second || !c.Admin.Enabled ||
		g.Min != 1 || g.Max != 20 || g.CapacityPerInstance != 100 || g.Warmup != time.Minute || g.Actuator.Type != "dry_run" ||
		g.Metric.Source != "gateway" || g.Behavior.ScaleInStabilization != 300*time.Second ||
		p.ScaleOutDatapoints != 3 || p.ScaleInDatapoints != 15 || p.ScaleInRatio != 0.9 || p.Tolerance != 0.1 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

const base = `interval: 60s
groups:
  - name: web
    min: 1
    max: 5
    policies:
      - type: target_tracking
`

func TestErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"min > max", strings.Replace(base, "min: 1", "min: 9", 1), "a.yaml:4: groups[0].min: min 9 is greater than max 5"},
		{"unknown policy type", strings.Replace(base, "target_tracking", "magic", 1), "a.yaml:7: groups[0].policies[0].type: unknown policy type \"magic\""},
		{"unknown key", base + "        targett: 3\n", "a.yaml:8: groups[0].policies[0].targett: unknown key"},
		{"invalid cron", base + "      - type: scheduled\n        actions:\n          - cron: \"0 25 * * *\"\n            min: 2\n", "a.yaml:10: groups[0].policies[1].actions[0].cron: cron \"0 25 * * *\": hour: value 25 out of range 0-23"},
		{"invalid time zone", base + "      - type: scheduled\n        actions:\n          - cron: \"0 8 * * *\"\n            time_zone: Mars/Olympus\n            min: 2\n", "a.yaml:11: groups[0].policies[1].actions[0].time_zone: unknown IANA time zone \"Mars/Olympus\""},
		{"action sets nothing", base + "      - type: scheduled\n        actions:\n          - at: \"2030-01-01T00:00:00Z\"\n", "groups[0].policies[1].actions[0].min: an action sets at least one"},
		{"bad duration", strings.Replace(base, "60s", "sixty", 1), "a.yaml:1: interval:"},
		{"no groups", "interval: 60s\n", "groups: at least one group is required"},
		{"step without steps", base + "      - type: step\n        threshold: 5\n", "groups[0].policies[1].steps: at least one step is required"},
		{"M > N", base + "      - type: step\n        datapoints_to_alarm: 3\n        evaluation_periods: 2\n        steps: [{adjustment: 1}]\n", "a.yaml:9: groups[0].policies[1].datapoints_to_alarm: must be 1..evaluation_periods"},
		{"overlapping steps", base + "      - type: step\n        steps: [{upper: 10, adjustment: 1}, {lower: 5, adjustment: 2}]\n", "groups[0].policies[1].steps[1]: overlaps steps[0]"},
		{"bad buffer quantile", base + "      - type: predictive\n        buffer_quantile: 1.5\n", "a.yaml:9: groups[0].policies[1].buffer_quantile: must be 0 (off) or in [0.5, 1), got 1.5"},
		{"negative miss cost", base + "      - type: predictive\n        buffer_quantile: 0.9\n        buffer_miss_cost: -1\n", "a.yaml:10: groups[0].policies[1].buffer_miss_cost: must be a non-negative number, got -1"},
		{"miss cost without quantile", base + "      - type: predictive\n        buffer_miss_cost: 1\n", "a.yaml:9: groups[0].policies[1].buffer_miss_cost: needs buffer_quantile"},
		{"no-skill target without skill", base + "      - type: predictive\n        no_skill_target: 7\n", "a.yaml:9: groups[0].policies[1].no_skill_target: needs require_skill: true"},
		{"negative cold-start target", base + "      - type: predictive\n        cold_start_target: -2\n", "a.yaml:9: groups[0].policies[1].cold_start_target: must be a non-negative number, got -2"},
		{"no_skill_target misplaced", base + "        no_skill_target: 7\n", "a.yaml:8: groups[0].policies[0].no_skill_target: applies to predictive policies, not target_tracking"},
		{"require_skill misplaced", base + "        require_skill: true\n", "a.yaml:8: groups[0].policies[0].require_skill: applies to predictive policies, not target_tracking"},
		{"negative lookahead", base + "        lookahead: -1m\n", "a.yaml:8: groups[0].policies[0].lookahead: must be 0..1h, got -1m0s"},
		{"bad predictive mode", base + "      - type: predictive\n        mode: guess\n", "a.yaml:9: groups[0].policies[1].mode: must be one of"},
		{"duplicate group", base + "  - name: web\n", "a.yaml:8: groups[1].name: duplicate group \"web\""},
		{"key of another type", base + "        threshold: 5\n", "a.yaml:8: groups[0].policies[0].threshold: applies to step policies, not target_tracking"},
		{"lease file without path", "lease: {type: file}\n" + base, "a.yaml:1: lease.path: required for a file lease"},
		{"gateway lease without url", "lease: {type: gateway}\n" + base, "a.yaml:1: lease.url: want the gateway's admin URL, http(s)://HOST:PORT, got \"\""},
		{"tracing endpoint", "tracing: {enabled: true, endpoint: \"collector:4318\"}\n" + base, "a.yaml:1: tracing.endpoint: want an http:// or https:// URL"},
		{"tracing ratio", "tracing:\n  sample_ratio: -1\n" + base, "a.yaml:2: tracing.sample_ratio: want a number from 0 to 1, got -1"},
		{"log level", "log: {level: chatty}\n" + base, "a.yaml:1: log.level: want debug, info, warn or error, got \"chatty\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			var e *yamlconf.Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not a *yamlconf.Error", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("/nonexistent/autoscaler.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// One valid snippet per registered kind: what a user writes to pick it.
// Every registered kind must have one (the test fails for a new kind
// without), so each is decoded, validated and built at least once.
var kindSnippets = map[string]map[string]string{
	"lease": {
		LeaseNone:     "lease: {type: none}\n",
		LeaseFile:     "lease: {type: file, path: /tmp/l.json}\n",
		LeaseDynamoDB: "lease: {type: dynamodb, table: leases}\n",
		LeaseGateway:  "lease: {type: gateway, url: \"http://127.0.0.1:9090\"}\n",
	},
	"metric": {
		SourceGateway:    "groups: [{name: web, metric: {source: gateway, url: \"http://127.0.0.1:9090\", pool: p}}]\n",
		SourcePrometheus: "groups: [{name: web, metric: {source: prometheus, url: \"http://127.0.0.1:9092\", query: up}}]\n",
		SourceCloudWatch: "groups: [{name: web, metric: {source: cloudwatch, namespace: N, metric_name: M, protocol: query}}]\n",
	},
	"actuator": {
		ActuatorDryRun: "groups: [{name: web, actuator: {type: dry_run}}]\n",
		ActuatorAWS:    "groups: [{name: web, actuator: {type: aws, asg_name: asg}}]\n",
		ActuatorLocal:  "groups: [{name: web, actuator: {type: local, backend_command: [true], base_port: 20000}}]\n",
	},
	"policy": {
		TypeTargetTracking: "groups: [{name: web, policies: [{type: target_tracking, target: 50}]}]\n",
		TypeStep:           "groups: [{name: web, policies: [{type: step, threshold: 5, steps: [{adjustment: 1}]}]}]\n",
		TypePredictive:     "groups: [{name: web, policies: [{type: predictive, mode: forecast_only}]}]\n",
		TypeScheduled:      "groups: [{name: web, policies: [{type: scheduled, actions: [{cron: \"0 8 * * *\", min: 2}]}]}]\n",
	},
}

// withGroup completes a snippet into a whole config.
func withGroup(snippet string) string {
	if strings.HasPrefix(snippet, "groups:") {
		return snippet
	}
	return snippet + "groups: [{name: web}]\n"
}

func testEnv() Env {
	return Env{Clock: clock.Real{}, AWS: func() (aws.Config, error) { return aws.Config{Region: "us-east-1"}, nil }}
}

func TestEveryRegisteredKindRoundTrips(t *testing.T) {
	registries := map[string][]string{"lease": LeaseKinds(), "metric": SourceKinds(), "actuator": ActuatorKinds(), "policy": PolicyKinds()}
	for what, names := range registries {
		for _, name := range names {
			t.Run(what+"/"+name, func(t *testing.T) {
				snippet, ok := kindSnippets[what][name]
				if !ok {
					t.Fatalf("no snippet for the registered %s %q: add one to kindSnippets", what, name)
				}
				c, err := Parse("k.yaml", []byte(withGroup(snippet)))
				if err != nil {
					t.Fatal(err)
				}
				g := &c.Groups[0]
				var got string
				switch what {
				case "lease":
					got = leaseKinds.NameOf(c.Lease.Spec)
					l, err := c.Lease.Build(testEnv())
					if err != nil || (l == nil) != (name == LeaseNone) {
						t.Errorf("Build = %v, %v", l, err)
					}
				case "metric":
					got = sourceKinds.NameOf(g.Metric.Spec)
					if s, err := g.Metric.Build(g.Name, testEnv()); err != nil || s.MetricSource == nil {
						t.Errorf("Build = %+v, %v", s, err)
					}
				case "actuator":
					got = actuatorKinds.NameOf(g.Actuator.Spec)
					a, err := g.Actuator.Build(g, testEnv())
					if err != nil || a.Actuator == nil {
						t.Errorf("Build = %+v, %v", a, err)
					}
					if a.Close != nil {
						a.Close()
					}
				case "policy":
					got = policyKinds.NameOf(g.Policies[0].Spec)
					set := g.PolicySet()
					if n := len(set.TargetTracking) + len(set.Step) + len(set.Predictive) + len(set.Scheduled); n != 1 {
						t.Errorf("PolicySet has %d policies, want 1: %+v", n, set)
					}
				}
				if got != name {
					t.Errorf("decoded a %s config, want %s", got, name)
				}
			})
		}
	}
}

func TestUnknownKindNamesTheKnownOnes(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"lease: {type: dynamo, table: t}\n" + base,
			`k.yaml:1: lease.type: unknown lease type "dynamo" (did you mean "dynamodb"?); want one of none, file, dynamodb, gateway`},
		{"groups: [{name: web, metric: {source: promethus}}]\n",
			`k.yaml:1: groups[0].metric.source: unknown metric source "promethus" (did you mean "prometheus"?); want one of gateway, prometheus, cloudwatch`},
		{"groups: [{name: web, actuator: {type: dryrun}}]\n",
			`k.yaml:1: groups[0].actuator.type: unknown actuator type "dryrun" (did you mean "dry_run"?); want one of dry_run, aws, local`},
		{strings.Replace(base, "target_tracking", "target", 1),
			`k.yaml:7: groups[0].policies[0].type: unknown policy type "target" (did you mean "target_tracking"?); want one of target_tracking, step, predictive, scheduled`},
		{base + "      - name: x\n",
			`k.yaml:8: groups[0].policies[1].type: required; want one of target_tracking, step, predictive, scheduled`},
	} {
		_, err := Parse("k.yaml", []byte(tc.yaml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("error %v\nwant  %s", err, tc.want)
		}
	}
}

// The flat Policy of old could not see a misplaced key on a policy's
// first line; each kind's own config type sees it wherever it is.
func TestMisplacedKeyIsAnErrorWhereverWritten(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"policy, flow style", "groups: [{name: web, policies: [{type: target_tracking, threshold: 5}]}]\n",
			"k.yaml:1: groups[0].policies[0].threshold: applies to step policies, not target_tracking"},
		{"policy, before its type", base + "      - threshold: 5\n        type: predictive\n",
			"k.yaml:8: groups[0].policies[1].threshold: applies to step policies, not predictive"},
		{"policy, shared by two types", base + "      - type: scheduled\n        target: 5\n        actions: [{at: \"2030-01-01T00:00:00Z\", min: 1}]\n",
			"k.yaml:9: groups[0].policies[1].target: applies to target_tracking and predictive policies, not scheduled"},
		{"lease", "lease:\n  type: file\n  path: /l\n  table: t\n" + base,
			"k.yaml:4: lease.table: applies to dynamodb leases, not file"},
		{"lease, default type", "lease: {url: \"http://x:1\"}\n" + base,
			"k.yaml:1: lease.url: applies to gateway leases, not none"},
		{"metric", "groups: [{name: web, metric: {source: gateway, query: up}}]\n",
			"k.yaml:1: groups[0].metric.query: applies to prometheus metric sources, not gateway"},
		{"actuator", "groups:\n  - name: web\n    actuator:\n      base_port: 9000\n      type: aws\n",
			"k.yaml:4: groups[0].actuator.base_port: applies to local actuators, not aws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant  %s", err, tc.want)
			}
		})
	}
}

// A configuration built in Go may leave the kinds' configs out: Check
// fills them in from the names, and refuses a config of another kind.
func TestCheckFillsAndMatchesKinds(t *testing.T) {
	c := &Config{Interval: 60_000_000_000, Lease: Lease{Type: LeaseNone, TTL: 1}, Groups: []Group{{
		Name: "web", CapacityPerInstance: 100, Min: 1, Max: 2,
		Actuator: Actuator{Type: ActuatorDryRun}, Metric: Metric{Source: SourceGateway},
		Policies: []Policy{{Type: TypeTargetTracking}},
	}}}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	g := c.Groups[0]
	for _, spec := range []any{c.Lease.Spec, g.Actuator.Spec, g.Metric.Spec, g.Policies[0].Spec} {
		if reflect.ValueOf(spec).IsNil() {
			t.Errorf("a config left nil: %+v", c)
		}
	}
	if tt := g.Policies[0].Spec.(*TargetTrackingPolicy); tt.ScaleInDatapoints != 15 {
		t.Errorf("defaults not applied: %+v", tt)
	}
	c.Lease = Lease{Type: LeaseFile, TTL: 1, Spec: &DynamoDBLease{Table: "t"}}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`lease.type: %q, but its keys are a dynamodb's`, LeaseFile)) {
		t.Errorf("mismatched kind: %v", err)
	}
}

// Building from a configuration whose kind configs were left out uses the
// named kind's defaults; an unknown name is an error, not a panic.
func TestBuildWithoutSpec(t *testing.T) {
	g := &Group{Name: "web", Min: 1, Max: 2, Actuator: Actuator{Type: ActuatorDryRun}, Metric: Metric{Source: SourceGateway}}
	if a, err := g.Actuator.Build(g, testEnv()); err != nil || a.Actuator == nil {
		t.Errorf("actuator: %+v, %v", a, err)
	}
	if _, err := g.Metric.Build(g.Name, testEnv()); err == nil || !strings.Contains(err.Error(), "metric.url: required") {
		t.Errorf("gateway source without url: %v", err)
	}
	l := Lease{Type: "zookeeper"}
	if _, err := l.Build(testEnv()); err == nil || !strings.Contains(err.Error(), `unknown lease type "zookeeper"`) {
		t.Errorf("unknown lease: %v", err)
	}
}

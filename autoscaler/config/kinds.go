package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/actuator"
	"github.com/drawbridge-dev/drawbridge/autoscaler/loadsource"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Each kind (lease backend, metric source, actuator, policy type) registers
// once, below: its name, its config type (yamlconf decodes `type:` into it,
// so a key of another kind is an error at its line), and through that type
// its validator (check) and constructor (build). Adding a kind is adding
// an entry and a type; nothing else switches on the names.

// Env is what building a kind needs besides its config.
type Env struct {
	Clock      clock.Clock
	Log        *slog.Logger
	HTTPClient *http.Client // gateway and Prometheus sources, gateway lease (nil: defaults)
	// AWS returns the shared AWS configuration, loaded on first use (a
	// local setup needs no credentials or region).
	AWS func() (aws.Config, error)
	// Sink returns where a local group's backends are registered (a local
	// gateway's pool); nil or a nil result registers nowhere.
	Sink func(group string) discovery.Sink
	// Resume returns the desired capacity a dry run last left a group at.
	Resume func(group string) (desired int, ok bool)
}

// Lease backends.
const (
	LeaseNone     = "none"
	LeaseFile     = "file"
	LeaseDynamoDB = "dynamodb"
	// LeaseGateway follows the local gateway's failover role: the daemon
	// acts while the gateway at url reports itself active (/status), with
	// the gateway's fencing token. For an autoscaler placed on the
	// gateways, so it acts where the traffic (and the metrics) is.
	LeaseGateway = "gateway"
)

// LeaseSpec is the config of one lease backend.
type LeaseSpec interface {
	check(v *validator, key string)
	build(env Env) (autoscaler.Lease, error) // nil: no lease (a single replica)
}

var leaseKinds = yamlconf.NewKinds("lease type", "leases",
	yamlconf.Kind[LeaseSpec]{Name: LeaseNone, New: func() LeaseSpec { return new(NoLease) }},
	yamlconf.Kind[LeaseSpec]{Name: LeaseFile, New: func() LeaseSpec { return new(FileLease) }},
	yamlconf.Kind[LeaseSpec]{Name: LeaseDynamoDB, New: func() LeaseSpec { return new(DynamoDBLease) }},
	yamlconf.Kind[LeaseSpec]{Name: LeaseGateway, New: func() LeaseSpec { return new(GatewayLease) }},
)

func (l *Lease) Union() (string, any) { return "type", leaseKinds }

// NoLease: this replica always acts.
type NoLease struct{}

func (*NoLease) check(*validator, string)            {}
func (*NoLease) build(Env) (autoscaler.Lease, error) { return nil, nil }

// FileLease is a lock-protected JSON file (replicas on one machine).
type FileLease struct {
	Path string `yaml:"path"`
}

func (f *FileLease) check(v *validator, key string) {
	if f.Path == "" {
		v.add(key+".path", "required for a file lease")
	}
}

func (f *FileLease) build(env Env) (autoscaler.Lease, error) {
	return lease.NewFile(f.Path, env.Clock), nil
}

// DynamoDBLease is an item of a DynamoDB table updated with conditional
// writes.
type DynamoDBLease struct {
	Table string `yaml:"table"`
}

func (d *DynamoDBLease) check(v *validator, key string) {
	if d.Table == "" {
		v.add(key+".table", "required for a dynamodb lease")
	}
}

func (d *DynamoDBLease) build(env Env) (autoscaler.Lease, error) {
	c, err := env.AWS()
	if err != nil {
		return nil, err
	}
	return lease.NewDynamoDB(dynamodb.NewFromConfig(c), d.Table, "drawbridge-autoscaler", env.Clock), nil
}

// GatewayLease is held while the gateway at URL is the active one.
type GatewayLease struct {
	URL string `yaml:"url"` // the local gateway's admin URL
}

func (g *GatewayLease) check(v *validator, key string) {
	if u, err := url.Parse(g.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key+".url", "want the gateway's admin URL, http(s)://HOST:PORT, got %q", g.URL)
	}
}

func (g *GatewayLease) build(env Env) (autoscaler.Lease, error) {
	return lease.NewGateway(g.URL, env.HTTPClient), nil
}

// Metric sources.
const (
	SourceGateway    = "gateway"
	SourcePrometheus = "prometheus"
	SourceCloudWatch = "cloudwatch"
)

// Source is a built metric source and how the daemon asks it.
type Source struct {
	autoscaler.MetricSource
	Metric string // the query's Metric
	Range  bool   // the source keeps history: ask it for ranges
	// Unit names what the load counts, for explain ("" when the source
	// does not say, as for a PromQL expression).
	Unit string
}

// SourceSpec is the config of one metric source.
type SourceSpec interface {
	check(v *validator, key string)
	build(group string, env Env) (Source, error)
}

var sourceKinds = yamlconf.NewKinds("metric source", "metric sources",
	yamlconf.Kind[SourceSpec]{Name: SourceGateway, New: func() SourceSpec { return new(GatewaySource) }},
	yamlconf.Kind[SourceSpec]{Name: SourcePrometheus, New: func() SourceSpec { return new(PrometheusSource) }},
	yamlconf.Kind[SourceSpec]{Name: SourceCloudWatch, New: func() SourceSpec { return new(CloudWatchSource) }},
)

func (m *Metric) Union() (string, any) { return "source", sourceKinds }

// GatewaySource scrapes a drawbridge gateway's /metrics.
type GatewaySource struct {
	URL  string `yaml:"url"`  // the gateway's admin URL
	Pool string `yaml:"pool"` // "" = the group name
}

// check leaves the URL to build: a config that is only simulated needs none.
func (*GatewaySource) check(*validator, string) {}

func (s *GatewaySource) build(group string, env Env) (Source, error) {
	u, err := gatewayMetricsURL(s.URL)
	if err != nil {
		return Source{}, fmt.Errorf("metric.url: %w", err)
	}
	pool := s.Pool
	if pool == "" {
		pool = group
	}
	return Source{MetricSource: loadsource.NewGateway(u, env.HTTPClient, env.Clock), Metric: pool, Unit: "requests/s"}, nil
}

// PrometheusSource asks a Prometheus HTTP API.
type PrometheusSource struct {
	URL   string `yaml:"url"`   // Prometheus base URL
	Query string `yaml:"query"` // PromQL
}

func (s *PrometheusSource) check(v *validator, key string) {
	if s.Query == "" {
		v.add(key+".query", "required for a prometheus source")
	}
}

func (s *PrometheusSource) build(_ string, env Env) (Source, error) {
	return Source{MetricSource: loadsource.NewPrometheus(s.URL, s.Query, env.HTTPClient), Range: true}, nil
}

// CloudWatchSource reads a CloudWatch metric.
type CloudWatchSource struct {
	Namespace  string            `yaml:"namespace"`
	MetricName string            `yaml:"metric_name"`
	Dimensions map[string]string `yaml:"dimensions"`
	Statistic  string            `yaml:"statistic"` // Sum
	// Protocol is the CloudWatch wire protocol: cbor (the SDK's default,
	// Smithy RPC v2) or query, for emulators that only speak the older one.
	Protocol string `yaml:"protocol"`
}

func (s *CloudWatchSource) SetDefaults() { s.Statistic = "Sum" }

func (s *CloudWatchSource) check(v *validator, key string) {
	if s.MetricName == "" {
		v.add(key+".metric_name", "required for a cloudwatch source")
	}
	if p := s.Protocol; p != "" && p != "cbor" && p != "query" {
		v.add(key+".protocol", "want cbor or query, got %q", p)
	}
}

func (s *CloudWatchSource) build(_ string, env Env) (Source, error) {
	c, err := env.AWS()
	if err != nil {
		return Source{}, fmt.Errorf("metric: %w", err)
	}
	client, err := loadsource.NewCloudWatchClient(c, s.Protocol)
	if err != nil {
		return Source{}, fmt.Errorf("metric.protocol: %w", err)
	}
	return Source{MetricSource: loadsource.NewCloudWatch(client, loadsource.CloudWatchMetric{Namespace: s.Namespace,
		MetricName: s.MetricName, Dimensions: s.Dimensions, Statistic: s.Statistic, Protocol: s.Protocol}),
		Range: true, Unit: s.Statistic + " of " + s.MetricName + " per datapoint"}, nil
}

// Actuators.
const (
	ActuatorDryRun = "dry_run"
	ActuatorAWS    = "aws"
	ActuatorLocal  = "local"
)

// Built is a built actuator and what stops it (nil: nothing).
type Built struct {
	autoscaler.Actuator
	Close func() error
}

// ActuatorSpec is the config of one actuator.
type ActuatorSpec interface {
	check(v *validator, key string)
	build(g *Group, env Env) (Built, error)
}

var actuatorKinds = yamlconf.NewKinds("actuator type", "actuators",
	yamlconf.Kind[ActuatorSpec]{Name: ActuatorDryRun, New: func() ActuatorSpec { return new(DryRunActuator) }},
	yamlconf.Kind[ActuatorSpec]{Name: ActuatorAWS, New: func() ActuatorSpec { return new(AWSActuator) }},
	yamlconf.Kind[ActuatorSpec]{Name: ActuatorLocal, New: func() ActuatorSpec { return new(LocalActuator) }},
)

func (a *Actuator) Union() (string, any) { return "type", actuatorKinds }

// DryRunActuator logs decisions and changes nothing.
type DryRunActuator struct{}

func (*DryRunActuator) check(*validator, string) {}

func (*DryRunActuator) build(g *Group, env Env) (Built, error) {
	initial := autoscaler.GroupState{Name: g.Name, Min: g.Min, Max: g.Max, Desired: g.Min}
	if env.Resume != nil {
		// Resume where the last run left the imaginary group.
		if d, ok := env.Resume(g.Name); ok {
			initial.Desired = d
		}
	}
	return Built{Actuator: actuator.NewDryRun(env.Log, initial)}, nil
}

// AWSActuator sets an EC2 Auto Scaling group's desired capacity.
type AWSActuator struct {
	ASGName string `yaml:"asg_name"` // the Auto Scaling group ("" = group name)
}

func (*AWSActuator) check(*validator, string) {}

func (a *AWSActuator) build(g *Group, env Env) (Built, error) {
	c, err := env.AWS()
	if err != nil {
		return Built{}, fmt.Errorf("actuator: %w", err)
	}
	return Built{Actuator: actuator.NewAWSFromConfig(c, map[string]string{g.Name: a.ASGName})}, nil
}

// LocalActuator runs the group as processes on this machine.
type LocalActuator struct {
	BackendCommand []string `yaml:"backend_command"` // command started per instance
	BasePort       int      `yaml:"base_port"`       // first instance's port
}

func (l *LocalActuator) check(v *validator, key string) {
	if len(l.BackendCommand) == 0 {
		v.add(key+".backend_command", "required for a local actuator")
	}
	if l.BasePort < 0 || l.BasePort > 65535 {
		v.add(key+".base_port", "must be 0..65535, got %d", l.BasePort)
	}
}

func (l *LocalActuator) build(g *Group, env Env) (Built, error) {
	var sink discovery.Sink
	if env.Sink != nil {
		sink = env.Sink(g.Name)
	}
	a, err := actuator.NewLocal(actuator.LocalOptions{Group: g.Name, Min: g.Min, Max: g.Max,
		Command: l.BackendCommand, BasePort: l.BasePort, Sink: sink, Log: env.Log})
	if err != nil {
		return Built{}, err
	}
	return Built{Actuator: a, Close: a.Close}, nil
}

// Policy types.
const (
	TypeTargetTracking = "target_tracking"
	TypeStep           = "step"
	TypePredictive     = "predictive"
	TypeScheduled      = "scheduled"
)

// PolicySpec is the config of one policy type.
type PolicySpec interface {
	check(v *validator, key string)
	// add builds the policy, named name, into the group's set.
	add(s *scaling.Set, g *Group, name string)
}

var policyKinds = yamlconf.NewKinds("policy type", "policies",
	yamlconf.Kind[PolicySpec]{Name: TypeTargetTracking, New: func() PolicySpec { return new(TargetTrackingPolicy) }},
	yamlconf.Kind[PolicySpec]{Name: TypeStep, New: func() PolicySpec { return new(StepPolicy) }},
	yamlconf.Kind[PolicySpec]{Name: TypePredictive, New: func() PolicySpec { return new(PredictivePolicy) }},
	yamlconf.Kind[PolicySpec]{Name: TypeScheduled, New: func() PolicySpec { return new(ScheduledPolicy) }},
)

func (p *Policy) Union() (string, any) { return "type", policyKinds }

// TargetTrackingPolicy keeps load per instance near a target.
type TargetTrackingPolicy struct {
	// Target is the load per instance; 0 = 70% of the group's
	// capacity_per_instance.
	Target             float64 `yaml:"target"`
	DisableScaleIn     bool    `yaml:"disable_scale_in"`
	ScaleOutDatapoints int     `yaml:"scale_out_datapoints"` // 3
	ScaleInDatapoints  int     `yaml:"scale_in_datapoints"`  // 15
	ScaleInRatio       float64 `yaml:"scale_in_ratio"`       // 0.9
	Tolerance          float64 `yaml:"tolerance"`            // 0.1
	// Lookahead: judge and size scale-out by the load projected this far
	// along its recent rise (about launch delay + warm-up + one
	// interval; 0 = off).
	Lookahead time.Duration `yaml:"lookahead"`
}

func (p *TargetTrackingPolicy) SetDefaults() {
	p.ScaleOutDatapoints, p.ScaleInDatapoints, p.ScaleInRatio, p.Tolerance = 3, 15, 0.9, 0.1
}

// StepPolicy adjusts capacity by steps of an alarm's breach.
type StepPolicy struct {
	Threshold              float64 `yaml:"threshold"`
	Comparison             string  `yaml:"comparison"`          // greater | less (greater)
	DatapointsToAlarm      int     `yaml:"datapoints_to_alarm"` // M (1)
	EvaluationPeriods      int     `yaml:"evaluation_periods"`  // N (1)
	AdjustmentType         string  `yaml:"adjustment_type"`     // ChangeInCapacity
	Steps                  []Step  `yaml:"steps"`
	MinAdjustmentMagnitude int     `yaml:"min_adjustment_magnitude"`
}

func (p *StepPolicy) SetDefaults() {
	p.Comparison, p.DatapointsToAlarm, p.EvaluationPeriods, p.AdjustmentType = "greater", 1, 1, "ChangeInCapacity"
}

// PredictivePolicy provisions ahead of a forecast.
type PredictivePolicy struct {
	Target            float64       `yaml:"target"`              // as TargetTrackingPolicy's
	Mode              string        `yaml:"mode"`                // forecast_and_scale | forecast_only
	SchedulingBuffer  time.Duration `yaml:"scheduling_buffer"`   // 5m
	MaxCapacityBreach string        `yaml:"max_capacity_breach"` // honor | increase
	MaxCapacityBuffer float64       `yaml:"max_capacity_buffer"` // percent (0)
	Forecaster        string        `yaml:"forecaster"`          // auto
	Refresh           time.Duration `yaml:"refresh"`             // 1h
	Resolution        time.Duration `yaml:"resolution"`          // 1h
	Aggregation       string        `yaml:"aggregation"`         // mean | max (mean)
	MaxForecastError  float64       `yaml:"max_forecast_error"`  // abstain above this backtested MAPE (0 = never)
	BufferQuantile    float64       `yaml:"buffer_quantile"`     // raise the forecast to cover this share of its backtest (0 = off)
	RequireSkill      bool          `yaml:"require_skill"`       // abstain unless the forecast beats persistence
	BufferMissCost    float64       `yaml:"buffer_miss_cost"`    // price the buffer: a miss costs this share of a step's load (0 = fixed buffer_quantile)
	ColdStartTarget   float64       `yaml:"cold_start_target"`   // load per instance held on the latest datapoint until a forecast exists (0 = abstain)
	NoSkillTarget     float64       `yaml:"no_skill_target"`     // with require_skill: load per instance held while the forecast has no skill (0 = abstain)
}

func (p *PredictivePolicy) SetDefaults() {
	p.Mode, p.SchedulingBuffer, p.MaxCapacityBreach, p.Forecaster = "forecast_and_scale", 5*time.Minute, "honor", "auto"
	p.Refresh, p.Resolution, p.Aggregation = time.Hour, time.Hour, "mean"
}

// ScheduledPolicy sets min, max and desired at times.
type ScheduledPolicy struct {
	Actions []Action `yaml:"actions"`
}

// Build returns the lease the configuration names (nil: none, this
// replica always acts).
func (l *Lease) Build(env Env) (autoscaler.Lease, error) {
	spec, err := specFor(leaseKinds, l.Type, l.Spec)
	if err != nil {
		return nil, fmt.Errorf("type: %w", err)
	}
	return spec.build(env)
}

// Build returns the group's metric source.
func (m *Metric) Build(group string, env Env) (Source, error) {
	spec, err := specFor(sourceKinds, m.Source, m.Spec)
	if err != nil {
		return Source{}, fmt.Errorf("metric.source: %w", err)
	}
	return spec.build(group, env)
}

// Build returns group g's actuator.
func (a *Actuator) Build(g *Group, env Env) (Built, error) {
	spec, err := specFor(actuatorKinds, a.Type, a.Spec)
	if err != nil {
		return Built{}, fmt.Errorf("actuator.type: %w", err)
	}
	return spec.build(g, env)
}

// LeaseKinds, SourceKinds, ActuatorKinds and PolicyKinds list the
// registered names, for help texts and completion.
func LeaseKinds() []string    { return leaseKinds.Names() }
func SourceKinds() []string   { return sourceKinds.Names() }
func ActuatorKinds() []string { return actuatorKinds.Names() }
func PolicyKinds() []string   { return policyKinds.Names() }

// specFor returns a union's config: the decoded one, or for a
// configuration built in Go that left it out, a new one of the kind named.
func specFor[S any](kinds *yamlconf.Kinds[S], kind string, spec S) (S, error) {
	if any(spec) != nil {
		return spec, nil
	}
	return kinds.New(kind)
}

// specOf is specFor for validation: it also refuses a config of another
// kind than the one named, reporting at key.
func specOf[S any](kinds *yamlconf.Kinds[S], v *validator, key, kind string, spec S) (S, bool) {
	s, err := specFor(kinds, kind, spec)
	if err != nil {
		v.add(key, "%v", err)
		return s, false
	}
	if got := kinds.NameOf(s); got != kind {
		v.add(key, "%q, but its keys are a %s's", kind, got)
		return s, false
	}
	return s, true
}

// gatewayMetricsURL accepts the gateway's admin base URL or its full
// /metrics URL.
func gatewayMetricsURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("required for a gateway source (the gateway's admin URL)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q: want http(s)://HOST:PORT", s)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

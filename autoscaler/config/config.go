// Package config is the autoscaler's YAML configuration, shared by the
// daemon (`drawbridge autoscaler run`) and the backtester (`drawbridge
// autoscaler simulate`). Every key and its default is documented in
// examples/autoscaler.yaml. Load and Parse decode strictly and report
// every problem with FILE:LINE and the key (package yamlconf).
package config

import (
	"os"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config is a whole autoscaler configuration file.
type Config struct {
	Interval time.Duration `yaml:"interval"`  // decision period (60s)
	StateDir string        `yaml:"state_dir"` // "" = no persistence
	Admin    Admin         `yaml:"admin"`
	Lease    Lease         `yaml:"lease"`
	AWS      AWS           `yaml:"aws"`
	Groups   []Group       `yaml:"groups"`
	Tracing  Tracing       `yaml:"tracing"` // OpenTelemetry spans over OTLP, one per decision round; off by default
	Log      Log           `yaml:"log"`     // the daemon's log
}

// Tracing is the tracing block, the same as the gateway's.
type Tracing = telemetry.Config

// Log is the daemon's log. --log-level and DRAWBRIDGE_LOG_LEVEL, when set,
// take precedence over level.
type Log struct {
	Level string `yaml:"level"` // debug | info | warn | error; default info
}

// Admin is the daemon's admin HTTP endpoint.
type Admin struct {
	Listen  string `yaml:"listen"`  // 127.0.0.1:9091
	Enabled bool   `yaml:"enabled"` // true
}

// Lease kinds.
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

// Lease elects the acting replica of the daemon.
type Lease struct {
	Type   string        `yaml:"type"`   // none | file | dynamodb | gateway (none)
	Path   string        `yaml:"path"`   // file lease
	Table  string        `yaml:"table"`  // dynamodb lease
	URL    string        `yaml:"url"`    // gateway lease: the local gateway's admin URL
	TTL    time.Duration `yaml:"ttl"`    // 15s
	Holder string        `yaml:"holder"` // "" = hostname
}

// AWS is the AWS client configuration.
type AWS struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // override, for emulators
}

// Group is one scalable group and its policies.
type Group struct {
	Name     string   `yaml:"name"`
	Actuator Actuator `yaml:"actuator"`
	Metric   Metric   `yaml:"metric"`
	// CapacityPerInstance is the load one instance serves (requests/s):
	// the backtester's capacity model and the default policy targets
	// (70% of it).
	CapacityPerInstance float64       `yaml:"capacity_per_instance"` // 100
	Min                 int           `yaml:"min"`                   // 1
	Max                 int           `yaml:"max"`                   // 20
	Warmup              time.Duration `yaml:"warmup"`                // 60s
	Policies            []Policy      `yaml:"policies"`
	Behavior            Behavior      `yaml:"behavior"`
}

// Actuator kinds.
const (
	ActuatorDryRun = "dry_run"
	ActuatorAWS    = "aws"
	ActuatorLocal  = "local"
)

// Actuator says how the group's capacity is changed.
type Actuator struct {
	Type           string   `yaml:"type"`            // dry_run | aws | local (dry_run)
	ASGName        string   `yaml:"asg_name"`        // aws: the Auto Scaling group ("" = group name)
	BackendCommand []string `yaml:"backend_command"` // local: command started per instance
	BasePort       int      `yaml:"base_port"`       // local: first instance's port
}

// Metric source kinds.
const (
	SourceGateway    = "gateway"
	SourcePrometheus = "prometheus"
	SourceCloudWatch = "cloudwatch"
)

// Metric says where the group's load comes from. The load is the group's
// total (e.g. requests/s); policies divide by in-service instances.
type Metric struct {
	Source     string            `yaml:"source"` // gateway | prometheus | cloudwatch (gateway)
	URL        string            `yaml:"url"`    // gateway admin or Prometheus base URL
	Pool       string            `yaml:"pool"`   // gateway pool ("" = group name)
	Query      string            `yaml:"query"`  // PromQL
	Namespace  string            `yaml:"namespace"`
	MetricName string            `yaml:"metric_name"`
	Dimensions map[string]string `yaml:"dimensions"`
	Statistic  string            `yaml:"statistic"` // Sum
	// Protocol is the CloudWatch wire protocol: cbor (the SDK's default,
	// Smithy RPC v2) or query, for emulators that only speak the older one.
	Protocol string `yaml:"protocol"`
}

// Behavior is the combination's stabilization and rate limits.
type Behavior struct {
	ScaleInStabilization time.Duration `yaml:"scale_in_stabilization"` // 300s
	MaxScaleOutStep      int           `yaml:"max_scale_out_step"`     // 0 = unlimited
	MaxScaleInStep       int           `yaml:"max_scale_in_step"`      // 0 = unlimited
}

// Policy types.
const (
	TypeTargetTracking = "target_tracking"
	TypeStep           = "step"
	TypePredictive     = "predictive"
	TypeScheduled      = "scheduled"
)

// Policy is one policy; Type says which of the keys apply (Parse refuses
// the keys of other types). See policy.TargetTracking, policy.Step,
// policy.Predictive and policy.Scheduled for the semantics.
type Policy struct {
	Type string `yaml:"type"`
	Name string `yaml:"name"` // "" = the type, suffixed with its index when repeated

	// target_tracking and predictive: load per instance. 0 = 70% of the
	// group's capacity_per_instance.
	Target float64 `yaml:"target"`

	// target_tracking
	DisableScaleIn     bool    `yaml:"disable_scale_in"`
	ScaleOutDatapoints int     `yaml:"scale_out_datapoints"` // 3
	ScaleInDatapoints  int     `yaml:"scale_in_datapoints"`  // 15
	ScaleInRatio       float64 `yaml:"scale_in_ratio"`       // 0.9
	Tolerance          float64 `yaml:"tolerance"`            // 0.1
	// Lookahead: judge and size scale-out by the load projected this far
	// along its recent rise (about launch delay + warm-up + one
	// interval; 0 = off).
	Lookahead time.Duration `yaml:"lookahead"`

	// step
	Threshold              float64 `yaml:"threshold"`
	Comparison             string  `yaml:"comparison"`          // greater | less (greater)
	DatapointsToAlarm      int     `yaml:"datapoints_to_alarm"` // M (1)
	EvaluationPeriods      int     `yaml:"evaluation_periods"`  // N (1)
	AdjustmentType         string  `yaml:"adjustment_type"`     // ChangeInCapacity
	Steps                  []Step  `yaml:"steps"`
	MinAdjustmentMagnitude int     `yaml:"min_adjustment_magnitude"`

	// predictive
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

	// scheduled
	Actions []Action `yaml:"actions"`
}

// Step is one step of a step policy; bounds are relative to the
// threshold, lower inclusive, upper exclusive, absent = unbounded.
type Step struct {
	Lower      *float64 `yaml:"lower"`
	Upper      *float64 `yaml:"upper"`
	Adjustment float64  `yaml:"adjustment"`
}

// Action is one scheduled action: cron (with time_zone, start, end) or
// at (one-off), setting min, max and/or desired.
type Action struct {
	Name     string `yaml:"name"`
	Cron     string `yaml:"cron"`
	TimeZone string `yaml:"time_zone"` // IANA; "" = UTC
	Start    string `yaml:"start"`     // RFC 3339
	End      string `yaml:"end"`       // RFC 3339
	At       string `yaml:"at"`        // RFC 3339, one-off
	Min      *int   `yaml:"min"`
	Max      *int   `yaml:"max"`
	Desired  *int   `yaml:"desired"`
}

// SetDefaults applies the defaults of every key left out.
func (c *Config) SetDefaults() {
	c.Interval = 60 * time.Second
	c.Admin = Admin{Listen: "127.0.0.1:9091", Enabled: true}
	c.Lease.SetDefaults()
	c.Tracing.SetDefaults()
	c.Log.Level = "info"
}

func (l *Lease) SetDefaults() { l.Type, l.TTL = LeaseNone, 15*time.Second }

func (g *Group) SetDefaults() {
	g.CapacityPerInstance, g.Min, g.Max, g.Warmup = 100, 1, 20, 60*time.Second
	g.Actuator.SetDefaults()
	g.Metric.SetDefaults()
	g.Behavior.SetDefaults()
}

func (a *Actuator) SetDefaults() { a.Type = ActuatorDryRun }
func (m *Metric) SetDefaults()   { m.Source, m.Statistic = SourceGateway, "Sum" }
func (b *Behavior) SetDefaults() { b.ScaleInStabilization = 300 * time.Second }

// SetDefaults sets the defaults of every type's keys (a type ignores the
// others').
func (p *Policy) SetDefaults() {
	p.ScaleOutDatapoints, p.ScaleInDatapoints, p.ScaleInRatio, p.Tolerance = 3, 15, 0.9, 0.1
	p.Comparison, p.DatapointsToAlarm, p.EvaluationPeriods, p.AdjustmentType = "greater", 1, 1, "ChangeInCapacity"
	p.Mode, p.SchedulingBuffer, p.MaxCapacityBreach, p.Forecaster = "forecast_and_scale", 5*time.Minute, "honor", "auto"
	p.Refresh, p.Resolution, p.Aggregation = time.Hour, time.Hour, "mean"
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses a configuration; filename only labels errors. On failure
// the error is a *yamlconf.Error or yamlconf.Errors listing every
// problem with its line and key.
func Parse(filename string, data []byte) (*Config, error) {
	c := new(Config)
	lines, err := yamlconf.Decode(filename, data, c)
	if err != nil {
		return nil, err
	}
	if err := lines.Locate(append(c.validate(), c.misplaced(lines)...)); err != nil {
		return nil, err
	}
	return c, nil
}

// Check validates a configuration built in Go (no lines to report).
func (c *Config) Check() error { return c.validate().Err() }

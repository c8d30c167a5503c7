// Package config is the autoscaler's YAML configuration, shared by the
// daemon (`drawbridge autoscaler run`) and the backtester (`drawbridge
// autoscaler simulate`). Every key and its default is documented in
// examples/autoscaler.yaml. Load and Parse decode strictly and report
// every problem with FILE:LINE and the key (package yamlconf).
package config

import (
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

// Lease elects the acting replica of the daemon. Type selects the lease
// backend (registry leaseKinds); Spec holds that backend's own keys.
type Lease struct {
	Type   string        `yaml:"type"`   // none | file | dynamodb | gateway (none)
	TTL    time.Duration `yaml:"ttl"`    // 15s
	Holder string        `yaml:"holder"` // "" = hostname
	Spec   LeaseSpec     `yaml:",spec"`
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

// Actuator says how the group's capacity is changed. Type selects the
// actuator (registry actuatorKinds); Spec holds its own keys.
type Actuator struct {
	Type string       `yaml:"type"` // dry_run | aws | local (dry_run)
	Spec ActuatorSpec `yaml:",spec"`
}

// Metric says where the group's load comes from. The load is the group's
// total (e.g. requests/s); policies divide by in-service instances.
// Source selects the metric source (registry sourceKinds); Spec holds its
// own keys.
type Metric struct {
	Source string     `yaml:"source"` // gateway | prometheus | cloudwatch (gateway)
	Spec   SourceSpec `yaml:",spec"`
}

// Behavior is the combination's stabilization and rate limits.
type Behavior struct {
	ScaleInStabilization time.Duration `yaml:"scale_in_stabilization"` // 300s
	MaxScaleOutStep      int           `yaml:"max_scale_out_step"`     // 0 = unlimited
	MaxScaleInStep       int           `yaml:"max_scale_in_step"`      // 0 = unlimited
}

// Policy is one policy. Type selects the policy type (registry
// policyKinds); Spec holds its own keys, so a key of another type is an
// error. See policy.TargetTracking, policy.Step, policy.Predictive and
// policy.Scheduled for the semantics.
type Policy struct {
	Type string     `yaml:"type"`
	Name string     `yaml:"name"` // "" = the type, suffixed with its index when repeated
	Spec PolicySpec `yaml:",spec"`
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

func (l *Lease) SetDefaults() { l.Type, l.TTL, l.Spec = LeaseNone, 15*time.Second, new(NoLease) }

func (g *Group) SetDefaults() {
	g.CapacityPerInstance, g.Min, g.Max, g.Warmup = 100, 1, 20, 60*time.Second
	g.Actuator.SetDefaults()
	g.Metric.SetDefaults()
	g.Behavior.SetDefaults()
}

func (a *Actuator) SetDefaults() { a.Type, a.Spec = ActuatorDryRun, new(DryRunActuator) }
func (m *Metric) SetDefaults()   { m.Source, m.Spec = SourceGateway, new(GatewaySource) }
func (b *Behavior) SetDefaults() { b.ScaleInStabilization = 300 * time.Second }

// Load reads and parses the configuration file at path. Errors reading
// the file are returned as they are; see Parse for the rest.
func Load(path string) (*Config, error) { return yamlconf.Load(path, Parse) }

// Parse parses a configuration; filename only labels errors. On failure
// the error is a *yamlconf.Error or yamlconf.Errors listing every
// problem with its line and key.
func Parse(filename string, data []byte) (*Config, error) {
	return yamlconf.Parse(filename, data, func(c *Config, _ *yamlconf.Lines) yamlconf.Errors { return c.validate() })
}

// Check validates a configuration built in Go (no lines to report).
func (c *Config) Check() error { return c.validate().Err() }

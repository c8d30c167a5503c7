// Package boot renders what a stack's gateway instances run: the gateway
// config, the autoscaler config, the systemd units and the user data script
// that installs them, all from the stack config and the resources' outputs.
//
// It is pure Go (no Pulumi types), so the Pulumi program, `drawbridge
// render` and the twin test (tests/twin) share one renderer: what the twin
// runs is what user data installs.
package boot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	asconfig "github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/deploy/systemd"
	gwconfig "github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/infra/plan"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Install paths on the instances.
const (
	BinaryPath       = "/usr/local/bin/drawbridge"
	GatewayConfig    = "/etc/drawbridge/gateway.yaml"
	AutoscalerConfig = "/etc/drawbridge/autoscaler.yaml"
	GatewayUnit      = "/etc/systemd/system/drawbridge-gateway.service"
	AutoscalerUnit   = "/etc/systemd/system/drawbridge-autoscaler.service"
	TLSCert          = "/etc/drawbridge/tls/cert.pem"
	TLSKey           = "/etc/drawbridge/tls/key.pem"
)

// Deployed holds the values known only once the stack's resources exist.
// References returns them as the references they resolve from.
type Deployed struct {
	AllocationID string // the gateways' Elastic IP
	BinaryBucket string // the artifact bucket; "" with a release URL
	BinaryKey    string
}

// References are the deploy-time values as `drawbridge render` shows them.
var References = Deployed{
	AllocationID: "${gateway-eip.allocationId}",
	BinaryBucket: "${binary-artifacts.bucket}",
	BinaryKey:    "${binary-binary.key}",
}

// placeholders stand in for references while the rendered configs are
// validated (a reference is not an eipalloc-... id).
var placeholders = Deployed{AllocationID: "eipalloc-0123456789abcdef0", BinaryBucket: "bucket", BinaryKey: "key"}

// File is one file user data installs.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content string
}

// Bundle is everything a gateway instance installs and starts.
type Bundle struct {
	Files []File   // in install order
	Units []string // systemd units enabled and started, in order
}

// File returns the installed file at path, or nil.
func (b *Bundle) File(path string) *File {
	for i := range b.Files {
		if b.Files[i].Path == path {
			return &b.Files[i]
		}
	}
	return nil
}

// ExecStart returns the command line of the unit installed at path, split
// into arguments (the units use no quoting).
func (b *Bundle) ExecStart(unitPath string) ([]string, error) {
	f := b.File(unitPath)
	if f == nil {
		return nil, fmt.Errorf("no unit %s", unitPath)
	}
	for _, line := range strings.Split(f.Content, "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(cmd), nil
		}
	}
	return nil, fmt.Errorf("%s has no ExecStart", unitPath)
}

// Names derived from the stack config; the Pulumi program gives the
// resources exactly these names, so they are known before deploy.
func Prefix(c *plan.Config) string     { return c.Project + "-" + c.Environment }
func GroupName(c *plan.Config) string  { return Prefix(c) + "-" + c.PoolName }
func LeaseTable(c *plan.Config) string { return Prefix(c) + "-gateway-lease" }

// Render returns the bundle for the stack with the deployed values d. Both
// generated configs are parsed by the programs' own parsers first; an
// invalid one fails here naming the stack key that produced it.
func Render(c *plan.Config, d Deployed, root string) (*Bundle, error) {
	if d == References {
		// Check with values the parsers accept (a reference is not an
		// eipalloc-... id), then show the references.
		if _, err := render(c, placeholders, root, true); err != nil {
			return nil, err
		}
		return render(c, d, root, false)
	}
	return render(c, d, root, true)
}

func render(c *plan.Config, d Deployed, root string, check bool) (*Bundle, error) {
	b := &Bundle{}
	gw, err := gatewayConfig(c, d, root, check)
	if err != nil {
		return nil, err
	}
	b.Files = append(b.Files, File{GatewayConfig, 0o644, gw}, File{GatewayUnit, 0o644, systemd.GatewayUnit})
	b.Units = append(b.Units, filepath.Base(GatewayUnit))
	if c.AutoscalerPlacement == plan.PlacementGateway {
		as, err := autoscalerConfig(c, check)
		if err != nil {
			return nil, err
		}
		b.Files = append(b.Files, File{AutoscalerConfig, 0o644, as}, File{AutoscalerUnit, 0o644, systemd.AutoscalerUnit})
		b.Units = append(b.Units, filepath.Base(AutoscalerUnit))
	}
	return b, nil
}

// gatewayKeys maps a gateway config key (prefix) to the stack key it comes
// from, for render-time errors.
var gatewayKeys = []struct{ prefix, stackKey string }{
	{"admin", "adminPort"},
	{"tls", "tlsCertificateSource"},
	{"pools[0].discovery.interval", "discoveryInterval"},
	{"pools[0].health_check", "discoveryInterval"},
	{"pools[0]", "poolName"},
	{"routes[0]", "poolName"},
	{"failover.lease.ttl", "failoverLeaseTtl"},
	{"failover", "environment"},
}

func gatewayConfig(c *plan.Config, d Deployed, root string, check bool) (string, error) {
	if c.GatewayConfigFile != "" {
		// The operator's own file, installed verbatim.
		path := c.GatewayConfigFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", plan.Key("gatewayConfigFile"), err)
		}
		if _, err := gwconfig.Parse(path, data); err != nil {
			return "", fmt.Errorf("%s: %w", plan.Key("gatewayConfigFile"), err)
		}
		return string(data), nil
	}
	var out bytes.Buffer
	if err := gatewayTemplate.Execute(&out, struct {
		*plan.Config
		Group, LeaseTable, AllocationID string
		TLSCert, TLSKey                 string
	}{c, GroupName(c), LeaseTable(c), d.AllocationID, TLSCert, TLSKey}); err != nil {
		return "", err
	}
	// The parser does not open the TLS files (the gateway loads them at
	// start, after user data fetched them), so this runs anywhere.
	text := out.String()
	if !check {
		return text, nil
	}
	if _, err := gwconfig.Parse("gateway.yaml", []byte(text)); err != nil {
		return "", stackError(err, gatewayKeys, "the generated gateway config")
	}
	return text, nil
}

var autoscalerKeys = []struct{ prefix, stackKey string }{
	{"interval", "autoscalerInterval"},
	{"groups[0].capacity_per_instance", "autoscalerCapacityPerInstance"},
	{"groups[0].min", "minSize"},
	{"groups[0].max", "maxSize"},
	{"groups[0].warmup", "healthCheckGracePeriod"},
	{"groups[0].metric", "adminPort"},
	{"groups[0]", "poolName"},
	{"lease.url", "adminPort"},
	{"lease.ttl", "failoverLeaseTtl"},
}

func autoscalerConfig(c *plan.Config, check bool) (string, error) {
	var out bytes.Buffer
	if err := autoscalerTemplate.Execute(&out, struct {
		*plan.Config
		Group             string
		Warmup, Stabilize time.Duration
		Interval          time.Duration
	}{c, GroupName(c), time.Duration(c.HealthCheckGracePeriod) * time.Second, 5 * c.AutoscalerInterval, c.AutoscalerInterval}); err != nil {
		return "", err
	}
	if !check {
		return out.String(), nil
	}
	if _, err := asconfig.Parse("autoscaler.yaml", out.Bytes()); err != nil {
		return "", stackError(err, autoscalerKeys, "the generated autoscaler config")
	}
	return out.String(), nil
}

// stackError names the stack key behind each problem of a generated config.
func stackError(err error, keys []struct{ prefix, stackKey string }, what string) error {
	var list []*yamlconf.Error
	var one *yamlconf.Error
	var many yamlconf.Errors
	switch {
	case errors.As(err, &many):
		list = many
	case errors.As(err, &one):
		list = []*yamlconf.Error{one}
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
	var errs []error
	for _, e := range list {
		key := "drawbridge:*"
		for _, k := range keys {
			if strings.HasPrefix(e.Key, k.prefix) {
				key = plan.Key(k.stackKey)
				break
			}
		}
		errs = append(errs, fmt.Errorf("%s: %s would be invalid: %s: %s", key, what, e.Key, e.Msg))
	}
	return errors.Join(errs...)
}

var funcs = template.FuncMap{
	"dur": func(d time.Duration) string { return d.String() },
	// A check must time out before the next one starts.
	"checkTimeout": func(interval time.Duration) string { return min(time.Second, interval/2).String() },
}

// The gateway config both gateways install. Per-instance facts (instance
// id, node name) are "auto": each gateway asks IMDSv2 at start.
var gatewayTemplate = template.Must(template.New("gateway").Funcs(funcs).Parse(`# Generated by drawbridge from stack {{.Stack}} (drawbridge render --stack {{.Stack}}).
# Both gateways install this same file; each learns its instance id from IMDSv2.
listen: ":80"
admin:
  enabled: true
  # All interfaces; the security group admits it only from inside the VPC.
  listen: "0.0.0.0:{{.AdminPort}}"
access_log:
  enabled: false
{{- if .TLSCertificateSource}}
tls:
  # Fetched at boot from {{.TLSCertificateSource}}.
  listen: ":443"
  certificates:
    - cert_file: {{.TLSCert}}
      key_file: {{.TLSKey}}
{{- end}}
routes:
  - name: default
    match:
      path_prefix: /
    pool: {{.PoolName}}
    # Idempotent requests move to another backend when one is leaving.
    retry: {}
pools:
  - name: {{.PoolName}}
    strategy: least_connections
    discovery:
      type: asg
      asg: {{.Group}}
      region: {{.Region}}
      # No port: each instance's drawbridge:port tag (drawbridge:appPort {{.AppPort}}).
      interval: {{dur .DiscoveryInterval}}
    health_check:
      path: /healthz
      interval: {{dur .DiscoveryInterval}}
      timeout: {{checkTimeout .DiscoveryInterval}}
failover:
  mode: aws
  node: auto
  region: {{.Region}}
  lease:
    type: dynamodb
    table: {{.LeaseTable}}
    ttl: {{dur .FailoverLeaseTTL}}
  eip:
    allocation_id: {{.AllocationID}}
    instance_id: auto
`))

var autoscalerTemplate = template.Must(template.New("autoscaler").Funcs(funcs).Parse(`# Generated by drawbridge from stack {{.Stack}} (drawbridge render --stack {{.Stack}}).
# Runs on both gateways and acts only on the one whose gateway is active
# (the gateway's DynamoDB lease decides): the passive one sees no traffic.
interval: {{dur .Interval}}
admin:
  enabled: true
  listen: "127.0.0.1:9091"
lease:
  type: gateway
  url: "http://127.0.0.1:{{.AdminPort}}"
  ttl: {{dur .FailoverLeaseTTL}}
aws:
  region: {{.Region}}
groups:
  - name: {{.PoolName}}
    actuator:
      type: aws
      asg_name: {{.Group}}
    metric:
      source: gateway
      url: "http://127.0.0.1:{{.AdminPort}}"
      pool: {{.PoolName}}
    capacity_per_instance: {{.AutoscalerCapacityPerInstance}}
    min: {{.MinSize}}
    max: {{.MaxSize}}
    warmup: {{dur .Warmup}}
    behavior:
      # Five decision periods: 300s at the default 60s interval.
      scale_in_stabilization: {{dur .Stabilize}}
    policies:
      - type: target_tracking
`))

// TerminationDrain is how long a backend leaving on scale-in keeps running
// after its group takes it out of service: every gateway polls the group
// (drawbridge:discoveryInterval, +-10% jitter) and stops sending to it within
// one interval; two leave room for a poll that was already under way, plus
// a second for requests in flight. The backend group's termination
// lifecycle hook holds the instance this long (see LifecycleHeartbeat).
func TerminationDrain(c *plan.Config) time.Duration {
	return 2*c.DiscoveryInterval + time.Second
}

// LifecycleHeartbeat is the heartbeat timeout, in seconds, of the backend
// group's autoscaling:EC2_INSTANCE_TERMINATING hook: TerminationDrain
// rounded up, within what AWS accepts (30 to 7200 s).
func LifecycleHeartbeat(c *plan.Config) int {
	s := int((TerminationDrain(c) + time.Second - 1) / time.Second)
	return min(max(s, 30), 7200)
}

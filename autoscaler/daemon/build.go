package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/actuator"
	"github.com/drawbridge-dev/drawbridge/autoscaler/awsclient"
	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/lease"
	"github.com/drawbridge-dev/drawbridge/autoscaler/metrics"
	"github.com/drawbridge-dev/drawbridge/autoscaler/store"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/discovery"
)

// Env is what a configuration does not say: the process's clock, log and
// registry, and how local groups reach a gateway.
type Env struct {
	Clock    clock.Clock
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Sink returns where a local group's backends are registered (a local
	// gateway's pool); nil or a nil result registers nowhere.
	Sink func(group string) discovery.Sink
	// HTTPClient for the gateway and Prometheus sources (nil: defaults).
	HTTPClient *http.Client
	// NoLease ignores the configured lease (explain, which never acts).
	NoLease bool
}

// FromConfig builds a daemon from a validated configuration. The returned
// close function stops local backends; call it when done.
func FromConfig(ctx context.Context, cfg *config.Config, env Env) (*Daemon, func() error, error) {
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*Daemon, func() error, error) {
		closeAll() //nolint:errcheck // reporting the first failure
		return nil, nil, err
	}

	// AWS is configured on first use only: a local setup needs no
	// credentials or region.
	var awsCfg *aws.Config
	getAWS := func() (aws.Config, error) {
		if awsCfg == nil {
			c, err := awsclient.Load(ctx, awsclient.Options{Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint})
			if err != nil {
				return aws.Config{}, err
			}
			awsCfg = &c
		}
		return *awsCfg, nil
	}

	opt := Options{Interval: cfg.Interval, Clock: env.Clock, Log: env.Log, Registry: env.Registry, LeaseTTL: cfg.Lease.TTL}
	if cfg.StateDir != "" {
		st, err := store.Open(cfg.StateDir)
		if err != nil {
			return fail(err)
		}
		opt.Store = st
	}

	opt.Holder = cfg.Lease.Holder
	if opt.Holder == "" {
		host, _ := os.Hostname()
		opt.Holder = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if !env.NoLease {
		switch cfg.Lease.Type {
		case config.LeaseFile:
			opt.Lease = lease.NewFile(cfg.Lease.Path, env.Clock)
		case config.LeaseDynamoDB:
			c, err := getAWS()
			if err != nil {
				return fail(fmt.Errorf("lease: %w", err))
			}
			opt.Lease = lease.NewDynamoDB(dynamodb.NewFromConfig(c), cfg.Lease.Table, "drawbridge-autoscaler", env.Clock)
		case config.LeaseGateway:
			opt.Lease = lease.NewGateway(cfg.Lease.URL, env.HTTPClient)
		}
	}

	var asg *actuator.AWS
	for i := range cfg.Groups {
		gc := &cfg.Groups[i]
		g := Group{Name: gc.Name, Min: gc.Min, Max: gc.Max, Policies: gc.PolicySet(), Warmup: gc.Warmup}

		switch gc.Metric.Source {
		case config.SourceGateway:
			u, err := gatewayMetricsURL(gc.Metric.URL)
			if err != nil {
				return fail(fmt.Errorf("group %q: metric.url: %w", gc.Name, err))
			}
			g.Source = metrics.NewGateway(u, env.HTTPClient, env.Clock)
			g.Unit = "requests/s"
			g.Metric = gc.Metric.Pool
			if g.Metric == "" {
				g.Metric = gc.Name
			}
		case config.SourcePrometheus:
			g.Source = metrics.NewPrometheus(gc.Metric.URL, gc.Metric.Query, env.HTTPClient)
			g.Range = true
		case config.SourceCloudWatch:
			c, err := getAWS()
			if err != nil {
				return fail(fmt.Errorf("group %q: metric: %w", gc.Name, err))
			}
			client, err := metrics.NewCloudWatchClient(c, gc.Metric.Protocol)
			if err != nil {
				return fail(fmt.Errorf("group %q: metric.protocol: %w", gc.Name, err))
			}
			g.Source = metrics.NewCloudWatch(client, metrics.CloudWatchMetric{Namespace: gc.Metric.Namespace,
				MetricName: gc.Metric.MetricName, Dimensions: gc.Metric.Dimensions, Statistic: gc.Metric.Statistic, Protocol: gc.Metric.Protocol})
			g.Unit = gc.Metric.Statistic + " of " + gc.Metric.MetricName + " per datapoint"
			g.Range = true
		default:
			return fail(fmt.Errorf("group %q: unknown metric source %q", gc.Name, gc.Metric.Source))
		}

		switch gc.Actuator.Type {
		case config.ActuatorAWS:
			if asg == nil {
				c, err := getAWS()
				if err != nil {
					return fail(fmt.Errorf("group %q: actuator: %w", gc.Name, err))
				}
				asg = actuator.NewAWSFromConfig(c, map[string]string{})
			}
			// One client serves every group; names are filled in as we go.
			asg.Names()[gc.Name] = gc.Actuator.ASGName
			g.Actuator = asg
		case config.ActuatorLocal:
			var sink discovery.Sink
			if env.Sink != nil {
				sink = env.Sink(gc.Name)
			}
			l, err := actuator.NewLocal(actuator.LocalOptions{Group: gc.Name, Min: gc.Min, Max: gc.Max,
				Command: gc.Actuator.BackendCommand, BasePort: gc.Actuator.BasePort, Sink: sink, Log: env.Log})
			if err != nil {
				return fail(err)
			}
			closers = append(closers, l.Close)
			g.Actuator = l
		default: // dry_run
			initial := autoscaler.GroupState{Name: gc.Name, Min: gc.Min, Max: gc.Max, Desired: gc.Min}
			if opt.Store != nil {
				// Resume where the last run left the imaginary group.
				if st, err := opt.Store.Load(gc.Name); err == nil && len(st.Decisions) > 0 {
					initial.Desired = st.Decisions[len(st.Decisions)-1].Desired
				}
			}
			g.Actuator = actuator.NewDryRun(env.Log, initial)
		}
		opt.Groups = append(opt.Groups, g)
	}
	d, err := New(opt)
	if err != nil {
		return fail(err)
	}
	return d, closeAll, nil
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

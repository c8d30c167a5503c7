package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/store"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/awsclient"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
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
	tp, err := telemetry.New(cfg.Tracing, "drawbridge-autoscaler", env.Log)
	if err != nil {
		return fail(err)
	}
	if tp != nil {
		opt.Tracer = tp.Tracer()
		// Last to close: the rounds' spans are exported on the way out.
		closers = append(closers, func() error { return tp.ShutdownWithin(5 * time.Second) })
	}
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
	kenv := config.Env{Clock: env.Clock, Log: env.Log, HTTPClient: env.HTTPClient, AWS: getAWS, Sink: env.Sink,
		Resume: func(group string) (int, bool) {
			if opt.Store == nil {
				return 0, false
			}
			st, err := opt.Store.Load(group)
			if err != nil || len(st.Decisions) == 0 {
				return 0, false
			}
			return st.Decisions[len(st.Decisions)-1].Desired, true
		}}
	if !env.NoLease {
		l, err := cfg.Lease.Build(kenv)
		if err != nil {
			return fail(fmt.Errorf("lease: %w", err))
		}
		opt.Lease = l
	}

	for i := range cfg.Groups {
		gc := &cfg.Groups[i]
		g := Group{Name: gc.Name, Min: gc.Min, Max: gc.Max, Policies: gc.PolicySet(), Warmup: gc.Warmup}
		src, err := gc.Metric.Build(gc.Name, kenv)
		if err != nil {
			return fail(fmt.Errorf("group %q: %w", gc.Name, err))
		}
		g.Source, g.Metric, g.Range, g.Unit = src.MetricSource, src.Metric, src.Range, src.Unit
		act, err := gc.Actuator.Build(gc, kenv)
		if err != nil {
			return fail(fmt.Errorf("group %q: %w", gc.Name, err))
		}
		if act.Close != nil {
			closers = append(closers, act.Close)
		}
		g.Actuator = act.Actuator
		opt.Groups = append(opt.Groups, g)
	}
	d, err := New(opt)
	if err != nil {
		return fail(err)
	}
	return d, closeAll, nil
}

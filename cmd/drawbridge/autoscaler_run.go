package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/daemon"
	"github.com/drawbridge-dev/drawbridge/clock"
)

func newAutoscalerRunCmd() *cobra.Command {
	var (
		path string
		once bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the autoscaler daemon from a YAML config",
		Long: `Run the autoscaler daemon (see examples/autoscaler.yaml for every key).
Every interval, per group: fetch the load, read the group, evaluate its policies,
set the desired capacity if this replica holds the lease, log the decision with
its explanation (one JSON line on stderr), and persist history, forecasts and
decisions under state_dir. With a lease, the other replicas stand by and keep
their metric history warm. The admin listener serves /metrics, /healthz and
/status. --once runs one round per group and exits (status 1 if a metric
source or actuator failed).

The CloudWatch wire protocol defaults to the SDK's (Smithy RPC v2 CBOR); set a
group's metric.protocol to query for emulators that only speak the older one.
AWS endpoints follow aws.endpoint or the standard AWS_ENDPOINT_URL variables.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadAutoscalerConfig(path)
			if err != nil {
				return err
			}
			log, err := levelLogger(cmd, cfg.Log.Level)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			d, closeFn, err := daemon.FromConfig(ctx, cfg, daemon.Env{Clock: clock.Real{}, Log: log, Registry: prometheus.NewRegistry()})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defer closeFn() //nolint:errcheck // stopping local backends on the way out

			if once {
				rounds := d.RunOnce(ctx)
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var errs []error
				if err := d.ReleaseLease(rctx); err != nil {
					errs = append(errs, err)
				}
				for _, r := range rounds {
					if r.SourceError != "" {
						errs = append(errs, errors.New(r.SourceError))
					}
					if r.ActError != "" {
						errs = append(errs, fmt.Errorf("group %q: %s", r.Decision.Group, r.ActError))
					}
				}
				return errors.Join(errs...)
			}

			if cfg.Admin.Enabled {
				ln, err := net.Listen("tcp", cfg.Admin.Listen)
				if err != nil {
					return usageError(fmt.Errorf("%s: admin.listen %q: %w", path, cfg.Admin.Listen, err))
				}
				srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
				defer func() {
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					srv.Shutdown(sctx) //nolint:errcheck
				}()
				log.Info("autoscaler admin listening", "addr", ln.Addr().String())
			}
			log.Info("autoscaler running", "groups", len(cfg.Groups), "interval", cfg.Interval.String(), "lease", cfg.Lease.Type)
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "autoscaler config file (YAML)")
	cmd.Flags().BoolVar(&once, "once", false, "run one decision round per group and exit")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func newAutoscalerExplainCmd() *cobra.Command {
	var (
		path, group string
		window      time.Duration
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Describe a group's scaling now, like kubectl describe hpa, without acting",
		Long: `Load the config and the persisted state (state_dir), fetch the load once, read
the group from its actuator and print, like 'kubectl describe hpa': the load with
its unit; the load per instance against each policy's target; the bounds in force;
the conditions AbleToScale, ScalingActive (INSUFFICIENT_DATA while the history is
shorter than a policy needs) and ScalingLimited (e.g. "desired 1 raised to the
scheduled minimum 4"); each policy's proposal and why; the combined decision; and
recent events (scale-outs and scale-ins, failed reads, scheduled actions).
--json prints the same with lower-case snake_case keys.
Nothing is changed: no capacity, no persisted state, no lease.
A gateway source needs two scrapes for a rate: they are --scrape-window apart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadAutoscalerConfig(path)
			if err != nil {
				return err
			}
			if group == "" {
				return usageError(errors.New("--group is required"))
			}
			var names []string
			for _, g := range cfg.Groups {
				names = append(names, g.Name)
			}
			found := false
			for _, n := range names {
				found = found || n == group
			}
			if !found {
				return usageError(fmt.Errorf("--group %q: not in %s (groups: %s)", group, path, strings.Join(names, ", ")))
			}
			if window < 0 {
				return usageError(fmt.Errorf("--scrape-window: must not be negative, got %s", window))
			}
			log, err := levelLogger(cmd, cfg.Log.Level)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			d, closeFn, err := daemon.FromConfig(ctx, cfg, daemon.Env{Clock: clock.Real{}, Log: log, NoLease: true})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defer closeFn() //nolint:errcheck
			e, err := d.Explain(ctx, group, window)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(e)
			}
			return e.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "autoscaler config file (YAML)")
	cmd.Flags().StringVar(&group, "group", "", "group to explain")
	cmd.Flags().DurationVar(&window, "scrape-window", 5*time.Second, "time between the two scrapes of a gateway source")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

// loadAutoscalerConfig loads path; a missing flag, an unreadable file or
// an invalid config is a usage error (exit 2) naming the file and line.
func loadAutoscalerConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usageError(errors.New("--config is required"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageError(fmt.Errorf("--config %q: %w", path, err))
		}
		return nil, usageError(err)
	}
	return cfg, nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/policy"
	"github.com/drawbridge-dev/drawbridge/autoscaler/sim"
)

func newAutoscalerSimulateCmd() *cobra.Command {
	var (
		tracePath, cfgPath, group, chart string
		cpi                              float64
		launchDelay, warmup              time.Duration
		asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE.csv",
		Short: "Backtest autoscaling policies on a request-rate trace",
		Long: `Replay a request-rate trace (CSV "time,requests", one row per interval) through
the autoscaler's decision core against a simulated group, many times faster than
real time, and report the SPEC RG elasticity metrics of the policy under test
next to two baselines run on the same trace:

  reactive  target tracking alone at the policy's target, AWS defaults
  oracle    perfect foresight: ceil(demand / capacity per instance)

Metrics (fractions of the run): under_provisioned_time (τU), under_provisioned_demand
(θU), over_provisioned_time (τO), over_provisioned_demand (θO), plus instance_hours
and scaling_actions. Instances serve --launch-delay + warm-up after desired rises.

Without --config the default policy set is used: target tracking at 70% of the
capacity per instance plus predictive scaling. With --config, the group named by
--group (default: the first) supplies policies, bounds, warm-up and capacity per
instance. Up to 10 missing trace intervals in a row are filled by linear
interpolation; longer gaps, unsorted or duplicate rows and garbage are errors
naming the line.`,
		Example: `  drawbridge autoscaler simulate --trace ../shared/traces/worldcup98-per-minute.csv
  drawbridge autoscaler simulate --trace trace.csv --config examples/autoscaler.yaml --json --chart out.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tracePath == "" {
				return usageError(errors.New("--trace is required"))
			}
			if launchDelay < 0 {
				return usageError(fmt.Errorf("--launch-delay: must not be negative, got %s", launchDelay))
			}
			if cmd.Flags().Changed("warmup") && warmup < 0 {
				return usageError(fmt.Errorf("--warmup: must not be negative, got %s", warmup))
			}
			if cmd.Flags().Changed("capacity-per-instance") && !(cpi > 0 && !math.IsInf(cpi, 0)) {
				return usageError(fmt.Errorf("--capacity-per-instance: must be a positive number, got %g", cpi))
			}
			if chart != "" {
				if ext := strings.ToLower(filepath.Ext(chart)); ext != ".svg" && ext != ".html" {
					return usageError(fmt.Errorf("--chart %q: want a .svg or .html file", chart))
				}
			}
			tr, err := sim.LoadTrace(tracePath)
			if err != nil {
				return usageError(fmt.Errorf("--trace: %w", err))
			}
			set, g, err := simulationSetup(cmd, tr, cfgPath, group, cpi, launchDelay, warmup)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			shown := false
			opt := sim.Options{Record: chart != "", Progress: func(done, total int) {
				if time.Since(start) < time.Second && !shown {
					return
				}
				shown = true
				fmt.Fprintf(stderr, "\rsimulating: %3d%%", 100*done/max(total, 1))
			}}
			rep, series, err := sim.Compare(tr, set, g, opt)
			if shown {
				fmt.Fprintln(stderr)
			}
			if err != nil {
				return usageError(err)
			}
			if chart != "" {
				if err := writeChart(chart, series, fmt.Sprintf("%s: load, capacity and forecast (launch delay %s)", filepath.Base(tracePath), launchDelay)); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(out, tr, g, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tracePath, "trace", "", "request-rate trace, CSV time,requests (required)")
	f.StringVar(&cfgPath, "config", "", "autoscaler YAML config supplying the policies (default: target tracking + predictive)")
	f.StringVar(&group, "group", "", "group of --config to simulate (default: the first)")
	f.Float64Var(&cpi, "capacity-per-instance", 100, "requests/s one instance serves (default: the group's, else 100)")
	f.DurationVar(&launchDelay, "launch-delay", 3*time.Minute, "delay from a scale-out decision to a running instance")
	f.DurationVar(&warmup, "warmup", 0, "warm-up after launch before an instance serves (default: the group's with --config, else 0)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with keys policy, reactive and oracle")
	f.StringVar(&chart, "chart", "", "write an SVG (or HTML) chart of load, capacity and forecast to this file")
	return cmd
}

// simulationSetup returns the policy set and simulated group from the
// config (or the defaults) and the flags, which override the config.
func simulationSetup(cmd *cobra.Command, tr *sim.Trace, cfgPath, group string, cpi float64, launchDelay, warmup time.Duration) (*policy.Set, sim.Group, error) {
	flags := cmd.Flags()
	g := sim.Group{Name: "simulated", Min: 1, CapacityPerInstance: cpi, LaunchDelay: launchDelay, Warmup: warmup, Interval: time.Minute}
	if cfgPath == "" {
		if group != "" {
			return nil, g, usageError(errors.New("--group: needs --config"))
		}
		// No bounds to speak of: enough for three times the peak.
		peak := 0.0
		for i := range tr.Len() {
			peak = max(peak, tr.Rate(i))
		}
		g.Max = 3*int(math.Ceil(peak/cpi)) + 1
		return sim.DefaultSet(cpi), g, nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, g, usageError(fmt.Errorf("--config: %w", err))
	}
	var cg *config.Group
	for i := range cfg.Groups {
		if group == "" || cfg.Groups[i].Name == group {
			cg = &cfg.Groups[i]
			break
		}
	}
	if cg == nil {
		return nil, g, usageError(fmt.Errorf("--group %q: no such group in %s", group, cfgPath))
	}
	if !flags.Changed("capacity-per-instance") {
		g.CapacityPerInstance = cg.CapacityPerInstance
	} else {
		cg.CapacityPerInstance = cpi // policy targets left out follow it
	}
	if !flags.Changed("warmup") {
		g.Warmup = cg.Warmup
	}
	g.Name, g.Min, g.Max, g.Interval = cg.Name, cg.Min, cg.Max, cfg.Interval
	set := cg.PolicySet()
	if len(set.TargetTracking)+len(set.Step)+len(set.Predictive)+len(set.Scheduled) == 0 {
		return nil, g, usageError(fmt.Errorf("--config: group %q has no policies", cg.Name))
	}
	return &set, g, nil
}

func writeChart(path string, s *sim.Series, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	html := strings.EqualFold(filepath.Ext(path), ".html")
	if html {
		fmt.Fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n", title)
	}
	err = sim.WriteSVG(f, s, title)
	if html && err == nil {
		_, err = fmt.Fprintln(f, "</body></html>")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func printReport(w io.Writer, tr *sim.Trace, g sim.Group, r sim.Report) {
	fmt.Fprintf(w, "trace: %d intervals of %s from %s (%d filled); capacity %g req/s per instance, launch delay %s, warm-up %s\n\n",
		tr.Len(), tr.Step, tr.Start.Format(time.RFC3339), tr.Filled, g.CapacityPerInstance, g.LaunchDelay, g.Warmup)
	fmt.Fprintf(w, "%-9s %14s %9s %9s %9s %9s %8s\n", "", "instance_hours", "τU", "θU", "τO", "θO", "actions")
	for _, row := range []struct {
		name string
		m    sim.Metrics
	}{{"policy", r.Policy}, {"reactive", r.Reactive}, {"oracle", r.Oracle}} {
		m := row.m
		fmt.Fprintf(w, "%-9s %14.1f %8.3f%% %8.3f%% %8.2f%% %8.1f%% %8d\n", row.name, m.InstanceHours,
			100*m.UnderProvisionedTime, 100*m.UnderProvisionedDemand, 100*m.OverProvisionedTime, 100*m.OverProvisionedDemand, m.ScalingActions)
	}
}

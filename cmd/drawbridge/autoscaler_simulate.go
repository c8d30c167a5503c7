package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/autoscaler/sim"
)

func newAutoscalerSimulateCmd() *cobra.Command {
	var (
		tracePath, cfgPath, group, chart string
		fromS, toS, sweepS               string
		cpi, reactivePct, overBandPct    float64
		peakInstances                    int
		launchDelay, warmup              time.Duration
		asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE.csv",
		Short: "Backtest autoscaling policies on a request-rate trace",
		Long: `Replay a request-rate trace (CSV "time,requests", one row per interval) through
the autoscaler's decision core against a simulated group, many times faster than
real time, and report the SPEC RG elasticity metrics of the policy under test
next to baselines run on the same trace:

  reactive  target tracking alone (AWS defaults) at --reactive-target
  curve     the same swept over --sweep targets: the cost/under-provisioning
            trade-off, read at the policy's own instance-hours ("at equal cost")
  oracle    perfect foresight: ceil(demand / capacity per instance), no delay

Metrics (shares of the scored time): τU under_provisioned_time (load above
in-service capacity), θU under_provisioned_demand (mean unserved share of load),
τO over_provisioned_time (more than (1+--over-band) x the oracle's capacity), θO
over_provisioned_demand (mean capacity beyond the oracle's, relative to it), plus
instance_hours (every launched instance, billed from launch) and scaling_actions.
Instances serve --launch-delay + warm-up after desired rises. --from/--to score
and chart a window; the replay still starts at the trace's start so that
forecasters have their history.

Without --config the default policy set is used (see autoscaler/sim.DefaultSet):
target tracking plus a per-minute predictive policy that learns the trace's
periods and sizes its buffer from its own forecast errors; the daemon runs the
same policies from examples/autoscaler-default.yaml. With --config, the group named by
--group (default: the first) supplies policies, bounds, warm-up and capacity per
instance. Up to 10 missing trace intervals in a row are filled by linear
interpolation; longer gaps, unsorted or duplicate rows and garbage are errors
naming the line.`,
		Example: `  drawbridge autoscaler simulate --trace ../shared/traces/worldcup98-per-minute.csv
  drawbridge autoscaler simulate --trace trace.csv --config examples/autoscaler.yaml --json --chart out.svg
  drawbridge autoscaler simulate --trace ../shared/traces/worldcup98-per-minute.csv --from 1998-06-10 --to 1998-06-17 --chart week.svg`,
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
			if cmd.Flags().Changed("peak-instances") && peakInstances <= 0 {
				return usageError(fmt.Errorf("--peak-instances: must be positive, got %d", peakInstances))
			}
			if cmd.Flags().Changed("peak-instances") && cmd.Flags().Changed("capacity-per-instance") {
				return usageError(errors.New("--peak-instances and --capacity-per-instance exclude each other"))
			}
			if !(overBandPct >= 0) {
				return usageError(fmt.Errorf("--over-band: must not be negative, got %g", overBandPct))
			}
			if cmd.Flags().Changed("reactive-target") && !(reactivePct > 0 && reactivePct <= 100) {
				return usageError(fmt.Errorf("--reactive-target: want a percentage in (0, 100], got %g", reactivePct))
			}
			sweep, err := parseSweep(sweepS)
			if err != nil {
				return usageError(fmt.Errorf("--sweep %q: %w", sweepS, err))
			}
			var from, to time.Time
			if from, err = parseWhen(fromS); err != nil {
				return usageError(fmt.Errorf("--from: %w", err))
			}
			if to, err = parseWhen(toS); err != nil {
				return usageError(fmt.Errorf("--to: %w", err))
			}
			if !from.IsZero() && !to.IsZero() && !from.Before(to) {
				return usageError(fmt.Errorf("--from %s is not before --to %s", fromS, toS))
			}
			tr, err := sim.LoadTrace(tracePath)
			if err != nil {
				return usageError(fmt.Errorf("--trace: %w", err))
			}
			if peakInstances > 0 {
				// Size instances to the trace: its peak needs peakInstances.
				peak := 0.0
				for i := range tr.Len() {
					peak = max(peak, tr.Rate(i))
				}
				if peak <= 0 {
					return usageError(fmt.Errorf("--peak-instances: trace %s has no load", tracePath))
				}
				cpi = peak / float64(peakInstances)
				cmd.Flags().Lookup("capacity-per-instance").Changed = true
			}
			set, g, err := simulationSetup(cmd, tr, cfgPath, group, cpi, launchDelay, warmup)
			if err != nil {
				return err
			}
			if err := sim.CheckSeason(tr, set); err != nil {
				return usageError(fmt.Errorf("--trace: %w", err))
			}
			reactiveTarget := sim.BaselineTarget(set, g.CapacityPerInstance)
			if cfgPath == "" || cmd.Flags().Changed("reactive-target") {
				reactiveTarget = reactivePct / 100 * g.CapacityPerInstance
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			tty := isTerminal(stderr)
			shown := false
			opt := sim.CompareOptions{Options: sim.Options{Record: chart != "", From: from, To: to, OverBand: overBandPct / 100,
				Progress: func(done, total int) {
					if !tty || time.Since(start) < time.Second && !shown {
						return
					}
					shown = true
					fmt.Fprintf(stderr, "\rsimulating: %3d%%", 100*done/max(total, 1))
				}}, ReactiveTarget: reactiveTarget, Sweep: sweep}
			rep, series, err := sim.Compare(tr, set, g, opt)
			if shown {
				fmt.Fprintln(stderr)
			}
			if err != nil {
				return usageError(err)
			}
			rep.Policies = sim.Describe(set)
			if chart != "" {
				c := sim.Chart{Title: fmt.Sprintf("%s: load, capacity and forecast (launch delay %s)", filepath.Base(tracePath), launchDelay),
					Min: g.Min, Max: g.Max, CPI: g.CapacityPerInstance, Curve: rep.Curve, Policy: &rep.Policy, PolicyLabel: "policy under test"}
				if err := writeChart(chart, series, c); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(out, tr, g, opt, rep)
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
	f.IntVar(&peakInstances, "peak-instances", 0, "size instances so that the trace's peak needs this many (sets the capacity per instance)")
	f.Float64Var(&reactivePct, "reactive-target", 70, "reactive baseline's target, percent of the capacity per instance (default: 70 without --config, else the config's first target)")
	f.StringVar(&sweepS, "sweep", "40:80:5", "reactive targets of the trade-off curve, percent: FROM:TO:STEP or a comma list (\"none\" = no curve)")
	f.Float64Var(&overBandPct, "over-band", 50, "τO counts time with capacity more than this percent above the oracle's")
	f.StringVar(&fromS, "from", "", "score and chart from this time (RFC 3339 or YYYY-MM-DD, UTC)")
	f.StringVar(&toS, "to", "", "score and chart until this time, exclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object: policies, policy, reactive, oracle, reactive_curve, equal_cost")
	f.StringVar(&chart, "chart", "", "write an SVG (or HTML) chart of load, capacity and forecast to this file")
	return cmd
}

// simulationSetup returns the policy set and simulated group from the
// config (or the defaults) and the flags, which override the config.
func simulationSetup(cmd *cobra.Command, tr *sim.Trace, cfgPath, group string, cpi float64, launchDelay, warmup time.Duration) (*scaling.Set, sim.Group, error) {
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
		return sim.DefaultSet(cpi, launchDelay+warmup), g, nil
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

// parseSweep reads "FROM:TO:STEP" or "a,b,c" in percent into shares.
func parseSweep(s string) ([]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []float64
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		var v [3]float64
		for i, p := range parts {
			x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", p)
			}
			v[i] = x
		}
		if !(v[0] > 0 && v[1] >= v[0] && v[1] <= 100 && v[2] > 0) {
			return nil, errors.New("want 0 < FROM <= TO <= 100 and STEP > 0")
		}
		for x := v[0]; x <= v[1]+1e-9; x += v[2] {
			out = append(out, x/100)
		}
		if len(out) > 100 {
			return nil, fmt.Errorf("%d targets; at most 100", len(out))
		}
		return out, nil
	}
	for _, p := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(x > 0 && x <= 100) {
			return nil, fmt.Errorf("%q: want a percentage in (0, 100]", p)
		}
		out = append(out, x/100)
	}
	return out, nil
}

// parseWhen reads an RFC 3339 time or a UTC date; "" is the zero time.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2006-01-02T15:04:05Z) or a date (2006-01-02)", s)
	}
	return t, nil
}

func writeChart(path string, s *sim.Series, c sim.Chart) error {
	title := c.Title
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	html := strings.EqualFold(filepath.Ext(path), ".html")
	if html {
		fmt.Fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n", title)
	}
	err = sim.WriteSVG(f, s, c)
	if html && err == nil {
		_, err = fmt.Fprintln(f, "</body></html>")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func printReport(w io.Writer, tr *sim.Trace, g sim.Group, opt sim.CompareOptions, r sim.Report) {
	fmt.Fprintf(w, "trace: %d intervals of %s from %s (%d filled); capacity %.4g req/s per instance, launch delay %s, warm-up %s, group [%d, %d]\n",
		tr.Len(), tr.Step, tr.Start.Format(time.RFC3339), tr.Filled, g.CapacityPerInstance, g.LaunchDelay, g.Warmup, g.Min, g.Max)
	from, to := tr.Start, tr.End()
	if !opt.From.IsZero() && opt.From.After(from) {
		from = opt.From
	}
	if !opt.To.IsZero() && opt.To.Before(to) {
		to = opt.To
	}
	fmt.Fprintf(w, "scored: %s to %s\n", from.Format(time.RFC3339), to.Format(time.RFC3339))
	fmt.Fprintln(w, "policy under test:")
	for _, p := range r.Policies {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if len(r.Policy.Forecasters) > 0 {
		fmt.Fprintf(w, "  forecaster in use (share of time): %s\n", shares(r.Policy.Forecasters))
	}
	fmt.Fprintf(w, "reactive: target tracking alone at %.0f%% of capacity per instance, AWS defaults\n\n", 100*r.ReactiveTarget)
	header := func() {
		fmt.Fprintf(w, "%-16s %14s %9s %9s %9s %9s %8s\n", "run", "instance_hours", "τU", "θU", "τO", "θO", "actions")
	}
	row := func(name string, m sim.Metrics) {
		fmt.Fprintf(w, "%-16s %14.1f %8.3f%% %8.3f%% %8.2f%% %8.1f%% %8d\n", name, m.InstanceHours,
			100*m.UnderProvisionedTime, 100*m.UnderProvisionedDemand, 100*m.OverProvisionedTime, 100*m.OverProvisionedDemand, m.ScalingActions)
	}
	header()
	row("policy", r.Policy)
	row(fmt.Sprintf("reactive@%.0f%%", 100*r.ReactiveTarget), r.Reactive)
	row("oracle", r.Oracle)
	fmt.Fprintf(w, "\npolicy / reactive@%.0f%%: instance_hours %.3fx, τU %s, θU %s\n", 100*r.ReactiveTarget,
		r.Policy.InstanceHours/r.Reactive.InstanceHours, ratioStr(r.Policy.UnderProvisionedTime, r.Reactive.UnderProvisionedTime),
		ratioStr(r.Policy.UnderProvisionedDemand, r.Reactive.UnderProvisionedDemand))
	if len(r.Curve) > 0 {
		fmt.Fprintln(w, "\nreactive trade-off curve (target tracking alone, by target):")
		header()
		for _, p := range r.Curve {
			row(fmt.Sprintf("reactive@%.0f%%", 100*p.Target), p.Metrics)
		}
		ec := r.EqualCost
		switch ec.Clamped {
		case "":
			fmt.Fprintf(w, "\nat equal cost (%.1f instance-hours, reactive at %.1f%% interpolated): τU is %s reactive's (%.3f%%), θU is %s (%.3f%%)\n",
				ec.InstanceHours, 100*ec.Target, ratioStr(r.Policy.UnderProvisionedTime, ec.UnderProvisionedTime), 100*ec.UnderProvisionedTime,
				ratioStr(r.Policy.UnderProvisionedDemand, ec.UnderProvisionedDemand), 100*ec.UnderProvisionedDemand)
		default:
			fmt.Fprintf(w, "\nat equal cost: the policy's %.1f instance-hours are %s the curve; read at its %s end (reactive at %.0f%%): τU is %s reactive's, θU is %s\n",
				ec.InstanceHours, map[string]string{"below": "below", "above": "above"}[ec.Clamped], map[string]string{"below": "cheapest", "above": "dearest"}[ec.Clamped],
				100*ec.Target, ratioStr(r.Policy.UnderProvisionedTime, ec.UnderProvisionedTime), ratioStr(r.Policy.UnderProvisionedDemand, ec.UnderProvisionedDemand))
		}
	}
	fmt.Fprintf(w, `
columns: instance_hours = launched instances billed from launch to termination;
  τU = share of time load exceeds in-service capacity; θU = mean share of load unserved;
  τO = share of time in-service capacity exceeds %.0f%% more than the oracle's ceil(load/capacity);
  θO = mean capacity beyond the oracle's, relative to it (the oracle scores 0);
  actions = changes of desired capacity.
`, 100*opt.OverBand)
}

func ratioStr(a, b float64) string {
	switch {
	case b > 0:
		return fmt.Sprintf("%.2fx", a/b)
	case a == 0:
		return "equal (both 0)"
	}
	return "worse: reactive's is 0, the policy's is not;"
}

func shares(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.0f%%", k, 100*m[k])
	}
	return strings.Join(parts, ", ")
}

// isTerminal reports whether w is a terminal: progress is for people, not
// for logs or pipes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

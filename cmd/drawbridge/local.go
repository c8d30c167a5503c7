package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/local"
)

func newLocalCmd() *cobra.Command {
	var (
		opt                local.Options
		tracePath, logPath string
		from               string
		duration           time.Duration
		asJSON, quiet      bool
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the whole traffic core on this machine, with a live dashboard",
		Long: `Start, on loopback: a pool of backend processes, the gateway in front of them,
the autoscaler with the local actuator (it starts and stops backend processes),
and a load generator replaying a daily pattern (or --trace) at --speed. A day
lasts 40 s at the default speed, so a scale-out and a scale-in happen within a
minute. No cloud account, no config file.

It prints the gateway and dashboard URLs, then a live summary every 2 s. Ctrl-C
(or SIGTERM, or --duration) stops everything, backends included, and prints a
final summary (--json: as JSON on stdout). A backend killed by hand is
replaced; with retries and outlier ejection, clients see no error.`,
		Example: `  drawbridge local
  drawbridge local --duration 60s --json
  drawbridge local --trace ../shared/traces/wikipedia-en-2016-01-per-hour.csv
  drawbridge local --trace ../shared/traces/worldcup98-per-minute.csv --from 1998-06-30T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tracePath != "" {
				p, err := local.TracePattern(tracePath)
				if err != nil {
					return usageError(fmt.Errorf("--trace: %w", err))
				}
				opt.Pattern = p
			}
			if from != "" {
				at, err := time.Parse(time.RFC3339, from)
				if err != nil {
					return usageError(fmt.Errorf("--from: want an RFC 3339 time: %w", err))
				}
				if err := opt.Pattern.StartAt(at); err != nil {
					return usageError(fmt.Errorf("--from: %w", err))
				}
			}
			switch {
			case opt.Speed <= 0:
				return usageError(fmt.Errorf("--speed: must be positive, got %g", opt.Speed))
			case opt.Peak <= 0:
				return usageError(fmt.Errorf("--peak: must be positive, got %g", opt.Peak))
			case opt.Target <= 0:
				return usageError(fmt.Errorf("--target: must be positive, got %g", opt.Target))
			case opt.Min < 1 || opt.Max < opt.Min:
				return usageError(fmt.Errorf("--min/--max: want 1 <= min <= max, got %d and %d", opt.Min, opt.Max))
			case duration < 0:
				return usageError(fmt.Errorf("--duration: must not be negative, got %s", duration))
			}
			out := cmd.OutOrStdout()
			// Progress goes to stderr with --json, so stdout is the JSON alone.
			live := out
			if asJSON {
				live = cmd.ErrOrStderr()
			}
			if quiet {
				live = io.Discard
			}
			if logPath != "" {
				f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return usageError(fmt.Errorf("--log: %w", err))
				}
				defer f.Close()
				opt.Log = slog.New(slog.NewJSONHandler(f, nil))
				opt.BackendOutput = f // the backends' own lines join the same file
			}

			ctx, stop := signalContextFor(duration)
			defer stop()
			s, err := local.Start(ctx, opt)
			if s != nil {
				defer s.Stop() // on every path: no backend process outlives the command
			}
			if err != nil {
				return err
			}
			u := s.URLs()
			fmt.Fprintf(live, "drawbridge local: ready in %d ms\n", s.ReadyIn().Milliseconds())
			fmt.Fprintf(live, "  gateway    %s   (try: curl -s %s/)\n", u.Gateway, u.Gateway)
			fmt.Fprintf(live, "  dashboard  %s\n", u.Dashboard)
			fmt.Fprintf(live, "  admin      %s/status  %s/metrics\n", u.Admin, u.Admin)
			fmt.Fprintf(live, "  load       %s at %gx speed, peak %g req/s; stop with Ctrl-C\n", patternName(opt), opt.Speed, opt.Peak)

			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
		loop:
			for {
				select {
				case <-ctx.Done():
					break loop
				case <-t.C:
					if err := s.Err(); err != nil {
						return fmt.Errorf("gateway: %w", err)
					}
					fmt.Fprintln(live, s.Line())
				}
			}
			// A second Ctrl-C now kills the command at once, as with docker
			// compose; the backends die with it (their parent-death signal).
			stop()
			fmt.Fprintln(live, "stopping: load, autoscaler, backends, gateway (Ctrl-C again to force)")
			sum := s.Stop()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			if err := sum.WriteText(out); err != nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Listen, "listen", "127.0.0.1:8080", "gateway address")
	f.StringVar(&opt.Admin, "admin", "127.0.0.1:9090", "admin address (dashboard, status, metrics)")
	f.StringVar(&tracePath, "trace", "", "replay this request-rate trace (CSV time,requests) instead of the built-in day")
	f.StringVar(&from, "from", "", "start the --trace replay at this RFC 3339 time (default: its first row)")
	f.Float64Var(&opt.Speed, "speed", local.DefaultSpeed, "replayed seconds per real second (default: a day in 40 s)")
	f.Float64Var(&opt.Peak, "peak", 200, "request rate at the peak of the first replayed day, req/s")
	f.Float64Var(&opt.Target, "target", 40, "req/s per backend the autoscaler aims at")
	f.IntVar(&opt.Min, "min", 1, "fewest backends")
	f.IntVar(&opt.Max, "max", 6, "most backends")
	f.DurationVar(&duration, "duration", 0, "stop after this long and print a summary (0: run until Ctrl-C)")
	f.BoolVar(&asJSON, "json", false, "print the final summary as JSON on stdout (live output goes to stderr)")
	f.BoolVar(&quiet, "quiet", false, "no live output, only the final summary")
	f.StringVar(&logPath, "log", "", "append the gateway's, autoscaler's, actuator's and backends' logs to this file (without it, backends' output is discarded)")
	_ = cmd.MarkFlagFilename("trace", "csv")
	return cmd
}

func patternName(o local.Options) string {
	if o.Pattern.Name == "" {
		return local.BuiltinDay().Name
	}
	return o.Pattern.Name
}

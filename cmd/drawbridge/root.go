package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/internal/buildinfo"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "drawbridge",
		Short: "Deploy and run a scalable traffic core: gateway, autoscaler, infrastructure",
		Long: `drawbridge runs the traffic core of a service: a gateway in front of backend
pools, and the tooling to deploy it on AWS.

Start with:
  drawbridge gateway proxy --listen :8080 --to 127.0.0.1:9001,127.0.0.1:9002
  drawbridge gateway run --config examples/gateway.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints the same as `drawbridge version`. The template is
	// the rendered text: it holds no template actions.
	info := buildinfo.Get()
	root.Version = info.Version
	root.SetVersionTemplate(info.String())
	root.AddCommand(newVersionCmd(), newDemoCmd(), newBackendCmd(), newGatewayCmd(), newAutoscalerCmd(), newLocalCmd())
	root.AddCommand(newDeployCmds()...)
	root.AddCommand(newRenderCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Long: `Print the version, the commit the binary was built from (with "(modified)"
if the working tree had uncommitted changes), its date and the Go version.
Release builds set these at link time (scripts/release.sh); other builds
read what the Go toolchain embedded from the git checkout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Get()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprint(cmd.OutOrStdout(), info.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// signalContextFor is signalContext that also ends after d (--duration)
// when d is positive; its stop does both.
func signalContextFor(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signalContext()
	if d <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stop() }
}

// newLogger is the operational log: JSON lines on stderr.
func newLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// levelLogger is newLogger at the level of --log-level, else
// DRAWBRIDGE_LOG_LEVEL, else the config file's log.level (configLevel; ""
// when the command has no file), else info. A bad value is a usage error
// naming where it came from.
func levelLogger(cmd *cobra.Command, configLevel string) (*slog.Logger, error) {
	flag := ""
	if f := cmd.Flag("log-level"); f != nil { // inherited from gateway or autoscaler
		flag = f.Value.String()
	}
	level, err := telemetry.ResolveLevel(flag, os.Getenv(telemetry.LevelEnv), configLevel)
	if err != nil {
		return nil, usageError(err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

// addLogLevelFlag gives cmd and its subcommands --log-level.
func addLogLevelFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().String("log-level", "", "log level: debug, info, warn or error (over "+telemetry.LevelEnv+" and the config's log.level; default info)")
}

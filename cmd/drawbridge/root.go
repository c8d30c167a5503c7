package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

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
	root.AddCommand(newVersionCmd(), newDemoCmd(), newBackendCmd(), newGatewayCmd(), newAutoscalerCmd(), newLocalCmd())
	root.AddCommand(newDeployCmds()...)
	root.AddCommand(newRenderCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the drawbridge version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(cmd.OutOrStdout(), "drawbridge %s\n", v)
			return nil
		},
	}
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// newLogger is the operational log: JSON lines on stderr.
func newLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

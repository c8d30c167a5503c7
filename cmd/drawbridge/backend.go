package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/demobackend"
)

func newBackendCmd() *cobra.Command {
	var (
		listen  string
		id      string
		latency time.Duration
	)
	cmd := &cobra.Command{
		Use:   "backend",
		Short: "Run the example backend app (answers with its id; serves /healthz)",
		Long: `Run a small example backend. Every request is answered with the backend's id
in the body and in the X-Backend-Id header; /healthz answers 200. --latency adds
a delay to every answer except /healthz. Examples, local mode and tests use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if latency < 0 {
				return usageError(fmt.Errorf("--latency: must not be negative, got %s", latency))
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError(fmt.Errorf("--listen %q: %w", listen, err))
			}
			if id == "" {
				id = ln.Addr().String()
			}
			ctx, stop := signalContext()
			defer stop()
			newLogger().Info("backend listening", "id", id, "addr", ln.Addr().String(), "latency", latency.String())
			return demobackend.Serve(ctx, ln, demobackend.NewHandler(demobackend.Config{ID: id, Latency: latency}))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9001", "address to listen on")
	cmd.Flags().StringVar(&id, "id", "", "backend id to answer with (default: the listen address)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "delay added to every answer, e.g. 20ms")
	return cmd
}

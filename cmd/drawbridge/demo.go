package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/demobackend"
	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
)

func newDemoCmd() *cobra.Command {
	var (
		listen, admin, strategy string
		backends                int
		duration                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the gateway in front of built-in example backends on loopback",
		Long: `Start a few example backends on loopback and the gateway in front of them,
with health checks and the admin listener on: its / is the dashboard. No config
file, no cloud account.
Stop with Ctrl-C (or --duration).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backends < 1 || backends > 64 {
				return usageError(fmt.Errorf("--backends: must be 1..64, got %d", backends))
			}
			ctx, stop := signalContextFor(duration)
			defer stop()
			var addrs []string
			for i := 0; i < backends; i++ {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return err
				}
				addrs = append(addrs, ln.Addr().String())
				h := demobackend.NewHandler(demobackend.Config{ID: "backend-" + strconv.Itoa(i+1)})
				go func() { _ = demobackend.Serve(ctx, ln, h) }()
			}
			cfg, err := config.Default(addrs)
			if err != nil {
				return err
			}
			cfg.Listen, cfg.Admin.Listen = listen, admin
			cfg.AccessLog.Enabled = false
			p := &cfg.Pools[0]
			p.Strategy = strategy
			hc := config.DefaultHealthCheck()
			hc.Interval = time.Second
			hc.Timeout = 500 * time.Millisecond
			p.HealthCheck = &hc
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			r := &server.Runner{Config: cfg, Options: gatewayOptions(newLogger()),
				Ready: func(l server.Listeners, _ *gateway.Gateway) {
					fmt.Fprintf(out, "gateway    http://%s  (%s over %d example backends)\n", l.HTTP, strategy, backends)
					if l.Admin != nil {
						fmt.Fprintf(out, "dashboard  http://%s/dashboard/\n", l.Admin)
						fmt.Fprintf(out, "status     http://%s/status\nmetrics    http://%s/metrics\n", l.Admin, l.Admin)
					}
					fmt.Fprintf(out, "try        curl -s http://%s/   (each answer names its backend)\n", l.HTTP)
				}}
			return r.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "gateway address")
	f.StringVar(&admin, "admin", "127.0.0.1:9090", "admin address (metrics, status)")
	f.StringVar(&strategy, "strategy", balance.RoundRobin, "load-balancing strategy")
	f.IntVar(&backends, "backends", 3, "number of example backends")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	return cmd
}

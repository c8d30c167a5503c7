package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

func newGatewayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run, validate or quickly start the L7 gateway",
	}
	cmd.AddCommand(newGatewayRunCmd(), newGatewayValidateCmd(), newGatewayProxyCmd())
	return cmd
}

func newGatewayRunCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway from a YAML config",
		Long: `Run the gateway from a YAML config (see examples/gateway.yaml for every key and
its default). The config reloads on SIGHUP and when the file changes; an invalid
new config is refused with FILE:LINE and the key, and the old one keeps serving.
SIGTERM or SIGINT stop accepting and drain in-flight requests for up to
shutdown_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError(fmt.Errorf("--config is required"))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return usageError(err)
			}
			ctx, stop := signalContext()
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			r := &gateway.Runner{ConfigPath: path, Config: cfg, Reload: reload, Options: gateway.Options{Logger: newLogger()}}
			return r.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "gateway config file (YAML)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func newGatewayValidateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a gateway config; exit 2 with FILE:LINE: key: message if invalid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError(fmt.Errorf("--config is required"))
			}
			if _, err := config.Load(path); err != nil {
				return usageError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "gateway config file (YAML)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func newGatewayProxyCmd() *cobra.Command {
	var (
		listen, to, strategy, hashKey, healthPath, admin string
		accessLog                                        bool
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "A quick reverse proxy without a config file",
		Long: `Start a reverse proxy in front of the given backends without a config file,
like 'caddy reverse-proxy'. It is the same engine as 'gateway run'.

  drawbridge gateway proxy --listen :8080 --to 127.0.0.1:9001,127.0.0.1:9002 --strategy least_connections`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var addrs []string
			for _, a := range strings.Split(to, ",") {
				if a = strings.TrimSpace(a); a != "" {
					addrs = append(addrs, a)
				}
			}
			if len(addrs) == 0 {
				return usageError(fmt.Errorf("--to: at least one HOST:PORT is required"))
			}
			for _, a := range addrs {
				if _, _, err := net.SplitHostPort(a); err != nil {
					return usageError(fmt.Errorf("--to %q: %v", a, err))
				}
			}
			if !slices.Contains(config.Strategies, strategy) {
				return usageError(fmt.Errorf("--strategy %q: unknown; one of %s", strategy, strings.Join(config.Strategies, ", ")))
			}
			cfg, err := config.Default(addrs)
			if err != nil {
				return usageError(fmt.Errorf("--to: %w", err))
			}
			cfg.Listen = listen
			cfg.AccessLog.Enabled = accessLog
			cfg.AccessLog.Path = "stdout"
			if admin == "" || admin == "off" {
				cfg.Admin.Enabled = false
			} else {
				cfg.Admin.Listen = admin
			}
			p := &cfg.Pools[0]
			p.Strategy = strategy
			if hashKey != "" {
				if strategy != config.IPHash && strategy != config.ConsistentHash {
					return usageError(fmt.Errorf("--hash-key: only for ip_hash or consistent_hash, not %s", strategy))
				}
				p.HashKey = hashKey
			}
			if healthPath != "" {
				hc := config.DefaultHealthCheck()
				hc.Path = healthPath
				p.HealthCheck = &hc
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			ctx, stop := signalContext()
			defer stop()
			r := &gateway.Runner{Config: cfg, Options: gateway.Options{Logger: newLogger()}}
			return r.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":8080", "address to accept clients on")
	f.StringVar(&to, "to", "", "backends, comma-separated HOST:PORT list")
	f.StringVar(&strategy, "strategy", config.RoundRobin, "load-balancing strategy: "+strings.Join(config.Strategies, ", "))
	f.StringVar(&hashKey, "hash-key", "", "hash key for ip_hash/consistent_hash: header:NAME, cookie:NAME, query:NAME, path or ip")
	f.StringVar(&healthPath, "health-path", "", "enable active health checks of this path")
	f.StringVar(&admin, "admin", "127.0.0.1:9090", `admin listener (metrics, status); "off" disables`)
	f.BoolVar(&accessLog, "access-log", false, "write JSON access logs to stdout")
	_ = cmd.RegisterFlagCompletionFunc("strategy", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return config.Strategies, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

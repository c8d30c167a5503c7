package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
)

func newGatewayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run, validate or quickly start the L7 gateway",
	}
	cmd.AddCommand(newGatewayRunCmd(), newGatewayValidateCmd(), newGatewayProxyCmd())
	addLogLevelFlag(cmd)
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
shutdown_timeout.

The admin listener (admin.listen, loopback by default) serves /metrics,
/status and the dashboard at / ; backends are drained and undrained there
(POST /pools/POOL/backends/ID/drain or /undrain) from loopback, or from
elsewhere with the token in $` + gateway.AdminTokenEnv + ` as a bearer token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError(fmt.Errorf("--config is required"))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return usageError(err)
			}
			log, err := levelLogger(cmd, cfg.Log.Level)
			if err != nil {
				return err
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
			r := &server.Runner{ConfigPath: path, Config: cfg, Reload: reload, Options: gatewayOptions(log), Ready: logAdmin(log)}
			return r.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "gateway config file (YAML)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func newGatewayValidateCmd() *cobra.Command {
	return newValidateCmd("gateway", func(path string) error {
		_, err := config.Load(path)
		return err
	})
}

// newValidateCmd is `gateway validate` and `autoscaler validate`: the same
// flag, output and exit codes (2 with FILE:LINE: key: message).
func newValidateCmd(what string, load func(path string) error) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a " + what + " config; exit 2 with FILE:LINE: key: message if invalid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError(fmt.Errorf("--config is required"))
			}
			if err := load(path); err != nil {
				return usageError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", what+" config file (YAML)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func newGatewayProxyCmd() *cobra.Command {
	var q config.QuickProxy
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "A quick reverse proxy without a config file",
		Long: `Start a reverse proxy in front of the given backends without a config file,
like 'caddy reverse-proxy'. It is the same engine as 'gateway run', with the
defaults a config file for one pool would have: idempotent requests are
retried on another backend when the connect fails, the connection resets
before a response or the response times out, and a backend that keeps
failing is ejected for a while (outlier detection). There is no admin
listener unless --admin asks for one; with it, / on the admin address is
the dashboard (pools, backends with drain/undrain, per-route traffic).
Drain and undrain are accepted from loopback, or with the token in
$` + gateway.AdminTokenEnv + ` as a bearer token.

  drawbridge gateway proxy --listen :8080 --to 127.0.0.1:9001,127.0.0.1:9002 --strategy least_connections`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Quick(q)
			if err != nil {
				return usageError(err)
			}
			log, err := levelLogger(cmd, "")
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			r := &server.Runner{Config: cfg, Options: gatewayOptions(log), Ready: logAdmin(log)}
			return r.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Listen, "listen", ":8080", "address to accept clients on")
	f.StringVar(&q.To, "to", "", "backends, comma-separated HOST:PORT list")
	f.StringVar(&q.Strategy, "strategy", balance.RoundRobin, "load-balancing strategy: "+strings.Join(balance.Strategies(), ", "))
	f.StringVar(&q.HashKey, "hash-key", "", "hash key for ip_hash/consistent_hash: header:NAME, cookie:NAME, query:NAME, path or ip")
	f.StringVar(&q.HealthPath, "health-path", "", "enable active health checks of this path")
	f.StringVar(&q.Admin, "admin", "off", `admin listener (dashboard, metrics, status, pprof, drain API): "off", or an address; "127.0.0.1:0" picks a free port and logs it. Off by default so that quick proxies side by side never clash on a fixed port`)
	f.BoolVar(&q.AccessLog, "access-log", false, "write JSON access logs to stdout")
	f.StringVar(&q.Engine, "engine", config.EngineNetHTTP, "HTTP/1.1 server of the listener: net/http, or h1 (the gateway's own loop; see server.engine)")
	_ = cmd.RegisterFlagCompletionFunc("strategy", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return balance.Strategies(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// gatewayOptions are the options every command that runs a gateway shares.
func gatewayOptions(log *slog.Logger) gateway.Options {
	return gateway.Options{Logger: log, AdminToken: os.Getenv(gateway.AdminTokenEnv)}
}

// logAdmin logs where the dashboard is, and warns when the admin
// listener is reachable from other hosts.
func logAdmin(log *slog.Logger) func(server.Listeners, *gateway.Gateway) {
	return func(l server.Listeners, _ *gateway.Gateway) {
		if l.Admin == nil {
			return
		}
		log.Info("dashboard", "url", "http://"+l.Admin.String()+"/dashboard/")
		if ta, ok := l.Admin.(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
			log.Warn("the admin listener is not on loopback: its dashboard, /status, /metrics and pprof are readable by whoever reaches it; "+
				"drain and undrain still need loopback or the token in $"+gateway.AdminTokenEnv, "admin", l.Admin.String(),
				"token_set", os.Getenv(gateway.AdminTokenEnv) != "")
		}
	}
}

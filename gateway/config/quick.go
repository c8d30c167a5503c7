package config

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
)

// QuickProxy is what `drawbridge gateway proxy` takes on its command line.
// Errors from Quick name the flags (--to, --strategy, ...), not YAML keys.
type QuickProxy struct {
	Listen     string // --listen; default ":8080"
	To         string // --to: comma-separated HOST:PORT list; required
	Strategy   string // --strategy; default round_robin
	HashKey    string // --hash-key: only for ip_hash and consistent_hash
	HealthPath string // --health-path: enables active checks of this path
	Admin      string // --admin: "", "off" or an address ("127.0.0.1:0" picks a free port)
	AccessLog  bool   // --access-log: JSON access logs to stdout
	Engine     string // --engine: server.engine; default net/http
}

// Quick builds the configuration of a quick proxy: Default's, plus what a
// config file for one pool of interchangeable backends would say, so the
// quick proxy is as safe as one:
//
//   - retries of idempotent requests on another backend when the connect
//     fails, the connection is reset before a response, or the response
//     header times out (nginx's default proxy_next_upstream error timeout);
//     responses, 5xx included, are the backend's answer and are passed on;
//   - passive ejection (outlier detection) at its defaults, so a backend
//     that keeps failing stops being picked;
//   - no admin listener unless --admin asks for one, so two quick proxies
//     on one machine never fight over a fixed admin port.
func Quick(q QuickProxy) (*Config, error) {
	var addrs []string
	for _, a := range strings.Split(q.To, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--to: at least one HOST:PORT is required")
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("--to %q: %v", a, err)
		}
	}
	if q.Strategy == "" {
		q.Strategy = balance.RoundRobin
	}
	strategy, err := balance.Lookup(q.Strategy)
	if err != nil {
		return nil, fmt.Errorf("--strategy %q: unknown; one of %s", q.Strategy, strings.Join(balance.Strategies(), ", "))
	}
	cfg, err := Default(addrs)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	if q.Listen != "" {
		cfg.Listen = q.Listen
	}
	if q.Engine != "" {
		cfg.Server.Engine = q.Engine
	}
	cfg.AccessLog.Enabled = q.AccessLog
	cfg.AccessLog.Path = "stdout"
	if q.Admin == "" || q.Admin == "off" {
		cfg.Admin.Enabled = false
	} else {
		cfg.Admin.Listen = q.Admin
	}
	r := &cfg.Routes[0]
	r.Retry = new(Retry)
	r.Retry.SetDefaults()
	r.Retry.RetryOn = []string{RetryConnectError, RetryReset, RetryTimeout}
	p := &cfg.Pools[0]
	p.Strategy = q.Strategy
	p.Outlier = new(Outlier)
	p.Outlier.SetDefaults()
	if q.HashKey != "" {
		if !strategy.Hashed {
			return nil, fmt.Errorf("--hash-key: only for %s, not %s", strategiesWhere(func(i balance.Info) bool { return i.Hashed }), q.Strategy)
		}
		p.HashKey = q.HashKey
	}
	if q.HealthPath != "" {
		hc := DefaultHealthCheck()
		hc.Path = q.HealthPath
		p.HealthCheck = &hc
	}
	if err := cfg.Validate(); err != nil {
		return nil, quickError(err)
	}
	return cfg, nil
}

// quickError names the flag behind a config key where there is one.
func quickError(err error) error {
	flags := map[string]string{
		"listen": "--listen", "admin.listen": "--admin", "server.engine": "--engine", "pools[0].hash_key": "--hash-key",
		"pools[0].health_check.path": "--health-path",
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if key, rest, ok := strings.Cut(l, ": "); ok && flags[key] != "" {
			lines[i] = flags[key] + ": " + rest
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

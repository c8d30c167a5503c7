package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
)

// tcpListeners are the running L4 proxies, by name.
type tcpListeners map[string]*l4.Proxy

// startTCP starts every l4 listener of cfg; on error those started are shut.
func startTCP(g *gateway.Gateway, cfg *config.Config, errc chan<- error, log *slog.Logger) (tcpListeners, error) {
	ts := tcpListeners{}
	for i := range cfg.L4 {
		lc := &cfg.L4[i]
		p, err := l4.New(*lc, g.Clock(), log.With("l4", lc.Name))
		if err == nil {
			var ln net.Listener
			if ln, err = net.Listen("tcp", lc.Listen); err == nil {
				go func() { errc <- p.Serve(ln) }()
				ts[lc.Name] = p
				log.Info("l4 listening", "name", lc.Name, "addr", ln.Addr().String())
				continue
			}
		}
		ts.shutdown(context.Background())
		return nil, fmt.Errorf("l4 %q: %w", lc.Name, err)
	}
	g.SetL4(ts)
	return ts, nil
}

// apply updates the listeners' membership in place after a reload; adding
// or removing a listener, or moving it, takes a restart.
func (ts tcpListeners) apply(cfg *config.Config, log *slog.Logger) {
	seen := map[string]bool{}
	for i := range cfg.L4 {
		lc := &cfg.L4[i]
		seen[lc.Name] = true
		p := ts[lc.Name]
		if p == nil {
			log.Warn("new l4 listener takes effect on restart", "name", lc.Name)
			continue
		}
		if err := p.SetBackends(lc.Backends); err != nil {
			log.Error("l4 membership not applied", "name", lc.Name, "error", err.Error())
		}
	}
	for name := range ts {
		if !seen[name] {
			log.Warn("removed l4 listener keeps serving until restart", "name", name)
		}
	}
}

// shutdown stops accepting and drains every listener until ctx ends.
func (ts tcpListeners) shutdown(ctx context.Context) {
	for _, p := range ts {
		_ = p.Shutdown(ctx)
	}
}

package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"

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

// apply updates the listeners' membership in place after a reload from
// old; anything else of a listener (its mode, mqtt block, limits,
// address), and adding or removing one, takes a restart, and says so.
func (ts tcpListeners) apply(old, cfg *config.Config, log *slog.Logger) {
	before := map[string]l4.Config{}
	for _, lc := range old.L4 {
		before[lc.Name] = lc
	}
	seen := map[string]bool{}
	for i := range cfg.L4 {
		lc := &cfg.L4[i]
		seen[lc.Name] = true
		p := ts[lc.Name]
		if p == nil {
			log.Warn("new l4 listener takes effect on restart", "name", lc.Name)
			continue
		}
		if prev, ok := before[lc.Name]; ok && !sameButBackends(prev, *lc) {
			log.Warn("l4 listener settings other than its backends take effect on restart", "name", lc.Name)
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

// sameButBackends reports whether two configs of a listener differ in
// nothing but their backends, the one part a reload applies.
func sameButBackends(a, b l4.Config) bool {
	a.Backends, b.Backends = nil, nil
	return reflect.DeepEqual(a, b)
}

// shutdown stops accepting and drains every listener until ctx ends.
func (ts tcpListeners) shutdown(ctx context.Context) {
	for _, p := range ts {
		_ = p.Shutdown(ctx)
	}
}

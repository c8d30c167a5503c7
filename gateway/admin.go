package gateway

import (
	"net/http"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/admin"
	"github.com/drawbridge-dev/drawbridge/gateway/adminguard"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
)

// AdminTokenEnv is the environment variable the commands read the admin
// API token from (Options.AdminToken): an environment variable or a
// systemd EnvironmentFile keeps the secret out of config files and
// process listings.
const AdminTokenEnv = adminguard.TokenEnv

// AdminHandler is the admin listener's handler (see admin.Handler); it
// starts the dashboard's route sampler.
func (g *Gateway) AdminHandler() http.Handler {
	g.admin.StartSampler(g.metrics, func() []*pool.Pool { return *g.poolList.Load() }, g.clk)
	return admin.Handler(g, admin.Options{Registry: g.metrics.Registry, Token: g.opts.AdminToken, Routes: g.opts.AdminRoutes, Now: g.clk.Now})
}

// Status is the document served at /status.
type Status = admin.Status

// SetConfigFile names the file the configuration is loaded and reloaded
// from ("" when it is built in memory, as by gateway proxy).
func (g *Gateway) SetConfigFile(path string) { g.admin.SetConfigFile(path) }

// NoteReload records the outcome of a reload (SIGHUP or a file change);
// err is why it was refused, nil when it took effect.
func (g *Gateway) NoteReload(err error) { g.admin.NoteReload(g.clk.Now(), err) }

// ReloadStatus is the configuration's generation and reload history.
func (g *Gateway) ReloadStatus() dashboard.Reload {
	r := g.admin.Reload()
	rt := g.rt.Load()
	r.Generation, r.LoadedAt = rt.generation, rt.loadedAt
	return r
}

// DashboardPools is the pools and backends as the dashboard shows them.
func (g *Gateway) DashboardPools() []dashboard.Pool {
	return admin.DashboardPools(g.Status(), g.admin.Sampler())
}

// DashboardRoutes is each route of the serving configuration with its
// sampled traffic; requests that matched no route come last, when any.
func (g *Gateway) DashboardRoutes() []dashboard.Route {
	return admin.DashboardRoutes(g.rt.Load().table.Routes(), g.admin.Sampler())
}

// DashboardState is the dashboard's snapshot in gateway mode.
func (g *Gateway) DashboardState() dashboard.State {
	return dashboard.State{Mode: "gateway", Time: g.clk.Now(), Started: g.started, Listen: g.Config().Listen,
		Pools: g.DashboardPools(), Routes: g.DashboardRoutes(), Reload: new(g.ReloadStatus()),
		Groups: []dashboard.Group{}, Series: []dashboard.Point{}, Forecast: []dashboard.Forecast{}, Decisions: []dashboard.Decision{}}
}

// Status reports routes, pools and backends as they are now.
func (g *Gateway) Status() Status {
	rt := g.rt.Load()
	src := admin.Source{Now: g.clk.Now(), Started: g.started, Generation: rt.generation, LoadedAt: rt.loadedAt,
		Inflight: g.Inflight(), Draining: g.Draining(), Routes: rt.table.Routes(), Pools: *g.poolList.Load(),
		Failover: g.failover.Load(), Reload: g.ReloadStatus()}
	if ts := g.tcp.Load(); ts != nil {
		src.L4 = *ts
	}
	return src.Status()
}

package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/adminguard"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/status"
)

// AdminTokenEnv is the environment variable the commands read the admin
// API token from (Options.AdminToken): an environment variable or a
// systemd EnvironmentFile keeps the secret out of config files and
// process listings.
const AdminTokenEnv = adminguard.TokenEnv

// AdminHandler serves /metrics, /healthz, /readyz, /status, the dashboard
// (/ redirects to /dashboard/) and the drain API:
//
//	POST /pools/{pool}/backends/{backend}/drain
//	POST /pools/{pool}/backends/{backend}/undrain
//
// Reads are open to whoever reaches the admin listener (loopback by
// default), as Prometheus scrapes /metrics from another host. Changes are
// guarded by adminguard.Changes.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if g.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, g.Status())
	})
	// Profiling, as Caddy and Envoy offer on their admin endpoints; the admin
	// listener is loopback-only unless configured otherwise.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)

	guard := adminguard.Changes(g.opts.AdminToken)
	for verb, on := range map[string]bool{"drain": true, "undrain": false} {
		mux.Handle("POST /pools/{pool}/backends/{backend}/"+verb, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.serveDrain(w, r, on)
		})))
	}

	g.admin.StartSampler(g.metrics, func() []*pool.Pool { return *g.poolList.Load() }, g.clk)
	if _, ok := g.opts.AdminRoutes["GET /dashboard/"]; !ok { // local mode mounts its own
		mux.Handle("GET /dashboard/", dashboard.Handler(g.DashboardState))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusFound)
	})
	for pattern, h := range g.opts.AdminRoutes {
		mux.Handle(pattern, h)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveDrain drains (on) or undrains a backend: a drained backend takes
// no new requests and finishes those in flight, as one removed by a
// reload does; undrained, it ramps up again through slow start. The state
// survives reloads while the backend stays in its pool.
func (g *Gateway) serveDrain(w http.ResponseWriter, r *http.Request, on bool) {
	name, id := r.PathValue("pool"), r.PathValue("backend")
	p := g.Pool(name)
	if p == nil {
		http.Error(w, "no pool "+name, http.StatusNotFound)
		return
	}
	if !p.SetDrained(id, on, r.RemoteAddr) {
		http.Error(w, "pool "+name+" has no backend "+id, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, p.Status(g.clk.Now()))
}

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
	return status.DashboardPools(g.Status(), g.admin.Sampler())
}

// DashboardRoutes is each route of the serving configuration with its
// sampled traffic; requests that matched no route come last, when any.
func (g *Gateway) DashboardRoutes() []dashboard.Route {
	return status.DashboardRoutes(g.rt.Load().table.Routes(), g.admin.Sampler())
}

// DashboardState is the dashboard's snapshot in gateway mode.
func (g *Gateway) DashboardState() dashboard.State {
	return dashboard.State{Mode: "gateway", Time: g.clk.Now(), Started: g.started, Listen: g.Config().Listen,
		Pools: g.DashboardPools(), Routes: g.DashboardRoutes(), Reload: new(g.ReloadStatus()),
		Groups: []dashboard.Group{}, Series: []dashboard.Point{}, Forecast: []dashboard.Forecast{}, Decisions: []dashboard.Decision{}}
}

// Status reports routes, pools and backends as they are now.
func (g *Gateway) Status() status.Status {
	rt := g.rt.Load()
	src := status.Source{Now: g.clk.Now(), Started: g.started, Generation: rt.generation, LoadedAt: rt.loadedAt,
		Inflight: g.Inflight(), Draining: g.Draining(), Routes: rt.table.Routes(), Pools: *g.poolList.Load(),
		Failover: g.failover.Load(), Reload: g.ReloadStatus()}
	if ts := g.tcp.Load(); ts != nil {
		src.L4 = *ts
	}
	return src.Status()
}

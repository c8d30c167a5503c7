package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/adminguard"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/routehistory"
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

	g.admin.startSampler(g)
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

// adminState is what the admin listener shows beyond the request path's
// own state: the reload history and the per-route samples.
type adminState struct {
	mu      sync.Mutex
	reload  dashboard.Reload
	sampler *routehistory.Sampler
	stop    chan struct{}
}

// SetConfigFile names the file the configuration is loaded and reloaded
// from ("" when it is built in memory, as by gateway proxy).
func (g *Gateway) SetConfigFile(path string) {
	g.admin.mu.Lock()
	g.admin.reload.File = path
	g.admin.mu.Unlock()
}

// NoteReload records the outcome of a reload (SIGHUP or a file change);
// err is why it was refused, nil when it took effect.
func (g *Gateway) NoteReload(err error) {
	a := &g.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	now := g.clk.Now()
	a.reload.Attempts++
	a.reload.LastAt = now
	a.reload.LastResult = "success"
	if err != nil {
		a.reload.Failures++
		a.reload.LastResult = "failure"
		a.reload.LastError = err.Error()
		a.reload.ErrorAt = now
	}
}

// ReloadStatus is the configuration's generation and reload history.
func (g *Gateway) ReloadStatus() dashboard.Reload {
	g.admin.mu.Lock()
	r := g.admin.reload
	g.admin.mu.Unlock()
	rt := g.rt.Load()
	r.Generation, r.LoadedAt = rt.generation, rt.loadedAt
	return r
}

// DashboardPools is the pools and backends as the dashboard shows them.
func (g *Gateway) DashboardPools() []dashboard.Pool {
	out := []dashboard.Pool{}
	var rps map[[2]string]float64
	if s := g.admin.samplerOrNil(); s != nil {
		rps = s.BackendRates()
	}
	for _, p := range g.Status().Pools {
		dp := dashboard.Pool{Name: p.Name, Strategy: p.Strategy, Available: p.Available, Backends: []dashboard.Backend{}}
		for _, b := range p.Backends {
			dp.Backends = append(dp.Backends, dashboard.Backend{ID: b.ID, Address: b.Address, Available: b.Available,
				Healthy: b.Healthy, Ejected: b.Ejected, Circuit: b.Circuit, Inflight: b.Inflight, Requests: b.Requests,
				Failures: b.Failures, LatencyMS: routehistory.Round2(b.LatencyMS), Drained: b.Drained, RPS: rps[[2]string{p.Name, b.ID}]})
		}
		out = append(out, dp)
	}
	return out
}

// DashboardRoutes is each route of the serving configuration with its
// sampled traffic; requests that matched no route come last, when any.
func (g *Gateway) DashboardRoutes() []dashboard.Route {
	var series map[string][]dashboard.RoutePoint
	if s := g.admin.samplerOrNil(); s != nil {
		series = s.RouteSeries()
	}
	out := []dashboard.Route{}
	for _, rr := range g.rt.Load().routes {
		r := rr.r
		out = append(out, dashboard.Route{Name: r.Name, Match: r.Host + r.PathPrefix, Pool: r.Pool,
			Series: append([]dashboard.RoutePoint{}, series[r.Name]...)})
	}
	if pts := series[""]; routehistory.HasTraffic(pts) {
		out = append(out, dashboard.Route{Name: "(no route)", Match: "matched no route: 404", Series: pts})
	}
	return out
}

// DashboardState is the dashboard's snapshot in gateway mode.
func (g *Gateway) DashboardState() dashboard.State {
	return dashboard.State{Mode: "gateway", Time: g.clk.Now(), Started: g.started, Listen: g.Config().Listen,
		Pools: g.DashboardPools(), Routes: g.DashboardRoutes(), Reload: new(g.ReloadStatus()),
		Groups: []dashboard.Group{}, Series: []dashboard.Point{}, Forecast: []dashboard.Forecast{}, Decisions: []dashboard.Decision{}}
}

// Status is the JSON document served at /status.
type Status struct {
	Generation uint64              `json:"config_generation"`
	LoadedAt   time.Time           `json:"config_loaded_at"`
	Uptime     float64             `json:"uptime_seconds"`
	Inflight   int64               `json:"inflight"`
	Draining   bool                `json:"draining"`
	Routes     []routeStatus       `json:"routes"`
	Pools      []poolStatus        `json:"pools"`
	L4         map[string]l4.Stats `json:"l4,omitempty"`
	// Failover is the active-passive state: role, lease holder, fencing
	// token and the last transition with its reason; nil when off.
	Failover *failover.Status `json:"failover,omitempty"`
	Reload   dashboard.Reload `json:"reload"`
}

type routeStatus struct {
	Name       string   `json:"name"`
	Host       string   `json:"host,omitempty"`
	PathPrefix string   `json:"path_prefix"`
	Methods    []string `json:"methods,omitempty"`
	Pool       string   `json:"pool"`
}

// Status reports routes, pools and backends as they are now.
func (g *Gateway) Status() Status {
	now := g.clk.Now()
	rt := g.rt.Load()
	st := Status{
		Generation: rt.generation, LoadedAt: rt.loadedAt, Uptime: now.Sub(g.started).Seconds(),
		Inflight: g.Inflight(), Draining: g.Draining(),
		Routes: []routeStatus{}, Pools: []poolStatus{}, Reload: g.ReloadStatus(),
	}
	for _, rr := range rt.routes {
		st.Routes = append(st.Routes, routeStatus{Name: rr.r.Name, Host: rr.r.Host, PathPrefix: rr.r.PathPrefix, Methods: rr.r.Methods, Pool: rr.r.Pool})
	}
	for _, p := range *g.poolList.Load() {
		st.Pools = append(st.Pools, p.Status(now))
	}
	if ts := g.tcp.Load(); ts != nil && len(*ts) > 0 {
		st.L4 = map[string]l4.Stats{}
		for name, p := range *ts {
			st.L4[name] = p.Stats()
		}
	}
	if c := g.failover.Load(); c != nil {
		fs := c.Status()
		st.Failover = &fs
	}
	return st
}

// setFailover publishes the controller in /status and /metrics.
func (g *Gateway) setFailover(c *failover.Controller, transitions *prometheus.CounterVec) {
	g.failover.Store(c)
	for _, role := range []failover.Role{failover.Active, failover.Passive} {
		g.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "drawbridge_failover_role", Help: "1 for the role this gateway has now (active or passive).",
			ConstLabels: prometheus.Labels{"role": string(role), "node": c.Node()},
		}, func() float64 {
			if c.Status().Role == role {
				return 1
			}
			return 0
		}))
	}
	g.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "drawbridge_failover_token", Help: "The fencing token of the lease last seen (held, or held by the peer).",
		ConstLabels: prometheus.Labels{"node": c.Node()},
	}, func() float64 { return float64(c.Status().Token) }))
	g.metrics.Registry.MustRegister(transitions)
}

// newTransitionCounter counts role changes by the role entered.
func newTransitionCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drawbridge_failover_transitions_total", Help: "Role changes of this gateway, by the role entered.",
	}, []string{"to"})
}

// startSampler samples once a second until stopSampler; repeated calls
// keep the one sampler.
func (a *adminState) startSampler(g *Gateway) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sampler != nil {
		return
	}
	s := routehistory.New(g.metrics, func() []*pool.Pool { return *g.poolList.Load() }, g.clk.Now())
	a.sampler, a.stop = s, make(chan struct{})
	t, stop := g.clk.NewTicker(routehistory.Interval), a.stop
	go func() {
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C():
				s.Sample(now)
			}
		}
	}()
}

func (a *adminState) stopSampler() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		close(a.stop)
		a.stop = nil
	}
}

func (a *adminState) samplerOrNil() *routehistory.Sampler {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sampler
}

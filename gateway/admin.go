package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
)

// AdminHandler serves /metrics, /healthz, /readyz and /status.
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
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(g.Status())
	})
	// Profiling, as Caddy and Envoy offer on their admin endpoints; the admin
	// listener is loopback-only unless configured otherwise.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	for pattern, h := range g.opts.AdminRoutes {
		mux.Handle(pattern, h)
	}
	return mux
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
		Routes: []routeStatus{}, Pools: []poolStatus{},
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

// Package admin is the gateway's admin listener: its handler (/metrics,
// /healthz, /readyz, /status, pprof, the dashboard, the drain API), the
// /status document, the dashboard's pools and routes, the reload history
// with the route sampler's lifecycle, and the failover gauges. The gateway
// gathers its live state into a Source and serves what Handler returns;
// nothing here is on the request path.
package admin

import (
	"time"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
)

// Status is the JSON document served at /status.
type Status struct {
	Generation uint64              `json:"config_generation"`
	LoadedAt   time.Time           `json:"config_loaded_at"`
	Uptime     float64             `json:"uptime_seconds"`
	Inflight   int64               `json:"inflight"`
	Draining   bool                `json:"draining"`
	Routes     []Route             `json:"routes"`
	Pools      []pool.PoolStatus   `json:"pools"`
	L4         map[string]l4.Stats `json:"l4,omitempty"`
	// Failover is the active-passive state: role, lease holder, fencing
	// token and the last transition with its reason; nil when off.
	Failover *failover.Status `json:"failover,omitempty"`
	Reload   dashboard.Reload `json:"reload"`
}

// Route is a route's entry in /status.
type Route struct {
	Name       string   `json:"name"`
	Host       string   `json:"host,omitempty"`
	PathPrefix string   `json:"path_prefix"`
	Methods    []string `json:"methods,omitempty"`
	Pool       string   `json:"pool"`
}

// Source is the gateway's live state a Status is read from.
type Source struct {
	Now, Started time.Time
	Generation   uint64    // of the serving configuration
	LoadedAt     time.Time // when it was applied
	Inflight     int64
	Draining     bool
	Routes       []*route.Route
	Pools        []*pool.Pool
	L4           map[string]*l4.Proxy // nil or empty: no L4 listeners
	Failover     *failover.Controller // nil when off
	Reload       dashboard.Reload
}

// Status reports routes, pools and backends as they are now.
func (s *Source) Status() Status {
	st := Status{
		Generation: s.Generation, LoadedAt: s.LoadedAt, Uptime: s.Now.Sub(s.Started).Seconds(),
		Inflight: s.Inflight, Draining: s.Draining,
		Routes: []Route{}, Pools: []pool.PoolStatus{}, Reload: s.Reload,
	}
	for _, r := range s.Routes {
		st.Routes = append(st.Routes, Route{Name: r.Name, Host: r.Host, PathPrefix: r.PathPrefix, Methods: r.Methods, Pool: r.Pool})
	}
	for _, p := range s.Pools {
		st.Pools = append(st.Pools, p.Status(s.Now))
	}
	if len(s.L4) > 0 {
		st.L4 = map[string]l4.Stats{}
		for name, p := range s.L4 {
			st.L4[name] = p.Stats()
		}
	}
	if s.Failover != nil {
		fs := s.Failover.Status()
		st.Failover = &fs
	}
	return st
}

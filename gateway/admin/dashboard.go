package admin

import (
	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
	"github.com/drawbridge-dev/drawbridge/gateway/routehistory"
)

// DashboardPools is the pools and backends of st as the dashboard shows
// them, with each backend's request rate from s (nil: none sampled yet).
func DashboardPools(st Status, s *routehistory.Sampler) []dashboard.Pool {
	out := []dashboard.Pool{}
	var rps map[[2]string]float64
	if s != nil {
		rps = s.BackendRates()
	}
	for _, p := range st.Pools {
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

// DashboardRoutes is each route with its sampled traffic from s (nil:
// none sampled yet); requests that matched no route come last, when any.
func DashboardRoutes(routes []*route.Route, s *routehistory.Sampler) []dashboard.Route {
	var series map[string][]dashboard.RoutePoint
	if s != nil {
		series = s.RouteSeries()
	}
	out := []dashboard.Route{}
	for _, r := range routes {
		out = append(out, dashboard.Route{Name: r.Name, Match: r.Host + r.PathPrefix, Pool: r.Pool,
			Series: append([]dashboard.RoutePoint{}, series[r.Name]...)})
	}
	if pts := series[""]; routehistory.HasTraffic(pts) {
		out = append(out, dashboard.Route{Name: "(no route)", Match: "matched no route: 404", Series: pts})
	}
	return out
}

package pool

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gateway's own series live in Metrics beside the pools' (its scrape
// collector reads pool state); these are what the gateway records itself.

// Reloaded counts a configuration reload by its result.
func (m *Metrics) Reloaded(ok bool) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.lastReload.SetToCurrentTime()
}

// Inflight is the gauge of requests being served.
func (m *Metrics) Inflight() prometheus.Gauge { return m.inflight }

// Rejected counts a request refused by load shedding or a limit.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// RouteMetrics are one route's request series, looked up once.
type RouteMetrics routeMetrics

// Route returns the series of the named route ("" for no route).
func (m *Metrics) Route(name string) *RouteMetrics { return (*RouteMetrics)(m.route(name)) }

// Observe records one answered request.
func (rm *RouteMetrics) Observe(status int, d time.Duration) {
	rm.reqs[classIndex(status)].Inc()
	rm.dur.Observe(d.Seconds())
}

// RouteCollectors are the per-route request counter and latency histogram,
// for a reader that samples them (the dashboard's route history).
func (m *Metrics) RouteCollectors() []prometheus.Collector {
	return []prometheus.Collector{m.routeReqs, m.routeDur}
}

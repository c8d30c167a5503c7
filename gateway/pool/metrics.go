package pool

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Metrics holds the gateway's Prometheus collectors. Per-route and
// per-backend children are looked up once and cached, so the request path
// only does atomic adds.
type Metrics struct {
	Registry *prometheus.Registry

	routeReqs   *prometheus.CounterVec
	routeDur    *prometheus.HistogramVec
	backendReqs *prometheus.CounterVec
	backendDur  *prometheus.HistogramVec
	inflight    prometheus.Gauge
	reloads     *prometheus.CounterVec
	lastReload  prometheus.Gauge
	retries     *prometheus.CounterVec
	mirrors     *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	// Counters, not only the ejected/circuit gauges: an ejection or an
	// open shorter than the scrape interval would be missed by a gauge.
	ejections    *prometheus.CounterVec
	breakerOpens *prometheus.CounterVec
}

var classes = [...]string{"1xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

func classIndex(status int) int {
	i := status / 100
	if i < 1 || i > 5 {
		return 5
	}
	return i
}

// latencyBuckets spans loopback (100 µs) to slow upstreams (10 s).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics registers the gateway's collectors on a fresh registry; pools
// supplies the live pools for the backend state collector.
func NewMetrics(pools func() []*Pool) *Metrics {
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	counters := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histograms := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return f.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m := &Metrics{
		Registry:     reg,
		routeReqs:    counters("drawbridge_requests_total", "Requests answered, by route and status class.", "route", "code"),
		routeDur:     histograms("drawbridge_request_duration_seconds", "Time from request start to the end of the response, by route.", "route"),
		backendReqs:  counters("drawbridge_backend_requests_total", "Requests forwarded, by pool, backend and status class.", "pool", "backend", "code"),
		backendDur:   histograms("drawbridge_backend_response_seconds", "Backend response time, by pool and backend.", "pool", "backend"),
		inflight:     gauge("drawbridge_inflight_requests", "Requests being served by the gateway."),
		reloads:      counters("drawbridge_config_reloads_total", "Configuration reloads by result.", "result"),
		lastReload:   gauge("drawbridge_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully."),
		retries:      counters("drawbridge_retries_total", "Retries of failed tries on another backend, by route.", "route"),
		mirrors:      counters("drawbridge_mirror_requests_total", "Copies of requests to a route's shadow pool, by route and outcome (sent, failed, dropped).", "route", "outcome"),
		rejected:     counters("drawbridge_rejected_total", "Requests refused by load shedding or a bulkhead, by reason.", "reason"),
		ejections:    counters("drawbridge_backend_ejections_total", "Outlier ejections of the backend (passive health).", "pool", "backend"),
		breakerOpens: counters("drawbridge_backend_circuit_opens_total", "Times the backend's circuit breaker opened.", "pool", "backend"),
	}
	reg.MustRegister(backendCollector{pools},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type routeMetrics struct {
	reqs [6]prometheus.Counter
	dur  prometheus.Observer
}

func (m *Metrics) route(name string) *routeMetrics {
	rm := &routeMetrics{dur: m.routeDur.WithLabelValues(name)}
	for i, c := range classes {
		rm.reqs[i] = m.routeReqs.WithLabelValues(name, c)
	}
	return rm
}

type backendMetrics struct {
	reqs         [6]prometheus.Counter
	dur          prometheus.Observer
	ejections    prometheus.Counter
	breakerOpens prometheus.Counter
}

func (m *Metrics) backend(pool, id string) *backendMetrics {
	bm := &backendMetrics{
		dur:          m.backendDur.WithLabelValues(pool, id),
		ejections:    m.ejections.WithLabelValues(pool, id),
		breakerOpens: m.breakerOpens.WithLabelValues(pool, id),
	}
	for i, c := range classes {
		bm.reqs[i] = m.backendReqs.WithLabelValues(pool, id, c)
	}
	return bm
}

// forgetBackend drops a removed backend's series so that churn in
// membership does not grow the exposition forever.
func (m *Metrics) forgetBackend(pool, id string) {
	m.backendReqs.DeletePartialMatch(prometheus.Labels{"pool": pool, "backend": id})
	m.backendDur.DeleteLabelValues(pool, id)
	m.ejections.DeleteLabelValues(pool, id)
	m.breakerOpens.DeleteLabelValues(pool, id)
}

// backendCollector reads backend state at scrape time, costing the request
// path nothing.
type backendCollector struct{ pools func() []*Pool }

var (
	descUp       = prometheus.NewDesc("drawbridge_backend_up", "1 if the backend takes new requests (healthy, not ejected, not draining).", []string{"pool", "backend"}, nil)
	descHealthy  = prometheus.NewDesc("drawbridge_backend_healthy", "1 if the backend passes its active health checks.", []string{"pool", "backend"}, nil)
	descEjected  = prometheus.NewDesc("drawbridge_backend_ejected", "1 if the backend is ejected as an outlier.", []string{"pool", "backend"}, nil)
	descInflight = prometheus.NewDesc("drawbridge_backend_inflight_requests", "Requests in flight to the backend.", []string{"pool", "backend"}, nil)
	descPicks    = prometheus.NewDesc("drawbridge_balancer_picks_total", "Times the pool's strategy picked the backend.", []string{"pool", "strategy", "backend"}, nil)
	descCircuit  = prometheus.NewDesc("drawbridge_backend_circuit_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open (absent when off).", []string{"pool", "backend"}, nil)
	descMembers  = prometheus.NewDesc("drawbridge_pool_backends", "Backends in the pool, by availability.", []string{"pool", "state"}, nil)
)

func (c backendCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descHealthy, descEjected, descInflight, descPicks, descCircuit, descMembers} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c backendCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		v := p.view.Load()
		avail := 0
		for _, b := range v.members {
			id := b.ID()
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, b2f(b.Available()), p.name, id)
			ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, b2f(!b.HasFlag(upstream.FlagUnhealthy)), p.name, id)
			ch <- prometheus.MustNewConstMetric(descEjected, prometheus.GaugeValue, b2f(b.HasFlag(upstream.FlagEjected)), p.name, id)
			ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(b.Inflight()), p.name, id)
			ch <- prometheus.MustNewConstMetric(descPicks, prometheus.CounterValue, float64(b.Requests.Load()), p.name, v.strategy, id)
			if mem := ext.Load(b); mem != nil && mem.breaker != nil {
				ch <- prometheus.MustNewConstMetric(descCircuit, prometheus.GaugeValue, float64(mem.breaker.State()), p.name, id)
			}
			if b.Available() {
				avail++
			}
		}
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(avail), p.name, "available")
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(v.members)-avail), p.name, "unavailable")
	}
}

// mirrorCounters counts a route's mirrored copies.
type mirrorCounters struct{ sent, failed, dropped prometheus.Counter }

func (m *Metrics) mirror(route string) *mirrorCounters {
	return &mirrorCounters{
		sent:    m.mirrors.WithLabelValues(route, "sent"),
		failed:  m.mirrors.WithLabelValues(route, "failed"),
		dropped: m.mirrors.WithLabelValues(route, "dropped"),
	}
}

func (c *mirrorCounters) Sent()    { c.sent.Inc() }
func (c *mirrorCounters) Failed()  { c.failed.Inc() }
func (c *mirrorCounters) Dropped() { c.dropped.Inc() }

// Package routehistory keeps the dashboard's per-route history: one point
// a second for five minutes, computed from the gateway's own Prometheus
// counters so that the page and /metrics can never disagree.
package routehistory

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
)

// Interval is the time between points; Points is how many are kept.
const (
	Interval = time.Second
	Points   = 300
)

// Sampler turns the cumulative route counters and latency histograms
// into per-interval rates and quantiles, and backend pick counters into
// request rates. Only the admin listener's goroutine and readers touch it,
// never the request path.
type Sampler struct {
	gather prometheus.Gatherer // just the route collectors: cheap to gather
	pools  func() []*pool.Pool

	mu          sync.Mutex
	last        time.Time
	prev        map[string]routeTotals
	series      map[string][]dashboard.RoutePoint
	prevBackend map[[2]string]uint64
	backendRPS  map[[2]string]float64
}

// routeTotals are a route's cumulative counts at one instant.
type routeTotals struct {
	reqs, errs float64   // all responses, 5xx responses
	bounds     []float64 // histogram upper bounds, +Inf last
	cum        []uint64  // cumulative counts per bound
}

func New(m *pool.Metrics, pools func() []*pool.Pool, now time.Time) *Sampler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.RouteCollectors()...)
	return &Sampler{gather: reg, pools: pools, last: now, prev: map[string]routeTotals{},
		series: map[string][]dashboard.RoutePoint{}, prevBackend: map[[2]string]uint64{}, backendRPS: map[[2]string]float64{}}
}

// read gathers the cumulative totals of every route.
func (s *Sampler) read() map[string]routeTotals {
	out := map[string]routeTotals{}
	mfs, err := s.gather.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var route, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "route":
					route = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			t := out[route]
			switch mf.GetName() {
			case "drawbridge_requests_total":
				v := m.GetCounter().GetValue()
				t.reqs += v
				if code == "5xx" {
					t.errs += v
				}
			case "drawbridge_request_duration_seconds":
				h := m.GetHistogram()
				t.bounds, t.cum = t.bounds[:0], t.cum[:0]
				for _, b := range h.GetBucket() {
					t.bounds = append(t.bounds, b.GetUpperBound())
					t.cum = append(t.cum, b.GetCumulativeCount())
				}
				t.bounds = append(t.bounds, math.Inf(1))
				t.cum = append(t.cum, h.GetSampleCount())
			}
			out[route] = t
		}
	}
	return out
}

// Sample appends one point per route for the interval ending at now.
func (s *Sampler) Sample(now time.Time) {
	cur := s.read()
	backends := map[[2]string]uint64{}
	for _, p := range s.pools() {
		for _, b := range p.Members() {
			backends[[2]string{p.Name(), b.ID()}] = b.Requests.Load()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := now.Sub(s.last).Seconds()
	if dt <= 0 {
		return
	}
	s.last = now
	for route, c := range cur {
		p := s.prev[route]
		pt := dashboard.RoutePoint{T: now.UnixMilli()}
		if n := c.reqs - p.reqs; n > 0 {
			pt.RPS = Round2(n / dt)
			pt.ErrorRate = math.Round((c.errs-p.errs)/n*1e4) / 1e4
		}
		delta := make([]uint64, len(c.cum))
		for i := range c.cum {
			delta[i] = c.cum[i]
			if i < len(p.cum) && p.cum[i] <= c.cum[i] {
				delta[i] -= p.cum[i]
			}
		}
		pt.P50MS = Round2(quantile(0.5, c.bounds, delta) * 1000)
		pt.P99MS = Round2(quantile(0.99, c.bounds, delta) * 1000)
		pts := append(s.series[route], pt)
		if len(pts) > Points {
			pts = pts[len(pts)-Points:]
		}
		s.series[route] = pts
	}
	s.prev = cur
	clear(s.backendRPS)
	for k, n := range backends {
		if p, ok := s.prevBackend[k]; ok && n >= p {
			s.backendRPS[k] = Round2(float64(n-p) / dt)
		}
	}
	s.prevBackend = backends
}

// quantile estimates the q-quantile from cumulative bucket counts by
// linear interpolation within the bucket, as Prometheus's
// histogram_quantile does; 0 when there are no observations.
func quantile(q float64, bounds []float64, cum []uint64) float64 {
	if len(cum) == 0 || cum[len(cum)-1] == 0 {
		return 0
	}
	rank := q * float64(cum[len(cum)-1])
	i := sort.Search(len(cum), func(i int) bool { return float64(cum[i]) >= rank })
	if i >= len(bounds) {
		i = len(bounds) - 1
	}
	if math.IsInf(bounds[i], 1) {
		// Beyond the largest finite bound: report that bound, as
		// Prometheus does, rather than invent a value.
		if i == 0 {
			return 0
		}
		return bounds[i-1]
	}
	lower, below := 0.0, uint64(0)
	if i > 0 {
		lower, below = bounds[i-1], cum[i-1]
	}
	in := cum[i] - below
	if in == 0 {
		return bounds[i]
	}
	return lower + (bounds[i]-lower)*(rank-float64(below))/float64(in)
}

// RouteSeries is a copy of every route's points.
func (s *Sampler) RouteSeries() map[string][]dashboard.RoutePoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]dashboard.RoutePoint, len(s.series))
	for k, v := range s.series {
		out[k] = append([]dashboard.RoutePoint(nil), v...)
	}
	return out
}

// BackendRates is each backend's requests per second over the last
// interval, keyed by pool and backend id.
func (s *Sampler) BackendRates() map[[2]string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[[2]string]float64, len(s.backendRPS))
	for k, v := range s.backendRPS {
		out[k] = v
	}
	return out
}

// HasTraffic reports whether any point saw requests.
func HasTraffic(pts []dashboard.RoutePoint) bool {
	for _, p := range pts {
		if p.RPS > 0 {
			return true
		}
	}
	return false
}

// Round2 rounds to two decimals, as the dashboard shows numbers.
func Round2(x float64) float64 { return math.Round(x*100) / 100 }

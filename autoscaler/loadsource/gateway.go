package loadsource

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/clock"
)

// BackendRequestsMetric is the gateway counter the scrape reads.
const BackendRequestsMetric = "drawbridge_backend_requests_total"

// Gateway scrapes a drawbridge gateway's /metrics and turns the counter
// drawbridge_backend_requests_total into request rates. A rate needs two
// scrapes, so the first Query for a pool returns no sample (not zero).
// Counter resets (a gateway restart) are handled per series, as
// Prometheus's rate() does: a counter that went down restarted from zero.
type Gateway struct {
	url    string
	client *http.Client
	clock  clock.Clock

	mu   sync.Mutex
	last map[string]scrape // per Query.Metric (pool), so groups do not share deltas
}

type scrape struct {
	at     time.Time
	series map[string]float64 // "backend\xffcode" -> counter value
}

// NewGateway scrapes metricsURL (e.g. http://127.0.0.1:9090/metrics).
func NewGateway(metricsURL string, client *http.Client, clk clock.Clock) *Gateway {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Gateway{url: metricsURL, client: client, clock: clk, last: map[string]scrape{}}
}

// Query returns one sample at now: the pool's requests per second since
// the previous Query for that pool, summed over its backends. q.Metric
// names the pool; empty sums every pool.
func (g *Gateway) Query(ctx context.Context, q autoscaler.Query) ([]autoscaler.Sample, error) {
	cur, err := g.scrape(ctx, q.Metric)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	prev, ok := g.last[q.Metric]
	g.last[q.Metric] = cur
	g.mu.Unlock()
	if !ok {
		return nil, nil
	}
	dt := cur.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		return nil, nil
	}
	var delta float64
	for k, v := range cur.series {
		p, seen := prev.series[k]
		switch {
		case !seen:
			// A series born since the last scrape counted from zero.
			delta += v
		case v < p:
			delta += v // reset
		default:
			delta += v - p
		}
	}
	return []autoscaler.Sample{{Time: cur.at, Value: delta / dt}}, nil
}

// scrape reads the request counters of pool (all pools when empty).
func (g *Gateway) scrape(ctx context.Context, pool string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return scrape{}, fmt.Errorf("gateway metrics %s: %w", g.url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := g.client.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("gateway metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return scrape{}, fmt.Errorf("gateway metrics %s: status %s", g.url, resp.Status)
	}
	at := g.clock.Now()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return scrape{}, fmt.Errorf("gateway metrics %s: %w", g.url, err)
	}
	fam, ok := fams[BackendRequestsMetric]
	if !ok {
		// An idle gateway has not created the series yet; an absent family
		// is a valid "no requests so far", not a failure.
		return scrape{at: at, series: map[string]float64{}}, nil
	}
	if fam.GetType() != dto.MetricType_COUNTER && fam.GetType() != dto.MetricType_UNTYPED {
		return scrape{}, fmt.Errorf("gateway metrics %s: %s is a %s, want a counter", g.url, BackendRequestsMetric, fam.GetType())
	}
	s := scrape{at: at, series: map[string]float64{}}
	for _, m := range fam.GetMetric() {
		var mp, backend, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "pool":
				mp = l.GetValue()
			case "backend":
				backend = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		if pool != "" && mp != pool {
			continue
		}
		v := m.GetCounter().GetValue()
		if m.GetCounter() == nil {
			v = m.GetUntyped().GetValue()
		}
		s.series[strings.Join([]string{mp, backend, code}, "\xff")] += v
	}
	return s, nil
}

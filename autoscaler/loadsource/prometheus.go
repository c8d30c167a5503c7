package loadsource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Prometheus queries a Prometheus-compatible HTTP API (Prometheus, Thanos,
// VictoriaMetrics, Mimir) with /api/v1/query_range. The expression should
// yield one series (aggregate with sum()); if it yields several, their
// values are summed per timestamp.
type Prometheus struct {
	base   string
	query  string
	client *http.Client
}

// NewPrometheus queries baseURL (e.g. http://prometheus:9090) with expr
// unless a Query carries its own expression.
func NewPrometheus(baseURL, expr string, client *http.Client) *Prometheus {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Prometheus{base: strings.TrimRight(baseURL, "/"), query: expr, client: client}
}

type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func (p *Prometheus) Query(ctx context.Context, q autoscaler.Query) ([]autoscaler.Sample, error) {
	expr := q.Metric
	if expr == "" {
		expr = p.query
	}
	if expr == "" {
		return nil, fmt.Errorf("prometheus: no query configured")
	}
	step := q.Step
	if step <= 0 {
		step = time.Minute
	}
	v := url.Values{}
	v.Set("query", expr)
	v.Set("start", formatTime(q.From))
	v.Set("end", formatTime(q.To))
	v.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, fmt.Errorf("prometheus: status %s: %w", resp.Status, err)
	}
	if pr.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s", pr.ErrorType, pr.Error)
	}
	if pr.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("prometheus: result type %q, want matrix", pr.Data.ResultType)
	}
	sum := map[int64]float64{}
	for _, s := range pr.Data.Result {
		for _, pt := range s.Values {
			ts, ok := pt[0].(float64)
			str, ok2 := pt[1].(string)
			if !ok || !ok2 {
				return nil, fmt.Errorf("prometheus: malformed sample %v", pt)
			}
			val, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("prometheus: sample value %q: %w", str, err)
			}
			// NaN/Inf (a division by a zero rate, say) is a missing point,
			// not a load.
			if math.IsNaN(val) || math.IsInf(val, 0) {
				continue
			}
			sum[int64(math.Round(ts*1000))] += val
		}
	}
	out := make([]autoscaler.Sample, 0, len(sum))
	for ms, val := range sum {
		out = append(out, autoscaler.Sample{Time: time.UnixMilli(ms).UTC(), Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

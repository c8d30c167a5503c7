// Package loadsource provides the autoscaler's load sources: a scrape of the
// gateway's Prometheus /metrics (request rates per pool), a
// Prometheus-compatible query API, and Amazon CloudWatch GetMetricData.
// Every source reports failure as an error; none ever reports a failure as
// zero load, and a source with nothing to say yet returns no samples.
package loadsource

import (
	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

var (
	_ autoscaler.MetricSource = (*Gateway)(nil)
	_ autoscaler.MetricSource = (*Prometheus)(nil)
	_ autoscaler.MetricSource = (*CloudWatch)(nil)
)

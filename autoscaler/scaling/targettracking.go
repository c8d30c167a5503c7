package scaling

import (
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// TargetTracking keeps the metric per in-service instance near Target, the
// way an AWS target tracking policy does with its two CloudWatch alarms:
// a high alarm (ScaleOutDatapoints consecutive datapoints above target)
// scales out fast, a low alarm (ScaleInDatapoints consecutive datapoints
// below ScaleInRatio × target) scales in slowly.
type TargetTracking struct {
	Name   string
	Target float64 // metric per instance, e.g. requests/s per instance
	// DisableScaleIn makes the policy only ever scale out.
	DisableScaleIn bool
	// ScaleOutDatapoints (default 3) and ScaleInDatapoints (default 15)
	// are the alarms' consecutive datapoints.
	ScaleOutDatapoints int
	ScaleInDatapoints  int
	// ScaleInRatio (default 0.9) places the low alarm's threshold.
	ScaleInRatio float64
	// Tolerance (default 0.1) is the HPA-style band around the target: a
	// high alarm whose latest metric/target ratio is within 1+Tolerance
	// does not act.
	Tolerance float64
	// Lookahead, if positive, makes the high alarm judge and size by the
	// load projected this far ahead along its recent rise (the slope of
	// the last three datapoints, never a fall): instances launched now
	// serve only after the launch delay, so the load then is what they
	// must meet. Set it to about the launch delay plus one interval.
	Lookahead time.Duration
}

// project returns the load Lookahead ahead of the newest datapoint of
// vals, extrapolating a rise linearly (a fall is not extrapolated:
// scale-in stays the slow side's job). Only a rise over both of the last
// two intervals is extrapolated: a single jump (a burst switching on, an
// hourly count replayed per minute) is a step, and projecting it over
// the lookahead sized for several more: twice a 30-minute burst's load,
// held by the scale-in windows for much of the burst.
func (p *TargetTracking) project(vals []float64, interval time.Duration) float64 {
	last := vals[len(vals)-1]
	if p.Lookahead <= 0 || len(vals) < 3 {
		return last
	}
	n := len(vals)
	slope := (last - vals[n-3]) / 2
	if !(last > vals[n-2] && vals[n-2] > vals[n-3]) {
		return last
	}
	return last + slope*float64(p.Lookahead)/float64(interval)
}

// DefaultTargetTracking returns a target tracking policy at target with
// the AWS defaults.
func DefaultTargetTracking(target float64) TargetTracking {
	return TargetTracking{Name: "target_tracking", Target: target, ScaleOutDatapoints: 3, ScaleInDatapoints: 15, ScaleInRatio: 0.9, Tolerance: 0.1}
}

// tail returns the values of the last n datapoints of h, ending at now, or
// ok=false when any of them is missing (missing data never scales in and
// never completes an alarm).
func tail(h []autoscaler.Sample, now time.Time, interval time.Duration, n int, buf []float64) ([]float64, bool) {
	if n <= 0 || len(h) < n {
		return nil, false
	}
	last := h[len(h)-n:]
	// The newest must be recent (within one interval of now), and the n
	// samples must span exactly n-1 intervals (none missing); a small
	// slack absorbs jitter in scrape times.
	slack := interval / 2
	if now.Sub(last[n-1].Time) > interval+slack {
		return nil, false
	}
	if span := last[n-1].Time.Sub(last[0].Time); span > time.Duration(n-1)*interval+slack {
		return nil, false
	}
	buf = buf[:0]
	for _, s := range last {
		if math.IsNaN(s.Value) {
			return nil, false
		}
		buf = append(buf, s.Value)
	}
	return buf, true
}

// perInstance is the metric per in-service instance for a group load.
func perInstance(load float64, inService int) float64 {
	if inService <= 0 {
		if load > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return load / float64(inService)
}

func (p *TargetTracking) propose(now time.Time, in *Input, buf []float64) autoscaler.Proposal {
	g := in.Group
	cur := g.Desired
	hold := autoscaler.Proposal{Policy: p.Name, Capacity: cur, ScaleIn: !p.DisableScaleIn}
	if p.DisableScaleIn {
		hold.Abstain = true
	}
	n := p.ScaleOutDatapoints
	if p.Lookahead > 0 {
		n = max(n, 3)
	}
	if vals, ok := tail(in.History, now, in.Interval, n, buf); ok {
		load := p.project(vals, in.Interval)
		above := perInstance(load, g.InService) > p.Target
		for _, v := range vals[len(vals)-p.ScaleOutDatapoints:] {
			if perInstance(v, g.InService) <= p.Target && p.Lookahead <= 0 {
				above = false
				break
			}
		}
		if above {
			ratio := perInstance(load, g.InService) / p.Target
			want := int(math.Ceil(load / p.Target))
			if ratio <= 1+p.Tolerance || want <= cur {
				hold.Reason = reasonf(in, "high alarm: %.4g per instance vs target %.4g, within tolerance or already covered by %d (incl. %d warming)", perInstance(load, g.InService), p.Target, cur, g.Warming)
				return hold
			}
			return autoscaler.Proposal{Policy: p.Name, Capacity: want, ScaleIn: !p.DisableScaleIn,
				Reason: reasonf(in, "high alarm: %d datapoints above target %.4g; load %.4g needs %d", len(vals), p.Target, load, want)}
		}
	}
	if p.DisableScaleIn {
		hold.Reason = "no high alarm; scale-in disabled"
		return hold
	}
	vals, ok := tail(in.History, now, in.Interval, p.ScaleInDatapoints, buf)
	if !ok {
		hold.Reason = reasonf(in, "hold: fewer than %d complete datapoints (missing data never scales in)", p.ScaleInDatapoints)
		return hold
	}
	peak := 0.0
	for _, v := range vals {
		if perInstance(v, g.InService) >= p.ScaleInRatio*p.Target {
			hold.Reason = reasonf(in, "hold: metric within [%.4g, %.4g]", p.ScaleInRatio*p.Target, p.Target)
			return hold
		}
		peak = max(peak, v)
	}
	// Scale in to what the busiest datapoint of the window needs: the
	// gradual side of target tracking.
	want := max(int(math.Ceil(peak/p.Target)), 0)
	if want >= cur {
		hold.Reason = reasonf(in, "low alarm but load %.4g still needs %d", peak, cur)
		return hold
	}
	return autoscaler.Proposal{Policy: p.Name, Capacity: want, ScaleIn: true,
		Reason: reasonf(in, "low alarm: %d datapoints below %.4g per instance; peak load %.4g needs %d", len(vals), p.ScaleInRatio*p.Target, peak, want)}
}

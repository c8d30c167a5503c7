package scaling

import (
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Comparison is a step alarm's comparison with its threshold.
type Comparison string

const (
	Greater Comparison = "greater" // GreaterThanThreshold
	Less    Comparison = "less"    // LessThanThreshold
)

// AdjustmentType is how a step's adjustment applies, as in AWS.
type AdjustmentType string

const (
	ChangeInCapacity        AdjustmentType = "ChangeInCapacity"
	ExactCapacity           AdjustmentType = "ExactCapacity"
	PercentChangeInCapacity AdjustmentType = "PercentChangeInCapacity"
)

// Step is an AWS step scaling policy with its alarm: the alarm fires when
// DatapointsToAlarm of the last EvaluationPeriods datapoints breach the
// threshold (M of N; missing datapoints do not breach), and the step whose
// bounds contain metric − threshold gives the adjustment. The metric is
// the load per in-service instance.
type Step struct {
	Name              string
	Threshold         float64
	Comparison        Comparison
	DatapointsToAlarm int // M (default 1)
	EvaluationPeriods int // N (default 1)
	AdjustmentType    AdjustmentType
	Steps             []StepAdjustment
	// MinAdjustmentMagnitude applies to PercentChangeInCapacity: a change
	// smaller in magnitude is raised to it.
	MinAdjustmentMagnitude int
}

// StepAdjustment is one step. Bounds are relative to the threshold; the
// lower bound is inclusive, the upper exclusive, nil means unbounded
// (−∞ below, +∞ above), as AWS's MetricIntervalLower/UpperBound.
type StepAdjustment struct {
	Lower      *float64
	Upper      *float64
	Adjustment float64
}

// alarm reports whether M of the last N datapoints breach, and the latest
// datapoint's metric.
func (p *Step) alarm(now time.Time, in *Input) (bool, float64) {
	n := max(p.EvaluationPeriods, 1)
	m := max(p.DatapointsToAlarm, 1)
	h := in.History
	interval := in.Interval
	breaching, latest, found := 0, 0.0, false
	// Walk back over the last N periods ending at now; a period without a
	// datapoint is missing and does not breach.
	from := now.Add(-time.Duration(n)*interval - interval/2)
	for i := len(h) - 1; i >= 0 && !h[i].Time.Before(from); i-- {
		if h[i].Time.After(now) {
			continue
		}
		v := perInstance(h[i].Value, in.Group.InService)
		if !found {
			latest, found = v, true
		}
		if (p.Comparison == Less && v < p.Threshold) || (p.Comparison != Less && v > p.Threshold) {
			breaching++
		}
	}
	return found && breaching >= m, latest
}

// change returns the new capacity for an adjustment from current, with
// AWS rounding for percentages: a change between 0 and 1 in magnitude
// rounds away from zero to 1, larger ones round toward zero.
func (p *Step) change(current int, adj float64) int {
	switch p.AdjustmentType {
	case ExactCapacity:
		return int(math.Round(adj))
	case PercentChangeInCapacity:
		d := float64(current) * adj / 100
		var c int
		switch {
		case d > 0 && d < 1:
			c = 1
		case d < 0 && d > -1:
			c = -1
		default:
			c = int(d) // truncates toward zero
		}
		if mam := p.MinAdjustmentMagnitude; mam > 0 && c != 0 && abs(c) < mam {
			c = mam * sign(c)
		}
		return current + c
	default:
		return current + int(math.Round(adj))
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	if x < 0 {
		return -1
	}
	return 1
}

// StepFor returns the step containing the breach (metric − threshold).
func (p *Step) StepFor(breach float64) (StepAdjustment, bool) {
	for _, s := range p.Steps {
		if (s.Lower == nil || breach >= *s.Lower) && (s.Upper == nil || breach < *s.Upper) {
			return s, true
		}
	}
	return StepAdjustment{}, false
}

func (p *Step) propose(now time.Time, in *Input) autoscaler.Proposal {
	out := autoscaler.Proposal{Policy: p.Name, Abstain: true}
	fired, metric := p.alarm(now, in)
	if !fired {
		out.Reason = reasonf(in, "alarm OK (%d of %d datapoints needed)", max(p.DatapointsToAlarm, 1), max(p.EvaluationPeriods, 1))
		return out
	}
	s, ok := p.StepFor(metric - p.Threshold)
	if !ok {
		out.Reason = reasonf(in, "alarm at %.4g but no step covers breach %.4g", metric, metric-p.Threshold)
		return out
	}
	g := in.Group
	// Scale-out adds to in-service capacity, so that repeated alarms while
	// instances warm up add only the difference (AWS warm-up semantics);
	// scale-in removes from the desired capacity.
	base := g.Desired
	if s.Adjustment > 0 && p.AdjustmentType != ExactCapacity {
		base = g.InService
	}
	want := max(p.change(base, s.Adjustment), 0)
	return autoscaler.Proposal{Policy: p.Name, Capacity: want, ScaleIn: want < g.Desired,
		Reason: reasonf(in, "alarm: %.4g %s %.4g; step %s %+g from %d -> %d", metric, p.Comparison, p.Threshold, p.AdjustmentType, s.Adjustment, base, want)}
}

package scaling

import (
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Evaluate runs one decision round for one group at now. It updates st in
// place (stabilization window, refreshed forecasts) and is otherwise pure.
// Cost: a few microseconds per group, except in rounds where a predictive
// policy refits its forecast (every Refresh).
func (s *Set) Evaluate(now time.Time, in Input, st *State) Result {
	if in.Interval <= 0 {
		in.Interval = time.Minute
	}
	g := in.Group
	cur := g.Desired
	res := Result{Decision: autoscaler.Decision{Time: now, Group: g.Name, Current: cur}}

	// Bounds: configured, overridden by scheduled actions in firing order.
	lo, hi := g.Min, g.Max
	props := make([]autoscaler.Proposal, 0, len(s.TargetTracking)+len(s.Step)+len(s.Predictive)+len(s.Scheduled))
	for i := range s.Scheduled {
		var p autoscaler.Proposal
		lo, hi, p = s.Scheduled[i].apply(now, &in, lo, hi, in.Interval)
		props = append(props, p)
	}
	var buf [32]float64
	for i := range s.TargetTracking {
		props = append(props, s.TargetTracking[i].propose(now, &in, buf[:0]))
	}
	for i := range s.Step {
		props = append(props, s.Step[i].propose(now, &in))
	}
	effHi := hi
	for i := range s.Predictive {
		p, limit := s.Predictive[i].propose(now, &in, st, hi)
		effHi = max(effHi, limit)
		props = append(props, p)
	}
	if lo > effHi { // a scheduled min above max: max wins, as AWS refuses such a min
		lo = effHi
	}
	res.Proposals = props
	res.Min, res.Max = lo, effHi

	// Combine: the largest active proposal; scale-in only when some
	// scale-in-capable policy proposes (predictive alone never scales in).
	raw, active, canScaleIn := cur, false, false
	for _, p := range props {
		if p.Abstain {
			continue
		}
		if !active || p.Capacity > raw {
			raw = p.Capacity
		}
		active = true
		canScaleIn = canScaleIn || p.ScaleIn
	}
	why := "largest proposal"
	switch {
	case !active:
		raw, why = cur, "no active proposal: hold"
	case raw < cur && !canScaleIn:
		raw, why = cur, "no scale-in-capable policy proposes: hold"
	}
	raw = clamp(raw, lo, effHi)

	// Stabilize scale-in: the highest recommendation of the window wins.
	desired := raw
	if w := s.Behavior.ScaleInStabilization; w > 0 {
		st.Recommendations = pruneBefore(st.Recommendations, now.Add(-w))
		st.Recommendations = append(st.Recommendations, Recommendation{Time: now, Capacity: raw})
		if raw < cur {
			high := raw
			for _, r := range st.Recommendations {
				high = max(high, r.Capacity)
			}
			if high > raw {
				desired = min(high, cur)
				why += "; scale-in stabilized over " + w.String()
			}
		}
	} else {
		st.Recommendations = st.Recommendations[:0]
	}

	// Rate-limit steps; the bounds win over the limits.
	if m := s.Behavior.MaxScaleOutStep; m > 0 && desired > cur+m {
		desired, why = cur+m, why+"; scale-out step limited"
	}
	if m := s.Behavior.MaxScaleInStep; m > 0 && desired < cur-m {
		desired, why = cur-m, why+"; scale-in step limited"
	}
	desired = clamp(desired, lo, effHi)
	res.Desired = desired
	if !in.Terse {
		res.Reason = explain(why, cur, raw, desired, lo, effHi)
	}
	return res
}

func clamp(x, lo, hi int) int { return max(lo, min(x, hi)) }

// pruneBefore drops recommendations older than t, reusing the slice.
func pruneBefore(rs []Recommendation, t time.Time) []Recommendation {
	i := 0
	for i < len(rs) && rs[i].Time.Before(t) {
		i++
	}
	if i == 0 {
		return rs
	}
	n := copy(rs, rs[i:])
	return rs[:n]
}

func explain(why string, cur, raw, desired, lo, hi int) string {
	var b strings.Builder
	b.WriteString(why)
	b.WriteString(": ")
	b.WriteString(itoa(cur))
	b.WriteString(" -> ")
	b.WriteString(itoa(desired))
	if raw != desired {
		b.WriteString(" (recommended " + itoa(raw) + ")")
	}
	b.WriteString(" within [" + itoa(lo) + ", " + itoa(hi) + "]")
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

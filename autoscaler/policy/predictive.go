package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/forecast"
)

// PredictiveMode is AWS's predictive scaling mode.
type PredictiveMode string

const (
	ForecastAndScale PredictiveMode = "forecast_and_scale"
	ForecastOnly     PredictiveMode = "forecast_only" // forecasts, never proposes
)

// BreachBehavior is AWS's MaxCapacityBreachBehavior.
type BreachBehavior string

const (
	HonorMaxCapacity    BreachBehavior = "honor"
	IncreaseMaxCapacity BreachBehavior = "increase"
)

// Predictive scales ahead of forecast load, like AWS predictive scaling:
// it needs at least MinHistory (24 h) of history and uses up to
// MaxHistory (14 days), forecasts 48 h at Resolution, refits every Refresh
// (and when State.InvalidateForecasts is called), and proposes, SchedulingBuffer
// ahead, the capacity that keeps the forecast load per instance at Target.
// It never scales in by itself: its proposal is a floor under the others.
type Predictive struct {
	Name             string
	Target           float64 // load per instance
	Mode             PredictiveMode
	SchedulingBuffer time.Duration // default 5 min
	// MaxCapacityBreach "increase" lets the forecast raise the effective
	// max to the forecast capacity plus MaxCapacityBuffer percent.
	MaxCapacityBreach BreachBehavior
	MaxCapacityBuffer float64
	// Forecaster is forecast.NameAuto (default) or one model's name.
	Forecaster string
	Refresh    time.Duration // default 1 h
	// Resolution is the forecast step (default 1 h); the history is
	// aggregated to it by Aggregation.
	Resolution time.Duration
	// Aggregation of the history's datapoints into one forecast step:
	// "mean" (default) or "max" (capacity for the peak of each step).
	Aggregation string
	// MaxForecastError, if positive, makes the policy abstain while the
	// chosen model's backtested MAPE on recent history (a fraction) is
	// above it: an unreliable forecast (event-driven traffic) would only
	// buy idle capacity, and the reactive policies cover such load.
	MaxForecastError float64
	// BufferQuantile, if positive, sizes a buffer from the policy's own
	// recent errors: the forecast is raised by the BufferQuantile-th
	// quantile (0..1) of actual/predicted over the backtest, so that a
	// noisy forecast buys headroom and an exact one none.
	BufferQuantile float64
	// RequireSkill makes the policy abstain while its chosen model's
	// backtested error is not below persistence's (the last value
	// repeated): without skill it would only add capacity the reactive
	// policies already add, later and for less.
	RequireSkill bool
}

// Horizon and history limits, as AWS's.
const (
	MinHistory = 24 * time.Hour
	MaxHistory = 14 * 24 * time.Hour
	Horizon    = 48 * time.Hour
)

// DefaultPredictive returns a forecast-and-scale predictive policy at
// target with the AWS defaults.
func DefaultPredictive(target float64) Predictive {
	return Predictive{Name: "predictive", Target: target, Mode: ForecastAndScale, SchedulingBuffer: 5 * time.Minute,
		MaxCapacityBreach: HonorMaxCapacity, Forecaster: forecast.NameAuto, Refresh: time.Hour, Resolution: time.Hour, Aggregation: "mean"}
}

// Refit fits the forecast of the policy on history as of now. It is what
// Evaluate calls when the cached forecast is stale; callers may call it
// directly (the daemon's on-demand refresh, the backtester's charts). It
// returns nil when history is shorter than MinHistory.
func (p *Predictive) Refit(now time.Time, history []autoscaler.Sample) *Forecast {
	res := p.Resolution
	if res <= 0 {
		res = time.Hour
	}
	end := now.Truncate(res) // buckets wholly before end are complete
	start := end.Add(-MaxHistory)
	// Find the first sample at or after start (history is sorted).
	lo, hi := 0, len(history)
	for lo < hi {
		mid := (lo + hi) / 2
		if history[mid].Time.Before(start) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h := history[lo:]
	if len(h) == 0 || end.Sub(h[0].Time.Truncate(res)) < MinHistory {
		return nil
	}
	first := h[0].Time.Truncate(res)
	n := int(end.Sub(first) / res)
	sums := make([]float64, n)
	counts := make([]int, n)
	useMax := p.Aggregation == "max"
	// Samples are sorted: walk the bucket boundaries along with them
	// (one comparison per sample; this loop dominates refits).
	i, next := 0, first.Add(res)
	for _, s := range h {
		for i < n && !s.Time.Before(next) {
			i, next = i+1, next.Add(res)
		}
		if i >= n {
			break
		}
		if math.IsNaN(s.Value) {
			continue
		}
		if useMax {
			sums[i] = max(sums[i], s.Value)
		} else {
			sums[i] += s.Value
		}
		counts[i]++
	}
	// A step without data repeats the previous step's value (the first
	// ones take the first known), so a scrape outage does not read as a
	// collapse in load.
	series := sums
	last, known := 0.0, false
	for i := range series {
		if counts[i] == 0 {
			if known {
				series[i] = last
			}
			continue
		}
		if !useMax {
			series[i] /= float64(counts[i])
		}
		if !known {
			for j := range i {
				series[j] = series[i]
			}
		}
		last, known = series[i], true
	}
	perDay := int(24 * time.Hour / res)
	horizon := int(Horizon / res)
	cands := forecast.Candidates(p.Forecaster, perDay, n)
	if p.Forecaster == forecast.NameAuto || p.Forecaster == "" {
		// Learn the periods actually in the data, up to a week.
		for _, lag := range forecast.Periods(series, 2, 7*perDay, 3) {
			cands = append(cands, forecast.SeasonalNaive{Label: "seasonal_naive_" + (time.Duration(lag) * res).String(), Season: lag})
		}
	}
	holdout := min(perDay, n/2)
	sel, ok := forecast.Select(series, cands, holdout, horizon)
	if !ok {
		return nil
	}
	fc := &Forecast{FittedAt: now, Model: sel.Model.Name(), Start: end, Step: res, Values: sel.Forecast, Errors: sel.Errors, Buffer: 1}
	if p.BufferQuantile > 0 && len(sel.OneStep) > 0 {
		actual := series[n-len(sel.OneStep):]
		ratios := make([]float64, 0, len(actual))
		for i, a := range actual {
			if pr := sel.OneStep[i]; pr > 0 && !math.IsNaN(pr) {
				ratios = append(ratios, a/pr)
			}
		}
		if len(ratios) > 0 {
			fc.Buffer = max(1, forecast.Percentile(ratios, 100*p.BufferQuantile))
		}
	}
	return fc
}

// forecastFor returns the policy's current forecast, refitting it if it
// is missing, stale or does not reach far enough.
func (p *Predictive) forecastFor(now time.Time, in *Input, st *State) *Forecast {
	f := st.Forecasts[p.Name]
	refresh := p.Refresh
	if refresh <= 0 {
		refresh = time.Hour
	}
	if f == nil || f.FittedAt.IsZero() || now.Sub(f.FittedAt) >= refresh || now.Before(f.FittedAt) {
		if nf := p.Refit(now, in.History); nf != nil || f == nil || now.Sub(f.FittedAt) >= Horizon {
			f = nf
			if st.Forecasts == nil {
				st.Forecasts = make(map[string]*Forecast)
			}
			if f == nil {
				delete(st.Forecasts, p.Name)
			} else {
				st.Forecasts[p.Name] = f
			}
		}
	}
	return f
}

// capacityLimit returns the effective max under max-capacity breach.
func (p *Predictive) capacityLimit(max0 int, fcCap int) int {
	if p.MaxCapacityBreach != IncreaseMaxCapacity || fcCap <= max0 {
		return max0
	}
	return max(max0, int(math.Ceil(float64(fcCap)*(1+p.MaxCapacityBuffer/100))))
}

// propose returns the proposal and the effective max it allows.
func (p *Predictive) propose(now time.Time, in *Input, st *State, maxCap int) (autoscaler.Proposal, int) {
	out := autoscaler.Proposal{Policy: p.Name, Abstain: true}
	f := p.forecastFor(now, in, st)
	if f == nil {
		out.Reason = reasonf(in, "no forecast: needs %s of history", MinHistory)
		return out, maxCap
	}
	if p.MaxForecastError > 0 {
		if e := f.Errors[f.Model]; !(e <= p.MaxForecastError) {
			out.Reason = reasonf(in, "forecast unreliable: %s backtested MAPE %.1f%% > %.1f%%", f.Model, 100*e, 100*p.MaxForecastError)
			return out, maxCap
		}
	}
	if p.RequireSkill {
		if e, pe := f.Errors[f.Model], f.Errors[forecast.NamePersistence]; !(e < pe) {
			out.Reason = reasonf(in, "forecast has no skill: %s backtested MAPE %.1f%% >= persistence's %.1f%%", f.Model, 100*e, 100*pe)
			return out, maxCap
		}
	}
	load, ok := f.At(now)
	ahead, ok2 := f.At(now.Add(p.SchedulingBuffer))
	if !ok && !ok2 {
		out.Reason = reasonf(in, "forecast (%s, %s) does not cover now", f.Model, f.FittedAt.Format(time.RFC3339))
		return out, maxCap
	}
	// Hold the current step's capacity until it ends, and reach the next
	// step's SchedulingBuffer before it starts.
	load = max(load, ahead) * max(f.Buffer, 1)
	fcCap := int(math.Ceil(load / p.Target))
	limit := p.capacityLimit(maxCap, fcCap)
	if p.Mode == ForecastOnly {
		out.Reason = reasonf(in, "forecast only: %s forecasts %.4g -> %d", f.Model, load, fcCap)
		return out, maxCap
	}
	return autoscaler.Proposal{Policy: p.Name, Capacity: min(fcCap, limit),
		Reason: reasonf(in, "%s forecasts %.4g within %s -> %d", f.Model, load, p.SchedulingBuffer, fcCap)}, limit
}

// reasonf formats an explanation unless the caller asked for none.
func reasonf(in *Input, format string, args ...any) string {
	if in.Terse {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

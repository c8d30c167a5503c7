package scaling

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
	// BufferMissCost, if positive (with BufferQuantile), prices the
	// buffer instead of fixing its coverage: at each refit the buffer is
	// the quantile of the backtest's actual/predicted ratios (80% to
	// 98%) that minimises the floor's cost plus BufferMissCost times the
	// share of the backtest it leaves uncovered, both in shares of the
	// load, counting the floor in whole instances of Target
	// (forecast.PricedBuffer). BufferQuantile still ranks the models
	// and judges skill. A fixed coverage overpays on noisy, low-volume
	// load, whose tail is dear, and underpays where the tail is cheap.
	BufferMissCost float64
	// RequireSkill makes the policy abstain while its forecast has no
	// skill (Forecast.Skill not positive): no better than persistence,
	// the last step's load repeated, which is what the reactive policies
	// already act on; without skill the floor would only add capacity
	// they add anyway, later and for less.
	RequireSkill bool
	// ColdStartTarget, if positive, is the load per instance the policy
	// holds while it has no forecast at all (the first day or two of
	// history, before any forecaster can be backtested): it proposes the
	// capacity that keeps the latest datapoint's load at ColdStartTarget
	// per instance. Without a forecast there is no evidence for packing
	// tighter than the reactive baseline, so the set holds the baseline's
	// headroom until the forecast has been judged; then the forecast
	// (where it has skill) and the reactive policies take over. It does
	// not apply while a forecast exists but lacks skill: that is a
	// judgement on evidence, and the reactive policies cover it.
	ColdStartTarget float64
	// NoSkillTarget, if positive, is the load per instance the policy
	// holds (on the latest datapoint, as ColdStartTarget) while its
	// forecast has no skill under RequireSkill, instead of abstaining: a
	// set whose reactive side packs tighter than the baseline relies on
	// the forecast for headroom where load rises, and where the forecast
	// is no better than persistence it has no such evidence.
	NoSkillTarget float64
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
	h := since(history, end.Add(-MaxHistory))
	if len(h) == 0 || end.Sub(h[0].Time.Truncate(res)) < MinHistory {
		return nil
	}
	if (p.Forecaster == forecast.NameAuto || p.Forecaster == "") && res > SubPeriodStep {
		// Periods shorter than a step (bursts every 30 minutes under an
		// hourly forecast) vanish in the step's mean: look for them in
		// the last SubPeriodWindow at SubPeriodStep, and if the load has
		// one, forecast at that resolution instead.
		fEnd := now.Truncate(SubPeriodStep)
		fine := p.aggregate(since(h, fEnd.Add(-SubPeriodWindow)), fEnd, SubPeriodStep)
		if lag, ok := forecast.SubPeriod(fine, int(res/SubPeriodStep)-1); ok {
			q := *p
			q.Resolution = SubPeriodStep
			if f := q.fit(now, p.aggregate(h, fEnd, SubPeriodStep), fEnd, SubPeriodStep, []int{lag}); f != nil {
				return f
			}
		}
	}
	return p.fit(now, p.aggregate(h, end, res), end, res, nil)
}

// Sub-resolution period search: the step of the series searched and how
// much recent history it covers (4 days at 5 minutes: 1,152 values and
// lags below one forecast step, a few hundred thousand operations a
// refit).
const (
	SubPeriodStep   = 5 * time.Minute
	SubPeriodWindow = 4 * 24 * time.Hour
)

// since returns the samples of h at or after start (h is sorted).
func since(h []autoscaler.Sample, start time.Time) []autoscaler.Sample {
	lo, hi := 0, len(h)
	for lo < hi {
		mid := (lo + hi) / 2
		if h[mid].Time.Before(start) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return h[lo:]
}

// aggregate returns the series of h in steps of res from h's first
// step up to end (exclusive), by the policy's Aggregation; a step
// without data repeats the previous step's value (the first ones take
// the first known), so a scrape outage does not read as a collapse.
func (p *Predictive) aggregate(h []autoscaler.Sample, end time.Time, res time.Duration) []float64 {
	if len(h) == 0 {
		return nil
	}
	first := h[0].Time.Truncate(res)
	n := max(int(end.Sub(first)/res), 0)
	sums := make([]float64, n)
	counts := make([]int, n)
	useMax := p.Aggregation == "max"
	// Samples are sorted: walk the bucket boundaries along with them, on
	// Unix nanoseconds (time.Time comparisons dominated refits).
	i, next, step := 0, first.Add(res).UnixNano(), int64(res)
	for _, s := range h {
		t := s.Time.UnixNano()
		for i < n && t >= next {
			i, next = i+1, next+step
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
	return series
}

// fit selects and runs the forecaster on series (steps of res ending at
// end), with extra seasonal naive candidates at the lags given.
func (p *Predictive) fit(now time.Time, series []float64, end time.Time, res time.Duration, extra []int) *Forecast {
	n := len(series)
	perDay := int(24 * time.Hour / res)
	horizon := int(Horizon / res)
	cands := forecast.Candidates(p.Forecaster, perDay, n)
	if p.Forecaster == forecast.NameAuto || p.Forecaster == "" {
		// Learn the periods actually in the data, up to a week.
		for _, lag := range append(extra, forecast.Periods(series, 2, 7*perDay, 3)...) {
			cands = append(cands, forecast.SeasonalNaive{Label: "seasonal_naive_" + (time.Duration(lag) * res).String(), Season: lag})
		}
	}
	holdout := backtestSteps(n, perDay)
	sel, ok := forecast.Select(series, cands, holdout, horizon)
	if !ok {
		return nil
	}
	fc := &Forecast{FittedAt: now, Model: sel.Model.Name(), Start: end, Step: res, Values: sel.Forecast, Errors: sel.Errors, Buffer: 1}
	if p.BufferQuantile > 0 {
		// Rank by what the floor costs at the coverage asked for, not by
		// MAPE (see forecast.CoverCost), and judge skill the same way
		// against persistence (see Forecast.Skill).
		actual := series[n-holdout:]
		best, bestCost, anchored := "", math.Inf(1), false
		var bestOne []float64
		for name, one := range sel.OneSteps {
			if name == forecast.NamePersistence {
				continue
			}
			for _, anc := range []bool{false, true} {
				pred := one
				if anc {
					pred = anchor(actual, one)
				}
				if _, c := forecast.CoverCost(actual, pred, p.BufferQuantile); c < bestCost || (c == bestCost && (name < best || !anc && anchored)) {
					best, bestCost, anchored, bestOne = name, c, anc, pred
				}
			}
		}
		if best != "" {
			fc.Model, fc.Values, fc.Anchored = sel.Models[best].Name(), sel.Forecasts[best], anchored
			if one := sel.OneSteps[best]; len(one) > 0 {
				fc.LastFit = one[len(one)-1]
			}
			fc.Buffer, _ = forecast.CoverCost(actual, bestOne, p.BufferQuantile)
			if p.BufferMissCost > 0 {
				// Price the buffer on as much of the last week as the
				// model can be backtested on: the selection's backtest is
				// kept short early on (see backtestSteps), and a tail
				// quantile from a day's 24 errors is a guess.
				bufA, bufP := actual, bestOne
				if long := forecast.OneStepBacktest(sel.Models[best], series, min(7*perDay, n-1)); len(long) > len(actual) {
					bufA, bufP = series[n-len(long):], long
					if anchored {
						bufP = anchor(bufA, long)
					}
				}
				if b, ok := forecast.PricedBuffer(bufA, bufP, p.BufferMissCost, p.Target); ok {
					fc.Buffer = b
				}
			}
			fc.Buffer = max(fc.Buffer, 1)
			_, pc := forecast.CoverCost(actual, sel.OneSteps[forecast.NamePersistence], p.BufferQuantile)
			fc.Skill = 1 - bestCost/pc
		}
	} else if pe := sel.Errors[forecast.NamePersistence]; pe > 0 {
		fc.Skill = 1 - sel.Errors[fc.Model]/pe
	}
	if math.IsNaN(fc.Skill) {
		fc.Skill = math.Inf(-1)
	}
	return fc
}

// anchor returns one-step predictions corrected by the previous step's
// error (pred[i] + actual[i-1] − pred[i-1]): the forecast's shape from
// its season, its level from the latest load. The first is NaN.
func anchor(actual, pred []float64) []float64 {
	out := make([]float64, len(pred))
	out[0] = math.NaN()
	for i := 1; i < len(pred); i++ {
		out[i] = pred[i] + actual[i-1] - pred[i-1]
	}
	return out
}

// anchorOffset is the error of the forecast on the latest step with
// data (the current one, partial, or the last complete one): the mean
// of the history's samples in it minus the forecast for it.
func anchorOffset(f *Forecast, h []autoscaler.Sample) (float64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	step := h[len(h)-1].Time.Truncate(f.Step)
	var pred float64
	switch {
	case step.Equal(f.Start.Add(-f.Step)):
		pred = f.LastFit
	default:
		v, ok := f.At(step)
		if !ok {
			return 0, false
		}
		pred = v
	}
	sum, k := 0.0, 0
	for i := len(h) - 1; i >= 0 && !h[i].Time.Before(step); i-- {
		if !math.IsNaN(h[i].Value) {
			sum += h[i].Value
			k++
		}
	}
	if k == 0 || math.IsNaN(pred) {
		return 0, false
	}
	return sum/float64(k) - pred, true
}

// backtestSteps is how many of the latest n steps (perDay a day) the
// forecasters are backtested on: a week when there is history for it
// (a 90th-percentile buffer from one day's 24 hourly errors rests on
// its 3 worst), never less than a day, never more than half the history,
// and short enough early on that a weekly model (8 days of need) is
// backtested as soon as it could be.
func backtestSteps(n, perDay int) int {
	return max(min(max(perDay, n-8*perDay), 7*perDay, n/2), 1)
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
		if prop, ok := p.holdLatest(in, p.ColdStartTarget, maxCap, "no forecast yet"); ok {
			return prop, maxCap
		}
		out.Reason = reasonf(in, "no forecast: needs %s of history", MinHistory)
		return out, maxCap
	}
	if p.MaxForecastError > 0 {
		if e := f.Errors[f.Model]; !(e <= p.MaxForecastError) {
			out.Reason = reasonf(in, "forecast unreliable: %s backtested MAPE %.1f%% > %.1f%%", f.Model, 100*e, 100*p.MaxForecastError)
			return out, maxCap
		}
	}
	if p.RequireSkill && !(f.Skill > 0) {
		if prop, ok := p.holdLatest(in, p.NoSkillTarget, maxCap, "forecast has no skill"); ok {
			return prop, maxCap
		}
		out.Reason = reasonf(in, "forecast has no skill: %s does no better than persistence on recent history (skill %.3g)", f.Model, f.Skill)
		return out, maxCap
	}
	load, ok := f.At(now)
	ahead, ok2 := f.At(now.Add(p.SchedulingBuffer))
	if !ok && !ok2 {
		out.Reason = reasonf(in, "forecast (%s, %s) does not cover now", f.Model, f.FittedAt.Format(time.RFC3339))
		return out, maxCap
	}
	// Hold the current step's capacity until it ends, and reach the next
	// step's SchedulingBuffer before it starts.
	cur := load
	next := ok2 && (!ok || now.Add(p.SchedulingBuffer).Truncate(f.Step) != now.Truncate(f.Step))
	load = max(load, ahead)
	if f.Anchored {
		// The forecast's level follows the latest load (see anchor):
		// the step in progress has been seen in part, the one ahead
		// not at all. So the anchor may lower the current step's floor,
		// but the next step's only down to its raw forecast: a step that
		// fell short of its forecast says little about the next one
		// (Wikipedia's missed hour starts were steps that rose back to
		// their forecast after one well below it).
		off, okOff := anchorOffset(f, in.History)
		if !okOff {
			out.Reason = reasonf(in, "anchored forecast (%s) has no recent load to anchor on", f.Model)
			return out, maxCap
		}
		load = math.Inf(-1)
		if ok {
			load = cur + off
		}
		switch {
		case next:
			load = max(load, ahead+off, ahead)
		case ok2:
			load = max(load, ahead+off)
		}
	}
	load = max(load, 0) * max(f.Buffer, 1)
	fcCap := int(math.Ceil(load / p.Target))
	limit := p.capacityLimit(maxCap, fcCap)
	if p.Mode == ForecastOnly {
		out.Reason = reasonf(in, "forecast only: %s forecasts %.4g -> %d", f.Model, load, fcCap)
		return out, maxCap
	}
	return autoscaler.Proposal{Policy: p.Name, Capacity: min(fcCap, limit),
		Reason: reasonf(in, "%s forecasts %.4g within %s -> %d", f.Model, load, p.SchedulingBuffer, fcCap)}, limit
}

// holdLatest proposes the capacity that keeps the latest datapoint's
// load at target per instance (ok false when target is not positive,
// the policy only forecasts, or the latest datapoint is missing).
func (p *Predictive) holdLatest(in *Input, target float64, maxCap int, why string) (autoscaler.Proposal, bool) {
	if !(target > 0) || p.Mode == ForecastOnly || len(in.History) == 0 {
		return autoscaler.Proposal{}, false
	}
	v := in.History[len(in.History)-1].Value
	if math.IsNaN(v) {
		return autoscaler.Proposal{}, false
	}
	c := int(math.Ceil(max(v, 0) / target))
	return autoscaler.Proposal{Policy: p.Name, Capacity: min(c, maxCap),
		Reason: reasonf(in, "%s: load %.4g at %.4g per instance -> %d", why, v, target, c)}, true
}

// reasonf formats an explanation unless the caller asked for none.
func reasonf(in *Input, format string, args ...any) string {
	if in.Terse {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

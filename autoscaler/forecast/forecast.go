// Package forecast predicts a load series from its history: seasonal
// naive (same time yesterday, same time last week) and additive
// Holt-Winters with smoothing parameters fitted on the history, and picks
// among them by backtested error on recent history. Series are regular:
// one value per step, oldest first, no gaps (callers fill them).
package forecast

import (
	"math"
	"sort"
)

// Model forecasts the next horizon values of a series from its history.
type Model interface {
	Name() string
	// Forecast returns horizon values following history. It needs at
	// least MinHistory values.
	Forecast(history []float64, horizon int) []float64
	MinHistory() int
}

// Names of the forecasters, as configured.
const (
	NameSeasonalNaiveDay  = "seasonal_naive_day"
	NameSeasonalNaiveWeek = "seasonal_naive_week"
	NameHoltWinters       = "holt_winters"
	NameAuto              = "auto"
)

// SeasonalNaive forecasts each value as the value one season earlier.
type SeasonalNaive struct {
	Label  string
	Season int // in steps
}

func (m SeasonalNaive) Name() string    { return m.Label }
func (m SeasonalNaive) MinHistory() int { return m.Season }

func (m SeasonalNaive) Forecast(h []float64, horizon int) []float64 {
	out := make([]float64, horizon)
	n := len(h)
	for i := range out {
		// Value i lies at index n+i; one season back is n+i-Season, which
		// for long horizons falls in the forecast itself.
		j := n + i - m.Season
		for j >= n {
			j -= m.Season
		}
		if j >= 0 {
			out[i] = h[j]
		}
	}
	return out
}

// MAPE is the mean absolute percentage error of predicted against actual,
// as a fraction, over the points where actual is not zero.
func MAPE(actual, predicted []float64) float64 {
	sum, n := 0.0, 0
	for i := range min(len(actual), len(predicted)) {
		if actual[i] == 0 || math.IsNaN(actual[i]) {
			continue
		}
		sum += math.Abs(actual[i]-predicted[i]) / math.Abs(actual[i])
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Candidates returns the models of the named forecaster for a series of
// the given steps per day: one model, or for "auto" every model whose
// history need is met by n values. Unknown names yield nil.
func Candidates(name string, stepsPerDay, n int) []Model {
	day := SeasonalNaive{NameSeasonalNaiveDay, stepsPerDay}
	week := SeasonalNaive{NameSeasonalNaiveWeek, 7 * stepsPerDay}
	switch name {
	case NameSeasonalNaiveDay:
		return []Model{day}
	case NameSeasonalNaiveWeek:
		return []Model{week}
	case NameHoltWinters:
		return []Model{HoltWinters{Season: stepsPerDay}}
	case NameAuto, "":
		// A weekly Holt-Winters needs two weeks to initialise, all of the
		// 14 days predictive policies use: it would never be backtested.
		ms := []Model{day, HoltWinters{Season: stepsPerDay}}
		if n >= 8*stepsPerDay {
			ms = append(ms, week)
		}
		return ms
	}
	return nil
}

// Selection is the outcome of Select.
type Selection struct {
	Model    Model
	Forecast []float64
	// Errors is each candidate's one-step-ahead MAPE over the last holdout
	// values of the history, and under NamePersistence the MAPE of
	// repeating the previous value (the no-skill reference).
	Errors map[string]float64
	// OneStep is the chosen model's one-step-ahead predictions of the
	// last holdout values, for sizing buffers from its own errors.
	OneStep []float64
	// OneSteps holds every backtested candidate's one-step predictions
	// of the last holdout values, and under NamePersistence the previous
	// values, for callers that rank candidates by another loss.
	OneSteps map[string][]float64
	// Forecasts holds every backtested candidate's forecast.
	Forecasts map[string][]float64
	// Models holds every backtested candidate (Holt-Winters with its
	// fitted parameters).
	Models map[string]Model
}

// NamePersistence names the no-skill reference in Selection.Errors:
// the next value is the last one.
const NamePersistence = "persistence"

// Select backtests each candidate on the last holdout values of history
// (one step ahead, refitting nothing: Holt-Winters keeps the parameters it
// fitted on the whole history, naive models are exact) and forecasts
// horizon values with the one of lowest MAPE. Candidates that need more
// history than there is are skipped; ok is false if none remains.
func Select(history []float64, candidates []Model, holdout, horizon int) (Selection, bool) {
	sel := Selection{Errors: make(map[string]float64, len(candidates)), OneSteps: make(map[string][]float64, len(candidates)+1),
		Forecasts: make(map[string][]float64, len(candidates)), Models: make(map[string]Model, len(candidates))}
	best := math.Inf(1)
	for _, m := range candidates {
		if len(history) < m.MinHistory()+holdout || len(history) < m.MinHistory()+1 {
			continue
		}
		var fc, one []float64
		var e float64
		switch mm := m.(type) {
		case HoltWinters:
			fit := mm.Fit(history)
			one = fit.OneStep[len(history)-holdout:]
			e = MAPE(history[len(history)-holdout:], one)
			fc = fit.Forecast(horizon)
			m = fit.Model
		default:
			one = oneStep(m, history, holdout)
			e = MAPE(history[len(history)-holdout:], one)
			fc = m.Forecast(history, horizon)
		}
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		sel.Errors[m.Name()] = e
		sel.OneSteps[m.Name()], sel.Forecasts[m.Name()], sel.Models[m.Name()] = one, fc, m
		if e < best || sel.Model == nil {
			best, sel.Model, sel.Forecast, sel.OneStep = e, m, fc, one
		}
	}
	if n := len(history); n > holdout && holdout > 0 {
		sel.Errors[NamePersistence] = MAPE(history[n-holdout:], history[n-holdout-1:n-1])
		sel.OneSteps[NamePersistence] = history[n-holdout-1 : n-1]
	}
	for _, fc := range sel.Forecasts {
		for i, v := range fc {
			fc[i] = max(v, 0)
		}
	}
	return sel, sel.Model != nil
}

// oneStep backtests a naive model one step ahead on the last holdout
// values and returns its predictions.
func oneStep(m Model, h []float64, holdout int) []float64 {
	n := len(h)
	pred := make([]float64, holdout)
	if sn, ok := m.(SeasonalNaive); ok && sn.Season > 0 && n-holdout >= sn.Season {
		// One season back lies in the history: no forecast per step
		// (refits backtest thousands of steps at 5 minutes).
		copy(pred, h[n-holdout-sn.Season:n-sn.Season])
		return pred
	}
	for i := range pred {
		pred[i] = m.Forecast(h[:n-holdout+i], 1)[0]
	}
	return pred
}

// Periods returns up to k seasonal periods of xs, in steps, between
// minLag and maxLag: the lags where the autocorrelation of xs is a local
// maximum above 0.3, strongest first. Traffic has daily and weekly
// cycles, and some has shorter ones (bursts every 30 minutes, say):
// learning them from the data beats assuming day and week.
func Periods(xs []float64, minLag, maxLag, k int) []int {
	n := len(xs)
	maxLag = min(maxLag, n/2)
	if minLag < 2 || maxLag <= minLag {
		return nil
	}
	acf := autocorr(xs, minLag-1, maxLag+1)
	if acf == nil {
		return nil
	}
	var peaks []int
	for lag := minLag; lag <= maxLag; lag++ {
		if acf[lag] > 0.3 && acf[lag] >= acf[lag-1] && acf[lag] >= acf[lag+1] {
			peaks = append(peaks, lag)
		}
	}
	sort.SliceStable(peaks, func(i, j int) bool { return acf[peaks[i]] > acf[peaks[j]] })
	return peaks[:min(k, len(peaks))]
}

// CoverCost scores predictions as a capacity floor: the floor is pred
// raised by buffer, the q-quantile (0..1) of actual/pred (at least 1),
// so that it covers a share q of the actual values; cost is the floor's
// total divided by the actuals' total (1 for a perfect forecast, more
// the noisier the predictions). Two predictors compared by cost at the
// same q hold the same coverage, so the cheaper one has more skill where
// it matters to capacity: unlike MAPE, the quiet hours, whose relative
// errors are large but cost no instances, weigh by their load.
// Predictions that are NaN or not positive leave their value uncovered
// by the floor (they count in neither total).
func CoverCost(actual, pred []float64, q float64) (buffer, cost float64) {
	ratios := make([]float64, 0, len(actual))
	for i, a := range actual[:min(len(actual), len(pred))] {
		if p := pred[i]; p > 0 && !math.IsNaN(a) {
			ratios = append(ratios, a/p)
		}
	}
	if len(ratios) == 0 {
		return math.NaN(), math.Inf(1)
	}
	buffer = max(1, Percentile(ratios, 100*q))
	sumF, sumA := 0.0, 0.0
	for i, a := range actual[:min(len(actual), len(pred))] {
		if p := pred[i]; p > 0 && !math.IsNaN(a) {
			sumF += buffer * p
			sumA += a
		}
	}
	if !(sumA > 0) {
		return buffer, math.Inf(1)
	}
	return buffer, sumF / sumA
}

// SubPeriod returns the strongest period of xs with a lag from 2 to
// maxLag, if it has one that stands out: an autocorrelation peak above
// 0.5 that rises at least 0.2 above the lowest autocorrelation at a
// shorter lag. Load that is merely smooth (or held in steps, like an
// hourly trace replayed per minute) has an autocorrelation that falls
// with the lag and no such peak; bursts every 30 minutes have one at 30.
func SubPeriod(xs []float64, maxLag int) (int, bool) {
	n := len(xs)
	maxLag = min(maxLag, n/3)
	if maxLag < 2 {
		return 0, false
	}
	acf := autocorr(xs, 1, maxLag+1)
	if acf == nil {
		return 0, false
	}
	best, bestV, low := 0, 0.0, acf[1]
	for lag := 2; lag <= maxLag; lag++ {
		low = min(low, acf[lag-1])
		if v := acf[lag]; v > 0.5 && v-low >= 0.2 && v >= acf[lag-1] && v >= acf[lag+1] && v > bestV {
			best, bestV = lag, v
		}
	}
	return best, best > 0
}

// autocorr returns the autocorrelation of xs at lags minLag..maxLag,
// indexed by lag (lags below minLag are left 0: each lag costs a pass over
// xs); nil for a constant series.
func autocorr(xs []float64, minLag, maxLag int) []float64 {
	n := len(xs)
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	if !(v > 0) {
		return nil
	}
	acf := make([]float64, maxLag+1)
	for lag := minLag; lag <= maxLag && lag < n; lag++ {
		s := 0.0
		for i := lag; i < n; i++ {
			s += (xs[i] - mean) * (xs[i-lag] - mean)
		}
		acf[lag] = s / v
	}
	return acf
}

// Percentile returns the p-th percentile (0..100) of xs.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// BufferQuantiles are the coverages PricedBuffer chooses among.
var BufferQuantiles = []float64{0.8, 0.85, 0.9, 0.95, 0.98}

// PricedBuffer sizes a floor's buffer by price rather than by a fixed
// coverage. The floor of a value is ceil(b·pred/unit)·unit: whole units
// (instances of unit load each), or b·pred exactly when unit is not
// positive. Among candidate buffers b (at least 1: for each q in
// BufferQuantiles, the q-quantile of the least buffer that covers each
// value) it returns the one minimising
//
//	Σfloor/Σactual + missCost · (share of the values the floor misses)
//
// over the values with a positive prediction: what the floor costs, in
// shares of the load, plus what its misses cost. Where the tail of the
// errors is cheap to cover (a few outliers near the bulk) it buys high
// coverage; where covering it would cost more capacity than its misses
// are worth (noisy, low-volume load) it settles for less. Counting whole
// units matters on small groups: a floor of 4 instances for a load of
// 3.2 covers 25% more than its buffer says. ok is false when no value
// can be scored.
func PricedBuffer(actual, pred []float64, missCost, unit float64) (buffer float64, ok bool) {
	var as, ps, need []float64
	sumA := 0.0
	for i, a := range actual[:min(len(actual), len(pred))] {
		p := pred[i]
		if !(p > 0) || math.IsNaN(a) {
			continue
		}
		n := a / p
		if unit > 0 {
			// The least b with ceil(b·p/unit) ≥ ceil(a/unit), just above
			// (ceil(a/unit) − 1)·unit/p.
			n = max(math.Ceil(a/unit)-1, 0) * unit / p * (1 + 1e-9)
		}
		as, ps, need = append(as, a), append(ps, p), append(need, n)
		sumA += a
	}
	if len(need) == 0 || !(sumA > 0) {
		return math.NaN(), false
	}
	sorted := append([]float64(nil), need...)
	sort.Float64s(sorted)
	best := math.Inf(1)
	for _, q := range BufferQuantiles {
		b := max(1, sorted[min(max(int(math.Ceil(q*float64(len(sorted))))-1, 0), len(sorted)-1)])
		cost, miss := 0.0, 0
		for i, p := range ps {
			f := b * p
			if unit > 0 {
				f = math.Ceil(f/unit) * unit
			}
			cost += f
			if as[i] > f {
				miss++
			}
		}
		if j := cost/sumA + missCost*float64(miss)/float64(len(ps)); j < best {
			best, buffer = j, b
		}
	}
	return buffer, true
}

// OneStepBacktest returns m's one-step-ahead predictions of the last k
// values of history (at most those after m's MinHistory), without
// refitting: Holt-Winters runs with its parameters (fitted first when
// it has none), other models forecast one step from each prefix.
func OneStepBacktest(m Model, history []float64, k int) []float64 {
	n := len(history)
	k = min(k, n-m.MinHistory())
	if k <= 0 {
		return nil
	}
	if hw, ok := m.(HoltWinters); ok {
		var f *Fitted
		if hw.Alpha == 0 {
			f = hw.Fit(history)
		} else {
			f = hw.run(history, make([]float64, n))
		}
		return f.OneStep[n-k:]
	}
	return oneStep(m, history, k)
}

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
	// values of the history.
	Errors map[string]float64
}

// Select backtests each candidate on the last holdout values of history
// (one step ahead, refitting nothing: Holt-Winters keeps the parameters it
// fitted on the whole history, naive models are exact) and forecasts
// horizon values with the one of lowest MAPE. Candidates that need more
// history than there is are skipped; ok is false if none remains.
func Select(history []float64, candidates []Model, holdout, horizon int) (Selection, bool) {
	sel := Selection{Errors: make(map[string]float64, len(candidates))}
	best := math.Inf(1)
	for _, m := range candidates {
		if len(history) < m.MinHistory()+holdout || len(history) < m.MinHistory()+1 {
			continue
		}
		var fc []float64
		var e float64
		switch mm := m.(type) {
		case HoltWinters:
			fit := mm.Fit(history)
			e = MAPE(history[len(history)-holdout:], fit.OneStep[len(history)-holdout:])
			fc = fit.Forecast(horizon)
			m = fit.Model
		default:
			e = oneStepMAPE(m, history, holdout)
			fc = m.Forecast(history, horizon)
		}
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		sel.Errors[m.Name()] = e
		if e < best || sel.Model == nil {
			best, sel.Model, sel.Forecast = e, m, fc
		}
	}
	for i, v := range sel.Forecast {
		sel.Forecast[i] = max(v, 0)
	}
	return sel, sel.Model != nil
}

// oneStepMAPE backtests a naive model one step ahead on the last holdout
// values.
func oneStepMAPE(m Model, h []float64, holdout int) float64 {
	n := len(h)
	actual := h[n-holdout:]
	pred := make([]float64, holdout)
	for i := range pred {
		pred[i] = m.Forecast(h[:n-holdout+i], 1)[0]
	}
	return MAPE(actual, pred)
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

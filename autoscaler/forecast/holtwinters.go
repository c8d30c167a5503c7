package forecast

import "math"

// HoltWinters is additive Holt-Winters (level, trend, one additive season
// of Season steps). With Alpha zero its parameters are fitted on the
// history by Forecast; Fit returns them.
type HoltWinters struct {
	Label              string // default "holt_winters"
	Season             int
	Alpha, Beta, Gamma float64
}

func (m HoltWinters) Name() string {
	if m.Label == "" {
		return NameHoltWinters
	}
	return m.Label
}

// MinHistory is two seasons: one to initialise, one to learn from.
func (m HoltWinters) MinHistory() int { return 2 * m.Season }

// Fitted is a Holt-Winters model run over a history.
type Fitted struct {
	Model HoltWinters // with the fitted parameters
	// OneStep[i] is the one-step-ahead prediction of history[i] (NaN
	// during the first season, used to initialise).
	OneStep []float64
	SSE     float64
	level   float64
	trend   float64
	season  []float64
	n       int
}

// Forecast returns horizon values after the history the model was run on.
func (f *Fitted) Forecast(horizon int) []float64 {
	out := make([]float64, horizon)
	m := len(f.season)
	for h := range out {
		out[h] = f.level + float64(h+1)*f.trend + f.season[(f.n+h)%m]
	}
	return out
}

func (m HoltWinters) Forecast(h []float64, horizon int) []float64 {
	if m.Alpha == 0 {
		return m.Fit(h).Forecast(horizon)
	}
	return m.run(h, nil).Forecast(horizon)
}

// The grid the parameters are fitted on. A coarse grid is cheap (the
// filter is linear in the history), and the one-step error surface is
// flat near its minimum, so it loses little against a numeric optimiser.
// Trend smoothing stays small: a 48-hour horizon amplifies any trend.
var (
	alphas = []float64{0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95}
	betas  = []float64{0, 0.01, 0.05}
	gammas = []float64{0.05, 0.15, 0.3, 0.5}
)

// Fit chooses Alpha, Beta and Gamma minimising the one-step-ahead squared
// error on h and returns the model run over h with them.
func (m HoltWinters) Fit(h []float64) *Fitted {
	var best *Fitted
	scratch := make([]float64, m.Season)
	for _, a := range alphas {
		for _, b := range betas {
			for _, g := range gammas {
				c := m
				c.Alpha, c.Beta, c.Gamma = a, b, g
				sse := c.sse(h, scratch)
				if best == nil || sse < best.SSE {
					best = &Fitted{Model: c, SSE: sse}
				}
			}
		}
	}
	f := best.Model.run(h, make([]float64, len(h)))
	return f
}

// init sets level, trend and season from the first two seasons.
func (m HoltWinters) init(h []float64, season []float64) (level, trend float64) {
	s := m.Season
	for i := range s {
		level += h[i]
	}
	level /= float64(s)
	if len(h) >= 2*s {
		second := 0.0
		for i := s; i < 2*s; i++ {
			second += h[i]
		}
		trend = (second/float64(s) - level) / float64(s)
	}
	for i := range s {
		season[i] = h[i] - level
	}
	return level, trend
}

// sse runs the filter and returns the one-step squared error only.
func (m HoltWinters) sse(h []float64, season []float64) float64 {
	s := m.Season
	if len(h) < s+1 || s <= 0 {
		return math.Inf(1)
	}
	level, trend := m.init(h, season)
	sum := 0.0
	for t := s; t < len(h); t++ {
		i := t % s
		pred := level + trend + season[i]
		e := h[t] - pred
		sum += e * e
		nl := m.Alpha*(h[t]-season[i]) + (1-m.Alpha)*(level+trend)
		trend = m.Beta*(nl-level) + (1-m.Beta)*trend
		season[i] = m.Gamma*(h[t]-nl) + (1-m.Gamma)*season[i]
		level = nl
	}
	return sum
}

// run runs the filter, recording one-step predictions into oneStep when
// it is not nil.
func (m HoltWinters) run(h []float64, oneStep []float64) *Fitted {
	s := m.Season
	f := &Fitted{Model: m, OneStep: oneStep, season: make([]float64, max(s, 1)), n: len(h)}
	if len(h) < s || s <= 0 {
		// Too short to initialise: a flat forecast at the last value.
		if len(h) > 0 {
			f.level = h[len(h)-1]
		}
		return f
	}
	f.level, f.trend = m.init(h, f.season)
	for t := range min(s, len(oneStep)) {
		oneStep[t] = math.NaN()
	}
	for t := s; t < len(h); t++ {
		i := t % s
		pred := f.level + f.trend + f.season[i]
		if oneStep != nil {
			oneStep[t] = pred
		}
		e := h[t] - pred
		f.SSE += e * e
		nl := m.Alpha*(h[t]-f.season[i]) + (1-m.Alpha)*(f.level+f.trend)
		f.trend = m.Beta*(nl-f.level) + (1-m.Beta)*f.trend
		f.season[i] = m.Gamma*(h[t]-nl) + (1-m.Gamma)*f.season[i]
		f.level = nl
	}
	return f
}

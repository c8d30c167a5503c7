package local

import (
	"fmt"
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/sim"
)

// Pattern is the demand the load generator replays: request rates at
// regular steps of replayed time, scaled so that the highest is the
// configured peak, repeated when it runs out.
type Pattern struct {
	Name  string
	Step  time.Duration // replayed time between two values
	Rates []float64     // fractions of the peak, in [0, 1]
	// Offset is the replayed time at which the replay starts (the
	// built-in day starts before dawn, so that load rises at once).
	Offset time.Duration
	// Start is the time of the first value (a trace's first row).
	Start time.Time
}

// builtinDay is a typical web day, hour by hour, as fractions of its
// peak: a night trough, a morning ramp, a midday plateau, an evening fall.
var builtinDay = []float64{
	0.12, 0.09, 0.07, 0.07, 0.08, 0.12, 0.25, 0.45, 0.68, 0.85, 0.95, 1.00,
	1.00, 0.96, 0.90, 0.82, 0.70, 0.55, 0.40, 0.30, 0.22, 0.17, 0.14, 0.12,
}

// BuiltinDay is the default pattern. It starts at 04:00 so that, at the
// default speed (a day in 40 s), load climbs within seconds, peaks at
// about 15 s and falls back by about 35 s.
func BuiltinDay() Pattern {
	return Pattern{Name: "built-in day", Step: time.Hour, Rates: builtinDay, Offset: 4 * time.Hour}
}

// TracePattern loads a request-rate trace (CSV "time,requests", the
// format of ../shared/traces) and normalises it to fractions of its peak.
func TracePattern(path string) (Pattern, error) {
	tr, err := sim.LoadTrace(path)
	if err != nil {
		return Pattern{}, err
	}
	if tr.Len() < 2 {
		return Pattern{}, fmt.Errorf("%s: need at least two intervals", path)
	}
	peak := 0.0
	for i := range tr.Len() {
		peak = max(peak, tr.Rate(i))
	}
	if peak <= 0 {
		return Pattern{}, fmt.Errorf("%s: no requests in the trace", path)
	}
	p := Pattern{Name: path, Step: tr.Step, Rates: make([]float64, tr.Len()), Start: tr.Start}
	for i := range tr.Len() {
		p.Rates[i] = tr.Rate(i) / peak
	}
	return p, nil
}

// StartAt makes the replay begin at time at of a trace.
func (p *Pattern) StartAt(at time.Time) error {
	if p.Start.IsZero() {
		return fmt.Errorf("the built-in pattern has no dates; --from needs a --trace")
	}
	if at.Before(p.Start) || !at.Before(p.Start.Add(p.Period())) {
		return fmt.Errorf("%s is outside the trace (%s to %s)", at.Format(time.RFC3339), p.Start.Format(time.RFC3339), p.Start.Add(p.Period()).Format(time.RFC3339))
	}
	p.Offset = at.Sub(p.Start)
	return nil
}

// FirstDayPeak is the highest value in the first replayed day: local
// mode scales the pattern so that it reaches the configured peak then.
// Scaling to the whole trace's peak would make a trace with one big
// spike (the WorldCup98 final) a flat line near zero for days.
func (p Pattern) FirstDayPeak() float64 {
	peak := 0.0
	step := min(p.Step, time.Hour)
	for d := time.Duration(0); d < 24*time.Hour; d += step {
		peak = max(peak, p.At(d))
	}
	return peak
}

// Period is the replayed length of one pass over the pattern.
func (p Pattern) Period() time.Duration { return time.Duration(len(p.Rates)) * p.Step }

// At returns the fraction of the peak at replayed time d after the start,
// interpolating linearly between steps (a step function would make the
// load jump every step at high speeds).
func (p Pattern) At(d time.Duration) float64 {
	n := len(p.Rates)
	if n == 0 {
		return 0
	}
	pos := float64(d+p.Offset) / float64(p.Step)
	pos = math.Mod(pos, float64(n))
	if pos < 0 {
		pos += float64(n)
	}
	i := int(pos)
	frac := pos - float64(i)
	return p.Rates[i%n]*(1-frac) + p.Rates[(i+1)%n]*frac
}

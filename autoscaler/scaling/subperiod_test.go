package scaling

import (
	"math"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/forecast"
)

// A per-minute load with a burst every 30 minutes on a daily cycle, with
// deterministic noise: the hourly mean hides the bursts, so the policy
// must find the 30-minute period at 5 minutes, forecast at that
// resolution and have skill over persistence there.
func TestRefitFindsThirtyMinuteBursts(t *testing.T) {
	start := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	var h []autoscaler.Sample
	seed := uint64(1)
	for m := range 5 * 24 * 60 {
		tm := start.Add(time.Duration(m) * time.Minute)
		day := 100 + 50*math.Sin(2*math.Pi*float64(m)/1440)
		v := day
		if m%30 < 5 { // a 5-minute burst every 30 minutes
			v += 200
		}
		seed = seed*6364136223846793005 + 1442695040888963407
		v *= 1 + 0.05*(float64(seed>>40)/float64(1<<24)-0.5)
		h = append(h, autoscaler.Sample{Time: tm, Value: v})
	}
	p := DefaultPredictive(1)
	p.BufferQuantile, p.RequireSkill = 0.9, true
	now := h[len(h)-1].Time.Add(time.Minute)
	f := p.Refit(now, h)
	if f == nil {
		t.Fatal("no forecast")
	}
	if f.Step != SubPeriodStep {
		t.Errorf("forecast step %s, want %s (the bursts vanish in hourly means)", f.Step, SubPeriodStep)
	}
	if !(f.Skill > 0) {
		t.Errorf("skill %g: the periodic bursts should be predictable (model %s)", f.Skill, f.Model)
	}
	// The forecast should put the next burst (minutes 0-4 of the next
	// half hour) well above the quiet minutes before it.
	burst := now.Truncate(30 * time.Minute).Add(30 * time.Minute)
	hi, _ := f.At(burst)
	lo, _ := f.At(burst.Add(-10 * time.Minute))
	if !(hi > lo+100) {
		t.Errorf("forecast at the burst %.1f, 10 min before %.1f (model %s)", hi, lo, f.Model)
	}
}

func TestSubPeriodIgnoresSteps(t *testing.T) {
	// Hourly steps replayed at 5 minutes: no sub-hour period.
	var xs []float64
	for i := range 1152 {
		xs = append(xs, 100+50*math.Sin(2*math.Pi*float64(i/12)/24)+float64((i/12)%5))
	}
	if lag, ok := forecast.SubPeriod(xs, 11); ok {
		t.Errorf("found period %d in a step series", lag)
	}
}

package scaling

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // a Monday

// hist returns one-minute datapoints of the given loads ending one
// minute before now (the latest datapoint is the last complete minute);
// NaN marks a missing datapoint (left out of the series).
func hist(now time.Time, loads ...float64) []autoscaler.Sample {
	var out []autoscaler.Sample
	for i, v := range loads {
		if v != v {
			continue
		}
		out = append(out, autoscaler.Sample{Time: now.Add(time.Duration(i-len(loads)) * time.Minute), Value: v})
	}
	return out
}

func rep(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func cat(xs ...[]float64) []float64 {
	var out []float64
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

var nan = func() float64 { z := 0.0; return z / z }()

func group(desired, inService int) autoscaler.GroupState {
	return autoscaler.GroupState{Name: "web", Min: 1, Max: 20, Desired: desired, InService: inService, Warming: desired - inService}
}

func TestTargetTracking(t *testing.T) {
	tt := DefaultTargetTracking(70)
	noIn := tt
	noIn.DisableScaleIn = true
	tests := []struct {
		name    string
		p       TargetTracking
		g       autoscaler.GroupState
		loads   []float64
		want    int
		abstain bool
	}{
		{"3 datapoints above target scale out", tt, group(4, 4), rep(400, 3), 6, false},
		{"2 of 3 above do not", tt, group(4, 4), []float64{200, 400, 400}, 4, false},
		{"within tolerance holds", tt, group(4, 4), rep(300, 3), 4, false}, // 75/instance < 77
		{"warming instances count toward desired", tt, group(6, 4), rep(400, 3), 6, false},
		{"warming instances do not count toward the metric", tt, group(6, 3), rep(300, 3), 6, false},
		{"all warming: infinite metric, sized by load", tt, group(2, 0), rep(300, 3), 5, false},
		{"15 datapoints below 90% scale in to the window peak", tt, group(10, 10), cat(rep(300, 14), []float64{100}), 5, false},
		{"14 below do not scale in", tt, group(10, 10), cat([]float64{700}, rep(300, 14)), 10, false},
		{"missing datapoint never scales in", tt, group(10, 10), cat(rep(300, 7), []float64{nan}, rep(300, 7)), 10, false},
		{"stale history never scales in", tt, group(10, 10), cat(rep(300, 15), []float64{nan}), 10, false},
		{"missing data does not complete a high alarm", tt, group(4, 4), []float64{400, nan, 400}, 4, false},
		{"disable_scale_in abstains when low", noIn, group(10, 10), rep(100, 15), 10, true},
		{"disable_scale_in still scales out", noIn, group(4, 4), rep(400, 3), 6, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Group: tc.g, Interval: time.Minute, History: hist(t0, tc.loads...)}
			p := tc.p.propose(t0, &in, nil)
			if p.Capacity != tc.want || p.Abstain != tc.abstain {
				t.Errorf("proposal %+v, want capacity %d abstain %v", p, tc.want, tc.abstain)
			}
		})
	}
}

func f64(x float64) *float64 { return &x }
func ip(x int) *int          { return &x }

func TestStepScaling(t *testing.T) {
	out := Step{Name: "s", Threshold: 80, Comparison: Greater, DatapointsToAlarm: 2, EvaluationPeriods: 3, AdjustmentType: ChangeInCapacity,
		Steps: []StepAdjustment{{Lower: f64(0), Upper: f64(20), Adjustment: 1}, {Lower: f64(20), Adjustment: 3}}}
	pct := out
	pct.AdjustmentType = PercentChangeInCapacity
	pct.Steps = []StepAdjustment{{Lower: f64(0), Adjustment: 30}}
	pctMAM := pct
	pctMAM.MinAdjustmentMagnitude = 2
	pctSmall := pct
	pctSmall.Steps = []StepAdjustment{{Lower: f64(0), Adjustment: 5}}
	exact := out
	exact.AdjustmentType = ExactCapacity
	exact.Steps = []StepAdjustment{{Lower: f64(0), Adjustment: 12}}
	in := Step{Name: "in", Threshold: 30, Comparison: Less, DatapointsToAlarm: 1, EvaluationPeriods: 1, AdjustmentType: PercentChangeInCapacity,
		Steps: []StepAdjustment{{Upper: f64(0), Adjustment: -25}}}
	tests := []struct {
		name    string
		p       Step
		g       autoscaler.GroupState
		loads   []float64 // per-instance loads × InService
		want    int
		abstain bool
	}{
		{"2 of 3 breach: first step", out, group(10, 10), []float64{500, 850, 900}, 11, false},
		{"2 of 3 with a missing datapoint", out, group(10, 10), []float64{850, nan, 900}, 11, false},
		{"1 of 3 breach: OK", out, group(10, 10), []float64{500, 500, 900}, 0, true},
		{"second step (breach >= 20)", out, group(10, 10), []float64{1000, 1000, 1000}, 13, false},
		{"upper bound exclusive", out, group(10, 10), []float64{1000, 1000, 1000}, 13, false},
		{"adds to in-service, not to warming", out, group(13, 10), []float64{1000, 1000, 1000}, 13, false},
		{"percent: 30% of 10 = 3", pct, group(10, 10), rep(900, 3), 13, false},
		{"percent: 30% of 5 = 1.5 rounds down to 1", pct, group(5, 5), rep(450, 3), 6, false},
		{"percent: 5% of 10 = 0.5 rounds up to 1", pctSmall, group(10, 10), rep(900, 3), 11, false},
		{"percent with min adjustment magnitude 2", pctMAM, group(5, 5), rep(450, 3), 7, false},
		{"exact capacity", exact, group(5, 5), rep(500, 3), 12, false},
		{"percent scale-in -25% of 10 = -2.5 rounds to -2", in, group(10, 10), []float64{200}, 8, false},
		{"percent scale-in -25% of 2 = -0.5 rounds to -1", in, group(2, 2), []float64{40}, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Group: tc.g, Interval: time.Minute, History: hist(t0, tc.loads...)}
			p := tc.p.propose(t0, &in)
			if p.Abstain != tc.abstain || (!tc.abstain && p.Capacity != tc.want) {
				t.Errorf("proposal %+v, want capacity %d abstain %v", p, tc.want, tc.abstain)
			}
		})
	}
}

// daily returns n days of one-minute history ending at now with a load
// of lo at night and hi from 08:00 to 20:00 UTC.
func daily(now time.Time, days int, lo, hi float64) []autoscaler.Sample {
	n := days * 24 * 60
	out := make([]autoscaler.Sample, n)
	for i := range out {
		at := now.Add(time.Duration(i-n) * time.Minute)
		v := lo
		if h := at.Hour(); h >= 8 && h < 20 {
			v = hi
		}
		out[i] = autoscaler.Sample{Time: at, Value: v}
	}
	return out
}

func TestPredictive(t *testing.T) {
	p := DefaultPredictive(100)
	p.Forecaster = "seasonal_naive_day"
	morning := time.Date(2026, 3, 5, 7, 56, 0, 0, time.UTC) // 4 min before the 08:00 rise
	early := time.Date(2026, 3, 5, 7, 50, 0, 0, time.UTC)   // 10 min before
	evening := time.Date(2026, 3, 5, 20, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		p       func(Predictive) Predictive
		now     time.Time
		days    int
		g       autoscaler.GroupState
		want    int
		abstain bool
		max     int
	}{
		{"needs 24 h of history", nil, morning, 0, group(2, 2), 0, true, 20},
		{"scales ahead within the scheduling buffer", nil, morning, 3, group(2, 2), 10, false, 20},
		{"not before the scheduling buffer", nil, early, 3, group(2, 2), 2, false, 20},
		{"forecast only never proposes", func(p Predictive) Predictive { p.Mode = ForecastOnly; return p }, morning, 3, group(2, 2), 0, true, 20},
		{"honours max capacity", func(p Predictive) Predictive { p.Target = 40; return p }, morning, 3, group(2, 2), 20, false, 20},
		{"increase max capacity with buffer", func(p Predictive) Predictive {
			p.Target, p.MaxCapacityBreach, p.MaxCapacityBuffer = 40, IncreaseMaxCapacity, 10
			return p
		}, morning, 3, group(2, 2), 25, false, 28},
		{"low forecast proposes low (a floor, not a scale-in)", nil, evening, 3, group(10, 10), 2, false, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp := p
			if tc.p != nil {
				pp = tc.p(p)
			}
			in := Input{Group: tc.g, Interval: time.Minute, History: daily(tc.now, tc.days, 200, 1000)}
			var st State
			got, limit := pp.propose(tc.now, &in, &st, 20)
			if got.Abstain != tc.abstain || (!tc.abstain && got.Capacity != tc.want) || limit != tc.max {
				t.Errorf("proposal %+v limit %d, want capacity %d abstain %v limit %d", got, limit, tc.want, tc.abstain, tc.max)
			}
			if got.ScaleIn {
				t.Error("a predictive proposal must not be scale-in-capable")
			}
		})
	}
}

func TestPredictiveRefreshAndCache(t *testing.T) {
	p := DefaultPredictive(100)
	now := time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC)
	in := Input{Group: group(2, 2), Interval: time.Minute, History: daily(now, 3, 200, 1000)}
	var st State
	p.propose(now, &in, &st, 20)
	f := st.Forecasts[p.Name]
	if f == nil || len(f.Values) != 48 || !f.Start.Equal(now) || f.Model == "" {
		t.Fatalf("forecast %+v, want 48 hourly values from %s", f, now)
	}
	p.propose(now.Add(30*time.Minute), &in, &st, 20)
	if st.Forecasts[p.Name] != f {
		t.Error("refit before refresh elapsed")
	}
	st.InvalidateForecasts()
	p.propose(now.Add(31*time.Minute), &in, &st, 20)
	if g := st.Forecasts[p.Name]; g == f || !g.FittedAt.Equal(now.Add(31*time.Minute)) {
		t.Error("InvalidateForecasts did not force a refit")
	}
}

func TestCron(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		expr string
		now  time.Time
		loc  *time.Location
		want time.Time
	}{
		{"0 8 * * 1-5", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"0 8 * * 1-5", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 2, 27, 8, 0, 0, 0, time.UTC)}, // Sunday -> Friday
		{"0 8 * * 1-5", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), paris, time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)},
		{"*/15 * * * *", time.Date(2026, 3, 2, 12, 44, 59, 0, time.UTC), time.UTC, time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)},
		{"30 9 1 jan,jul *", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC)},
		{"0 0 29 2 *", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0 12 * * sun", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"0 12 * * 7", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"0 12 13 * 5", time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)}, // dom OR dow
	}
	for _, tc := range tests {
		c, err := ParseCron(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		got, ok := c.Prev(tc.now, tc.loc)
		if !ok || !got.Equal(tc.want) {
			t.Errorf("%q Prev(%s in %s) = %s, want %s", tc.expr, tc.now, tc.loc, got.UTC(), tc.want)
		}
		next, ok := c.Next(got, tc.loc)
		if !ok || !next.After(got) {
			t.Errorf("%q Next(%s) = %s", tc.expr, got, next)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "* * * foo *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("ParseCron(%q) accepted", bad)
		}
	}
}

func TestScheduled(t *testing.T) {
	c8, _ := ParseCron("0 8 * * *")
	c20, _ := ParseCron("0 20 * * *")
	s := Scheduled{Name: "sched", Actions: []Action{
		{Name: "morning", Cron: c8, Min: ip(5), Desired: ip(8)},
		{Name: "evening", Cron: c20, Min: ip(1), Max: ip(10)},
		{Name: "launch", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Min: ip(12), Max: ip(30)},
		{Name: "bounded", Cron: c8, Start: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Min: ip(99)},
	}}
	tests := []struct {
		name    string
		now     time.Time
		lo, hi  int
		desired int
		abstain bool
	}{
		{"morning action fires: min and desired", time.Date(2026, 3, 1, 8, 0, 30, 0, time.UTC), 5, 10, 8, false},
		{"desired only in the firing interval; min persists", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), 5, 10, 0, true},
		{"evening lowers min; max from earlier evening", time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), 1, 10, 0, true},
		{"one-off applies after the morning action, in order", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), 12, 30, 0, true},
		{"a later cron firing overrides the one-off", time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC), 1, 10, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Group: group(3, 3), Interval: time.Minute}
			lo, hi, p := s.apply(tc.now, &in, 1, 20, time.Minute)
			if lo != tc.lo || hi != tc.hi || p.Abstain != tc.abstain || (!tc.abstain && p.Capacity != tc.desired) {
				t.Errorf("bounds [%d, %d] proposal %+v; want [%d, %d] desired %d abstain %v", lo, hi, p, tc.lo, tc.hi, tc.desired, tc.abstain)
			}
		})
	}
}

// fixed is a policy set whose target tracking policy sees a constant
// load: it makes the combination tests independent of alarm details.
func TestCombination(t *testing.T) {
	tt := DefaultTargetTracking(100)
	tt.ScaleOutDatapoints = 1
	tt.ScaleInDatapoints = 1
	tt.Tolerance = 0
	minAt, _ := ParseCron("0 8 * * *")
	tests := []struct {
		name string
		set  Set
		g    autoscaler.GroupState
		load float64
		prev []Recommendation
		want int
		why  string
	}{
		{"scale out to the proposal", Set{TargetTracking: []TargetTracking{tt}}, group(4, 4), 800, nil, 8, "largest"},
		{"clipped to max", Set{TargetTracking: []TargetTracking{tt}}, group(4, 4), 5000, nil, 20, ""},
		{"clipped to min", Set{TargetTracking: []TargetTracking{tt}}, group(4, 4), 10, nil, 1, ""},
		{"the largest proposal wins", Set{TargetTracking: []TargetTracking{tt, func() TargetTracking { x := tt; x.Name = "b"; x.Target = 50; return x }()}}, group(4, 4), 800, nil, 16, ""},
		{"scale-in needs every scale-in-capable policy", Set{TargetTracking: []TargetTracking{tt, func() TargetTracking { x := tt; x.Name = "b"; x.Target = 21; return x }()}}, group(10, 10), 200, nil, 10, ""},
		{"stabilization: highest in window wins", Set{TargetTracking: []TargetTracking{tt}, Behavior: DefaultBehavior()}, group(10, 10), 200,
			[]Recommendation{{t0.Add(-4 * time.Minute), 7}, {t0.Add(-2 * time.Minute), 5}}, 7, "stabilized"},
		{"stabilization: old recommendations expire", Set{TargetTracking: []TargetTracking{tt}, Behavior: DefaultBehavior()}, group(10, 10), 200,
			[]Recommendation{{t0.Add(-6 * time.Minute), 9}}, 2, ""},
		{"stabilization never delays scale-out", Set{TargetTracking: []TargetTracking{tt}, Behavior: DefaultBehavior()}, group(4, 4), 800,
			[]Recommendation{{t0.Add(-time.Minute), 2}}, 8, ""},
		{"scale-out step limited", Set{TargetTracking: []TargetTracking{tt}, Behavior: Behavior{MaxScaleOutStep: 2}}, group(4, 4), 800, nil, 6, "limited"},
		{"scale-in step limited", Set{TargetTracking: []TargetTracking{tt}, Behavior: Behavior{MaxScaleInStep: 3}}, group(10, 10), 200, nil, 7, "limited"},
		{"a raised min overrides everything", Set{TargetTracking: []TargetTracking{tt}, Scheduled: []Scheduled{{Name: "s", Actions: []Action{{Name: "m", Cron: minAt, Min: ip(15)}}}}},
			group(4, 4), 200, nil, 15, ""},
		{"no active proposal holds", Set{Step: []Step{{Name: "s", Threshold: 1000, EvaluationPeriods: 1, DatapointsToAlarm: 1, Steps: []StepAdjustment{{Adjustment: 1}}}}}, group(4, 4), 200, nil, 4, "no active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := State{Recommendations: tc.prev}
			in := Input{Group: tc.g, Interval: time.Minute, History: hist(t0, rep(tc.load, 15)...)}
			r := tc.set.Evaluate(t0, in, &st)
			if r.Desired != tc.want || !strings.Contains(r.Reason, tc.why) {
				t.Errorf("desired %d (%s), want %d (%q); proposals %+v", r.Desired, r.Reason, tc.want, tc.why, r.Proposals)
			}
			if r.Current != tc.g.Desired || r.Group != "web" || !r.Time.Equal(t0) {
				t.Errorf("decision header %+v", r.Decision)
			}
		})
	}
}

func TestPredictiveNeverScalesInAlone(t *testing.T) {
	p := DefaultPredictive(100)
	p.Forecaster = "seasonal_naive_day"
	now := time.Date(2026, 3, 5, 22, 0, 0, 0, time.UTC)
	set := Set{Predictive: []Predictive{p}}
	var st State
	r := set.Evaluate(now, Input{Group: group(10, 10), History: daily(now, 3, 200, 1000)}, &st)
	if r.Desired != 10 || !strings.Contains(r.Reason, "no scale-in-capable") {
		t.Errorf("desired %d (%s), want 10 held", r.Desired, r.Reason)
	}
	// With a target tracking policy wanting 1, the forecast is the floor.
	tt := DefaultTargetTracking(100)
	tt.ScaleInDatapoints = 1
	set.TargetTracking = []TargetTracking{tt}
	r = set.Evaluate(now, Input{Group: group(10, 10), History: daily(now, 3, 200, 1000)}, &st)
	if r.Desired != 2 {
		t.Errorf("desired %d (%s), want the forecast floor 2", r.Desired, r.Reason)
	}
}

// Before any forecast exists, ColdStartTarget holds the latest load at
// that target per instance; with a forecast (skilled or not) it no
// longer applies.
func TestPredictiveColdStart(t *testing.T) {
	p := DefaultPredictive(100)
	p.Forecaster = "seasonal_naive_day"
	p.ColdStartTarget = 70
	now := time.Date(2026, 3, 5, 7, 56, 0, 0, time.UTC)
	in := Input{Group: group(2, 2), Interval: time.Minute, History: hist(now, 300, 350)}
	var st State
	got, _ := p.propose(now, &in, &st, 20)
	if got.Abstain || got.Capacity != 5 || got.ScaleIn {
		t.Errorf("cold start: %+v, want a floor of 5 (350 at 70)", got)
	}
	p.Mode = ForecastOnly
	if got, _ := p.propose(now, &in, &State{}, 20); !got.Abstain {
		t.Errorf("forecast only proposed %+v", got)
	}
	p.Mode = ForecastAndScale
	in.History = daily(now, 3, 200, 1000)
	if got, _ := p.propose(now, &in, &State{}, 20); got.Abstain || got.Capacity != 10 {
		t.Errorf("with a forecast: %+v, want the forecast's 10", got)
	}
}

// While the forecast has no skill, NoSkillTarget holds the latest load
// at that target per instance instead of abstaining; a skilled forecast
// is used as before, and without NoSkillTarget the policy abstains.
func TestPredictiveNoSkillTarget(t *testing.T) {
	p := DefaultPredictive(100)
	p.RequireSkill = true
	p.NoSkillTarget = 70
	hour := time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC)
	now := hour.Add(30 * time.Minute)
	in := Input{Group: group(2, 2), Interval: time.Minute, History: hist(now, 300, 350)}
	state := func(skill float64) *State {
		return &State{Forecasts: map[string]*Forecast{p.Name: {FittedAt: now, Model: "m", Start: hour, Step: time.Hour,
			Values: []float64{1000, 1000}, Buffer: 1, Skill: skill}}}
	}
	if got, _ := p.propose(now, &in, state(-0.1), 20); got.Abstain || got.Capacity != 5 || got.ScaleIn {
		t.Errorf("no skill: %+v, want a floor of 5 (350 at 70)", got)
	}
	if got, _ := p.propose(now, &in, state(0.2), 20); got.Abstain || got.Capacity != 10 {
		t.Errorf("skilled: %+v, want the forecast's 10", got)
	}
	p.NoSkillTarget = 0
	if got, _ := p.propose(now, &in, state(-0.1), 20); !got.Abstain {
		t.Errorf("no skill without NoSkillTarget: %+v, want an abstention", got)
	}
}

// An anchored forecast follows the load of the step in progress, which
// it has seen, but the step ahead, which it has not, only down to its
// raw forecast: an hour well below its forecast must not take the next
// hour's floor down with it.
func TestPredictiveAnchorStepAhead(t *testing.T) {
	p := DefaultPredictive(200)
	hour := time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		minute int
		values []float64
		want   int
	}{
		// 500 seen against a forecast of 2000: offset −1500.
		{"within the step", 30, []float64{2000, 1500}, 3},   // 2000−1500 = 500
		{"step ahead falls", 56, []float64{2000, 1500}, 8},  // max(500, 0, 1500)
		{"step ahead rises", 56, []float64{2000, 2600}, 13}, // max(500, 1100, 2600)
		{"anchor raises", 56, []float64{200, 1500}, 9},      // max(500, 1800, 1500)
	} {
		now := hour.Add(time.Duration(tc.minute) * time.Minute)
		st := State{Forecasts: map[string]*Forecast{p.Name: {FittedAt: now, Model: "m", Start: hour, Step: time.Hour,
			Values: tc.values, Buffer: 1, Skill: 1, Anchored: true}}}
		in := Input{Group: group(2, 2), Interval: time.Minute, History: hist(now, rep(500, tc.minute)...)}
		if got, _ := p.propose(now, &in, &st, 20); got.Abstain || got.Capacity != tc.want {
			t.Errorf("%s: %+v, want %d", tc.name, got, tc.want)
		}
	}
}

// A rise over both of the last two minutes is extrapolated over the
// lookahead; a one-minute jump (a burst switching on, an hourly step) is
// sized as seen: projecting it would size for several more jumps.
func TestLookaheadExtrapolatesSustainedRises(t *testing.T) {
	now := t0.Add(time.Hour)
	p := DefaultTargetTracking(10)
	p.ScaleOutDatapoints, p.Lookahead = 1, 4*time.Minute
	g := autoscaler.GroupState{Name: "web", Min: 1, Max: 100, Desired: 10, InService: 10}
	for _, c := range []struct {
		name  string
		loads []float64
		want  int
	}{
		{"ramp", []float64{100, 120, 140}, 22}, // 140 + 4·20 = 220
		{"jump", []float64{100, 100, 200}, 20}, // 200 as seen, not 200 + 4·50
		{"jump then dip", []float64{100, 200, 195}, 20},
	} {
		in := Input{Group: g, Interval: time.Minute, History: hist(now, c.loads...)}
		if got := p.propose(now, &in, nil); got.Capacity != c.want {
			t.Errorf("%s %v: capacity %d, want %d (%s)", c.name, c.loads, got.Capacity, c.want, got.Reason)
		}
	}
}

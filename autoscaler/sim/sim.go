package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/policy"
)

// Group is the simulated group's model.
type Group struct {
	Name                string
	Min, Max            int
	CapacityPerInstance float64       // requests/s one in-service instance serves
	LaunchDelay         time.Duration // from desired raised to instance running
	Warmup              time.Duration // after launch delay, before it serves and counts in the metric
	// Interval is the decision period and the metric's datapoint period
	// (default 1 min); the trace's step must be a multiple of it.
	Interval time.Duration
}

// Metrics are the SPEC RG elasticity metrics of one run (Herbst et al.,
// "Elasticity in Cloud Computing: What It Is, and What It Is Not" and the
// SPEC RG "Ready for Rain?" metrics), with d_k the demand and s_k the
// supply (in-service instances × capacity per instance) in requests/s
// over the K simulation intervals of length Δt (T = K·Δt):
//
//	τU = (1/T) Σ [d_k > s_k] Δt            under-provisioned time share
//	θU = (1/T) Σ max(d_k − s_k, 0)/d_k Δt  under-provisioned demand share
//	τO = (1/T) Σ [s_k > d_k] Δt            over-provisioned time share
//	θO = (1/T) Σ max(s_k − d_k, 0)/d_k Δt  over-provisioned demand share
//
// Intervals with zero demand count in T and in τO but add nothing to θU
// and θO (the ratio is undefined there). InstanceHours bills every
// launched instance (pending, warming or in service) from launch to
// termination; ScalingActions counts changes of desired capacity.
type Metrics struct {
	InstanceHours          float64 `json:"instance_hours"`
	UnderProvisionedTime   float64 `json:"under_provisioned_time"`
	UnderProvisionedDemand float64 `json:"under_provisioned_demand"`
	OverProvisionedTime    float64 `json:"over_provisioned_time"`
	OverProvisionedDemand  float64 `json:"over_provisioned_demand"`
	ScalingActions         int     `json:"scaling_actions"`
}

// Series is a run's per-interval record, for charts.
type Series struct {
	Start    time.Time
	Step     time.Duration
	Demand   []float64 // requests/s
	Supply   []float64 // requests/s served by in-service instances
	Desired  []int
	Forecast []float64 // the first predictive policy's forecast load (NaN where none)
}

// Options of a run.
type Options struct {
	// Progress, if set, is called now and then with the intervals done.
	Progress func(done, total int)
	// Record keeps the per-interval Series.
	Record bool
}

type accumulator struct {
	k                                 int
	under, over, underD, overD, instS float64
	actions                           int
}

func (a *accumulator) add(d, s float64, launched int, dt float64) {
	a.k++
	a.instS += float64(launched) * dt
	if d > s {
		a.under++
	}
	if s > d {
		a.over++
	}
	if d > 0 {
		a.underD += max(d-s, 0) / d
		a.overD += max(s-d, 0) / d
	}
}

func (a *accumulator) metrics() Metrics {
	k := float64(max(a.k, 1))
	return Metrics{InstanceHours: a.instS / 3600, UnderProvisionedTime: a.under / k, UnderProvisionedDemand: a.underD / k,
		OverProvisionedTime: a.over / k, OverProvisionedDemand: a.overD / k, ScalingActions: a.actions}
}

func (g *Group) interval() time.Duration {
	if g.Interval <= 0 {
		return time.Minute
	}
	return g.Interval
}

// steps checks the trace's grid against the interval and returns the
// number of simulation intervals per trace interval.
func (g *Group) steps(tr *Trace) (int, error) {
	iv := g.interval()
	if tr.Step%iv != 0 {
		return 0, fmt.Errorf("trace step %s is not a multiple of the decision interval %s", tr.Step, iv)
	}
	if !(g.CapacityPerInstance > 0) {
		return 0, fmt.Errorf("capacity per instance must be positive, got %g", g.CapacityPerInstance)
	}
	return int(tr.Step / iv), nil
}

// Run replays tr through the policy set against the simulated group. The
// demand of a trace interval is its requests divided by its length, held
// for the whole interval (a trace coarser than the decision interval is
// replayed as steps). At the end of each simulation interval the
// interval's demand becomes a metric datapoint, the core decides, and
// the group follows: new instances serve after LaunchDelay + Warmup;
// scale-in terminates the youngest instances first, at once. The group
// starts warm, at the capacity the first interval needs at the first
// target tracking (or predictive) target, clipped to [Min, Max].
func Run(tr *Trace, set *policy.Set, g Group, opt Options) (Metrics, *Series, error) {
	per, err := g.steps(tr)
	if err != nil {
		return Metrics{}, nil, err
	}
	iv := g.interval()
	total := tr.Len() * per
	dt := iv.Seconds()
	ready := g.LaunchDelay + g.Warmup
	history := make([]autoscaler.Sample, 0, total)
	var st policy.State
	var series *Series
	if opt.Record {
		series = &Series{Start: tr.Start, Step: iv, Demand: make([]float64, 0, total), Supply: make([]float64, 0, total),
			Desired: make([]int, 0, total), Forecast: make([]float64, 0, total)}
	}
	// launches holds the launch time of every live instance, oldest
	// first; the first inService of them have become ready.
	target := initialTarget(set, g.CapacityPerInstance)
	n0 := clampInt(int(math.Ceil(tr.Rate(0)/target)), g.Min, g.Max)
	launches := make([]time.Time, n0)
	for i := range launches {
		launches[i] = tr.Start.Add(-ready)
	}
	var acc accumulator
	var predName string
	if len(set.Predictive) > 0 {
		predName = set.Predictive[0].Name
	}
	for k := range total {
		t := tr.Start.Add(time.Duration(k) * iv)
		inService := 0
		for inService < len(launches) && !launches[inService].Add(ready).After(t) {
			inService++
		}
		d := tr.Rate(k / per)
		s := float64(inService) * g.CapacityPerInstance
		acc.add(d, s, len(launches), dt)
		if series != nil {
			series.Demand = append(series.Demand, d)
			series.Supply = append(series.Supply, s)
			series.Desired = append(series.Desired, len(launches))
			fc := math.NaN()
			if f := st.Forecasts[predName]; f != nil {
				if v, ok := f.At(t); ok {
					fc = v
				}
			}
			series.Forecast = append(series.Forecast, fc)
		}
		history = append(history, autoscaler.Sample{Time: t, Value: d})
		now := t.Add(iv)
		// In service at decision time: those ready by now.
		for inService < len(launches) && !launches[inService].Add(ready).After(now) {
			inService++
		}
		res := set.Evaluate(now, policy.Input{
			Group: autoscaler.GroupState{Name: g.Name, Min: g.Min, Max: g.Max, Desired: len(launches),
				InService: inService, Warming: len(launches) - inService},
			Interval: iv, History: history, Terse: true,
		}, &st)
		if res.Desired != len(launches) {
			acc.actions++
			if res.Desired > len(launches) {
				for range res.Desired - len(launches) {
					launches = append(launches, now)
				}
			} else {
				launches = launches[:res.Desired]
			}
		}
		if opt.Progress != nil && (k+1)%16384 == 0 {
			opt.Progress(k+1, total)
		}
	}
	if opt.Progress != nil {
		opt.Progress(total, total)
	}
	return acc.metrics(), series, nil
}

func clampInt(x, lo, hi int) int { return max(lo, min(x, hi)) }

// initialTarget is the load per instance the group starts at.
func initialTarget(set *policy.Set, cpi float64) float64 {
	switch {
	case len(set.TargetTracking) > 0:
		return set.TargetTracking[0].Target
	case len(set.Predictive) > 0:
		return set.Predictive[0].Target
	}
	return cpi
}

// Oracle scores perfect foresight: in every interval exactly
// ceil(demand / capacity per instance) instances serve, with no launch
// delay and no bounds.
func Oracle(tr *Trace, g Group) (Metrics, error) {
	per, err := g.steps(tr)
	if err != nil {
		return Metrics{}, err
	}
	dt := g.interval().Seconds()
	var acc accumulator
	prev := -1
	for k := range tr.Len() * per {
		d := tr.Rate(k / per)
		n := int(math.Ceil(d / g.CapacityPerInstance))
		if prev >= 0 && n != prev {
			acc.actions++
		}
		prev = n
		acc.add(d, float64(n)*g.CapacityPerInstance, n, dt)
	}
	return acc.metrics(), nil
}

// Reactive is the reactive baseline for a policy set: target tracking
// alone with the AWS defaults (3 datapoints above target to scale out, 15
// below 90% of it to scale in, 10% tolerance) and the default 300 s
// scale-in stabilization, at the set's target (its first target tracking
// policy's, else its first predictive policy's, else 70% of the capacity
// per instance). It takes nothing else from the set, so that tuning the
// set never tunes its baseline.
func Reactive(set *policy.Set, cpi float64) *policy.Set {
	target := DefaultTargetRatio * cpi
	switch {
	case len(set.TargetTracking) > 0:
		target = set.TargetTracking[0].Target
	case len(set.Predictive) > 0:
		target = set.Predictive[0].Target
	}
	tt := policy.DefaultTargetTracking(target)
	tt.Name = "reactive"
	return &policy.Set{TargetTracking: []policy.TargetTracking{tt}, Behavior: policy.DefaultBehavior()}
}

// DefaultTargetRatio is the share of the capacity per instance that the
// default policies and the reactive baseline aim at.
const DefaultTargetRatio = 0.7

// DefaultSet is the policy set used without a configuration, tuned on
// the shared traces (see the package's acceptance test):
//
//   - target tracking at 70% of the capacity per instance, scaling out on
//     the first datapoint above target (AWS waits for 3; with a launch
//     delay of minutes every minute of waiting is a minute short);
//   - predictive scaling (auto forecaster, hourly, 5 min ahead) as a floor
//     at 90% of the capacity per instance, the target tracking policy
//     adding headroom above it; it abstains while its backtested error is
//     above 10%, since a poor forecast only buys idle instances;
//   - a 20-minute scale-in stabilization window, which keeps capacity
//     through clusters of bursts instead of scaling in between them.
func DefaultSet(cpi float64) *policy.Set {
	tt := policy.DefaultTargetTracking(DefaultTargetRatio * cpi)
	tt.ScaleOutDatapoints = 1
	pr := policy.DefaultPredictive(0.9 * cpi)
	pr.MaxForecastError = 0.1
	return &policy.Set{
		TargetTracking: []policy.TargetTracking{tt},
		Predictive:     []policy.Predictive{pr},
		Behavior:       policy.Behavior{ScaleInStabilization: 20 * time.Minute},
	}
}

// Report is a backtest of a policy set next to its baselines.
type Report struct {
	Policy   Metrics `json:"policy"`
	Reactive Metrics `json:"reactive"`
	Oracle   Metrics `json:"oracle"`
}

// Compare runs the policy set, its reactive baseline and the oracle on
// the trace. The series returned is the policy's (when opt.Record).
func Compare(tr *Trace, set *policy.Set, g Group, opt Options) (Report, *Series, error) {
	var r Report
	var err error
	var series *Series
	total := 2 * tr.Len() * max(int(tr.Step/g.interval()), 1)
	prog := opt.Progress
	if prog != nil {
		opt.Progress = func(done, _ int) { prog(done, total) }
	}
	if r.Policy, series, err = Run(tr, set, g, opt); err != nil {
		return r, nil, err
	}
	if prog != nil {
		half := total / 2
		opt.Progress = func(done, _ int) { prog(half+done, total) }
	}
	opt.Record = false
	if r.Reactive, _, err = Run(tr, Reactive(set, g.CapacityPerInstance), g, opt); err != nil {
		return r, nil, err
	}
	r.Oracle, err = Oracle(tr, g)
	return r, series, err
}

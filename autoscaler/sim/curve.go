package sim

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// CurvePoint is one reactive run of a sweep: its target (a share of the
// capacity per instance) and its metrics.
type CurvePoint struct {
	Target float64 `json:"target"`
	Metrics
}

// Sweep runs the reactive baseline at each target (shares of the
// capacity per instance) and returns the trade-off curve, sorted by
// instance-hours. The runs are independent and go in parallel, one per
// CPU.
func Sweep(tr *Trace, g Group, targets []float64, opt Options) ([]CurvePoint, error) {
	opt.Record, opt.Progress = false, nil
	out := make([]CurvePoint, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, t := range targets {
		if !(t > 0) {
			return nil, fmt.Errorf("sweep target %g: must be positive", t)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, _, err := Run(tr, Reactive(t*g.CapacityPerInstance), g, opt)
			out[i], errs[i] = CurvePoint{Target: t, Metrics: m}, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].InstanceHours < out[j].InstanceHours })
	return out, nil
}

// EqualCost is the reactive curve read at a run's instance-hours.
type EqualCost struct {
	InstanceHours float64 `json:"instance_hours"`
	// Target is the reactive target (share of capacity per instance)
	// interpolated at InstanceHours.
	Target                 float64 `json:"target"`
	UnderProvisionedTime   float64 `json:"under_provisioned_time"`
	UnderProvisionedDemand float64 `json:"under_provisioned_demand"`
	// TauURatio and ThetaURatio are the run's τU and θU over the
	// curve's (NaN when the curve's is zero).
	TauURatio   float64 `json:"tau_u_ratio"`
	ThetaURatio float64 `json:"theta_u_ratio"`
	// Clamped says the run's instance-hours fall outside the curve
	// ("below": cheaper than every target swept, read at the cheapest
	// point, which costs more; "above": dearer than every target, read
	// at the dearest point); "" when interpolated.
	Clamped string `json:"clamped,omitempty"`
}

// AtEqualCost interpolates the curve's τU and θU linearly in
// instance-hours at m's instance-hours. Outside the curve it reads the
// nearest end and says so in Clamped, never extrapolating.
func AtEqualCost(curve []CurvePoint, m Metrics) EqualCost {
	ec := EqualCost{InstanceHours: m.InstanceHours}
	if len(curve) == 0 {
		return ec
	}
	ih := m.InstanceHours
	set := func(a, b CurvePoint, w float64) {
		ec.Target = a.Target + w*(b.Target-a.Target)
		ec.UnderProvisionedTime = a.UnderProvisionedTime + w*(b.UnderProvisionedTime-a.UnderProvisionedTime)
		ec.UnderProvisionedDemand = a.UnderProvisionedDemand + w*(b.UnderProvisionedDemand-a.UnderProvisionedDemand)
	}
	first, last := curve[0], curve[len(curve)-1]
	switch {
	case ih < first.InstanceHours:
		set(first, first, 0)
		ec.Clamped = "below"
	case ih > last.InstanceHours:
		set(last, last, 0)
		ec.Clamped = "above"
	default:
		for i := 1; i < len(curve); i++ {
			a, b := curve[i-1], curve[i]
			if ih <= b.InstanceHours {
				w := 0.0
				if b.InstanceHours > a.InstanceHours {
					w = (ih - a.InstanceHours) / (b.InstanceHours - a.InstanceHours)
				}
				set(a, b, w)
				break
			}
		}
		if len(curve) == 1 {
			set(first, first, 0)
		}
	}
	ec.TauURatio = ratio(m.UnderProvisionedTime, ec.UnderProvisionedTime)
	ec.ThetaURatio = ratio(m.UnderProvisionedDemand, ec.UnderProvisionedDemand)
	return ec
}

// ratio is a/b, with 0/0 = 0 (both perfect) and x/0 = +Inf.
func ratio(a, b float64) float64 {
	switch {
	case b > 0:
		return a / b
	case a == 0:
		return 0
	}
	return math.Inf(1)
}

package config

import (
	"fmt"

	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
)

// DefaultTargetRatio is the share of capacity_per_instance that policies
// aim at when their target is left out.
const DefaultTargetRatio = 0.7

// policyName is the name of the group's i-th policy: as written, or its
// type, suffixed with its index when the type repeats.
func policyName(g *Group, i int) string {
	p := &g.Policies[i]
	if p.Name != "" {
		return p.Name
	}
	n := 0
	for j := range g.Policies {
		if g.Policies[j].Type == p.Type {
			n++
		}
	}
	if n > 1 {
		return fmt.Sprintf("%s[%d]", p.Type, i)
	}
	return p.Type
}

// target returns a policy's target: as written (t > 0) or 70% of the
// group's capacity per instance.
func (g *Group) target(t float64) float64 {
	if t > 0 {
		return t
	}
	return DefaultTargetRatio * g.CapacityPerInstance
}

// PolicySet builds the decision core's policies of a validated group.
func (g *Group) PolicySet() scaling.Set {
	s := scaling.Set{Behavior: scaling.Behavior{
		ScaleInStabilization: g.Behavior.ScaleInStabilization,
		MaxScaleOutStep:      g.Behavior.MaxScaleOutStep,
		MaxScaleInStep:       g.Behavior.MaxScaleInStep,
	}}
	for i := range g.Policies {
		p := &g.Policies[i]
		if spec, err := specFor(policyKinds, p.Type, p.Spec); err == nil { // validated
			spec.add(&s, g, policyName(g, i))
		}
	}
	return s
}

func (p *TargetTrackingPolicy) add(s *scaling.Set, g *Group, name string) {
	s.TargetTracking = append(s.TargetTracking, scaling.TargetTracking{Name: name, Target: g.target(p.Target),
		DisableScaleIn: p.DisableScaleIn, ScaleOutDatapoints: p.ScaleOutDatapoints, ScaleInDatapoints: p.ScaleInDatapoints,
		ScaleInRatio: p.ScaleInRatio, Tolerance: p.Tolerance, Lookahead: p.Lookahead})
}

func (p *StepPolicy) add(s *scaling.Set, _ *Group, name string) {
	st := scaling.Step{Name: name, Threshold: p.Threshold, Comparison: scaling.Comparison(p.Comparison),
		DatapointsToAlarm: p.DatapointsToAlarm, EvaluationPeriods: p.EvaluationPeriods,
		AdjustmentType: scaling.AdjustmentType(p.AdjustmentType), MinAdjustmentMagnitude: p.MinAdjustmentMagnitude}
	for _, x := range p.Steps {
		st.Steps = append(st.Steps, scaling.StepAdjustment{Lower: x.Lower, Upper: x.Upper, Adjustment: x.Adjustment})
	}
	s.Step = append(s.Step, st)
}

func (p *PredictivePolicy) add(s *scaling.Set, g *Group, name string) {
	s.Predictive = append(s.Predictive, scaling.Predictive{Name: name, Target: g.target(p.Target),
		Mode: scaling.PredictiveMode(p.Mode), SchedulingBuffer: p.SchedulingBuffer,
		MaxCapacityBreach: scaling.BreachBehavior(p.MaxCapacityBreach), MaxCapacityBuffer: p.MaxCapacityBuffer,
		Forecaster: p.Forecaster, Refresh: p.Refresh, Resolution: p.Resolution, Aggregation: p.Aggregation, MaxForecastError: p.MaxForecastError,
		BufferQuantile: p.BufferQuantile, RequireSkill: p.RequireSkill, BufferMissCost: p.BufferMissCost,
		ColdStartTarget: p.ColdStartTarget, NoSkillTarget: p.NoSkillTarget})
}

func (p *ScheduledPolicy) add(s *scaling.Set, _ *Group, name string) {
	sc := scaling.Scheduled{Name: name}
	for j := range p.Actions {
		a, _ := p.Actions[j].resolve() // validated
		if a.Name == "" {
			a.Name = fmt.Sprintf("%s.actions[%d]", name, j)
		}
		sc.Actions = append(sc.Actions, a)
	}
	s.Scheduled = append(s.Scheduled, sc)
}

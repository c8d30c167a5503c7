package config

import (
	"fmt"
	"math"
	"net"
	"reflect"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/forecast"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

type validator struct{ errs yamlconf.Errors }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &yamlconf.Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be positive, got %s", d)
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.add(key, "must be one of %q, got %q", allowed, val)
}

func (c *Config) validate() yamlconf.Errors {
	var v validator
	v.positive("interval", c.Interval)
	if c.Admin.Enabled {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			v.add("admin.listen", "invalid address %q: %v", c.Admin.Listen, err)
		}
	}
	if spec, ok := specOf(leaseKinds, &v, "lease.type", c.Lease.Type, c.Lease.Spec); ok {
		c.Lease.Spec = spec
		spec.check(&v, "lease")
	}
	v.positive("lease.ttl", c.Lease.TTL)
	// A config built in Go may leave these blocks out, as it may the kinds'
	// configs: they get their defaults, as a file without them does.
	if reflect.ValueOf(c.Tracing).IsZero() {
		c.Tracing.SetDefaults()
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	for _, p := range telemetry.Check(&c.Tracing, c.Log.Level) {
		v.add(p.Key, "%s", p.Msg)
	}
	if len(c.Groups) == 0 {
		v.add("groups", "at least one group is required")
	}
	names := map[string]bool{}
	for i := range c.Groups {
		key := fmt.Sprintf("groups[%d]", i)
		g := &c.Groups[i]
		if g.Name == "" {
			v.add(key+".name", "required")
		} else if names[g.Name] {
			v.add(key+".name", "duplicate group %q", g.Name)
		}
		names[g.Name] = true
		v.group(key, g)
		v.cloudWatchPeriod(c.Interval, key, g)
	}
	return v.errs
}

// cloudWatchPeriod refuses an interval that polls a CloudWatch metric
// faster than (or out of step with) its datapoints: standard-resolution
// metrics have one per minute, so a 10s interval would read each one six
// times as if it were new load, and a 90s one would straddle periods.
func (v *validator) cloudWatchPeriod(interval time.Duration, key string, g *Group) {
	const period = time.Minute
	cw, ok := g.Metric.Spec.(*CloudWatchSource) // set by group, which runs first
	if !ok || interval <= 0 || interval%period == 0 {
		return
	}
	src := fmt.Sprintf("the cloudwatch metric %s of group %q (%s)", cw.MetricName, g.Name, key)
	if interval < period {
		v.add("interval", "%s polls %s faster than its 60s datapoint period; use a multiple of 60s", interval, src)
		return
	}
	v.add("interval", "%s is not a multiple of the 60s datapoint period of %s; use a multiple of 60s", interval, src)
}

func (v *validator) group(key string, g *Group) {
	if spec, ok := specOf(actuatorKinds, v, key+".actuator.type", g.Actuator.Type, g.Actuator.Spec); ok {
		g.Actuator.Spec = spec
		spec.check(v, key+".actuator")
	}
	if spec, ok := specOf(sourceKinds, v, key+".metric.source", g.Metric.Source, g.Metric.Spec); ok {
		g.Metric.Spec = spec
		spec.check(v, key+".metric")
	}
	if !(g.CapacityPerInstance > 0) || math.IsInf(g.CapacityPerInstance, 0) {
		v.add(key+".capacity_per_instance", "must be positive, got %g", g.CapacityPerInstance)
	}
	if g.Min < 0 {
		v.add(key+".min", "must not be negative, got %d", g.Min)
	}
	if g.Max < 1 {
		v.add(key+".max", "must be at least 1, got %d", g.Max)
	}
	if g.Min > g.Max {
		v.add(key+".min", "min %d is greater than max %d", g.Min, g.Max)
	}
	if g.Warmup < 0 {
		v.add(key+".warmup", "must not be negative, got %s", g.Warmup)
	}
	if g.Behavior.ScaleInStabilization < 0 {
		v.add(key+".behavior.scale_in_stabilization", "must not be negative")
	}
	if g.Behavior.MaxScaleOutStep < 0 {
		v.add(key+".behavior.max_scale_out_step", "must not be negative")
	}
	if g.Behavior.MaxScaleInStep < 0 {
		v.add(key+".behavior.max_scale_in_step", "must not be negative")
	}
	names := map[string]bool{}
	for i := range g.Policies {
		pk := fmt.Sprintf("%s.policies[%d]", key, i)
		p := &g.Policies[i]
		v.policy(pk, p)
		if n := policyName(g, i); names[n] {
			v.add(pk+".name", "duplicate policy name %q", n)
		} else {
			names[n] = true
		}
	}
}

func (v *validator) policy(key string, p *Policy) {
	if spec, ok := specOf(policyKinds, v, key+".type", p.Type, p.Spec); ok {
		p.Spec = spec
		spec.check(v, key)
	}
}

func (p *TargetTrackingPolicy) check(v *validator, key string) {
	v.nonNegative(key+".target", p.Target)
	if p.ScaleOutDatapoints < 1 || p.ScaleOutDatapoints > 32 {
		v.add(key+".scale_out_datapoints", "must be 1..32, got %d", p.ScaleOutDatapoints)
	}
	if p.ScaleInDatapoints < 1 || p.ScaleInDatapoints > 32 {
		v.add(key+".scale_in_datapoints", "must be 1..32, got %d", p.ScaleInDatapoints)
	}
	if !(p.ScaleInRatio > 0 && p.ScaleInRatio <= 1) {
		v.add(key+".scale_in_ratio", "must be in (0, 1], got %g", p.ScaleInRatio)
	}
	if !(p.Tolerance >= 0 && p.Tolerance < 1) {
		v.add(key+".tolerance", "must be in [0, 1), got %g", p.Tolerance)
	}
	if p.Lookahead < 0 || p.Lookahead > time.Hour {
		v.add(key+".lookahead", "must be 0..1h, got %s", p.Lookahead)
	}
}

func (p *StepPolicy) check(v *validator, key string) {
	v.oneOf(key+".comparison", p.Comparison, string(scaling.Greater), string(scaling.Less))
	v.oneOf(key+".adjustment_type", p.AdjustmentType, string(scaling.ChangeInCapacity), string(scaling.ExactCapacity), string(scaling.PercentChangeInCapacity))
	if p.EvaluationPeriods < 1 {
		v.add(key+".evaluation_periods", "must be at least 1, got %d", p.EvaluationPeriods)
	}
	if p.DatapointsToAlarm < 1 || p.DatapointsToAlarm > p.EvaluationPeriods {
		v.add(key+".datapoints_to_alarm", "must be 1..evaluation_periods (%d), got %d", p.EvaluationPeriods, p.DatapointsToAlarm)
	}
	if len(p.Steps) == 0 {
		v.add(key+".steps", "at least one step is required")
	}
	for i, s := range p.Steps {
		sk := fmt.Sprintf("%s.steps[%d]", key, i)
		if s.Lower != nil && s.Upper != nil && *s.Upper <= *s.Lower {
			v.add(sk+".upper", "must be above lower (%g), got %g", *s.Lower, *s.Upper)
		}
		if p.AdjustmentType == string(scaling.ExactCapacity) && s.Adjustment < 0 {
			v.add(sk+".adjustment", "an exact capacity must not be negative, got %g", s.Adjustment)
		}
	}
	for i := range p.Steps {
		for j := i + 1; j < len(p.Steps); j++ {
			if overlap(p.Steps[i], p.Steps[j]) {
				v.add(fmt.Sprintf("%s.steps[%d]", key, j), "overlaps steps[%d]", i)
			}
		}
	}
	if p.MinAdjustmentMagnitude < 0 {
		v.add(key+".min_adjustment_magnitude", "must not be negative")
	}
}

func (p *PredictivePolicy) check(v *validator, key string) {
	v.nonNegative(key+".target", p.Target)
	v.oneOf(key+".mode", p.Mode, string(scaling.ForecastAndScale), string(scaling.ForecastOnly))
	v.oneOf(key+".max_capacity_breach", p.MaxCapacityBreach, string(scaling.HonorMaxCapacity), string(scaling.IncreaseMaxCapacity))
	v.oneOf(key+".forecaster", p.Forecaster, forecast.NameAuto, forecast.NameSeasonalNaiveDay, forecast.NameSeasonalNaiveWeek, forecast.NameHoltWinters)
	v.oneOf(key+".aggregation", p.Aggregation, "mean", "max")
	if p.SchedulingBuffer < 0 || p.SchedulingBuffer > time.Hour {
		v.add(key+".scheduling_buffer", "must be 0..1h, got %s", p.SchedulingBuffer)
	}
	if p.MaxCapacityBuffer < 0 || p.MaxCapacityBuffer > 100 {
		v.add(key+".max_capacity_buffer", "must be 0..100 (percent), got %g", p.MaxCapacityBuffer)
	}
	v.positive(key+".refresh", p.Refresh)
	if !(p.MaxForecastError >= 0) {
		v.add(key+".max_forecast_error", "must not be negative, got %g", p.MaxForecastError)
	}
	if !(p.BufferQuantile == 0 || (p.BufferQuantile >= 0.5 && p.BufferQuantile < 1)) {
		v.add(key+".buffer_quantile", "must be 0 (off) or in [0.5, 1), got %g", p.BufferQuantile)
	}
	v.nonNegative(key+".buffer_miss_cost", p.BufferMissCost)
	if p.BufferMissCost > 0 && p.BufferQuantile == 0 {
		// The priced buffer chooses among quantiles of the backtest that
		// buffer_quantile turns on; alone it would silently do nothing.
		v.add(key+".buffer_miss_cost", "needs buffer_quantile (the priced buffer replaces its fixed coverage)")
	}
	v.nonNegative(key+".cold_start_target", p.ColdStartTarget)
	v.nonNegative(key+".no_skill_target", p.NoSkillTarget)
	if p.NoSkillTarget > 0 && !p.RequireSkill {
		v.add(key+".no_skill_target", "needs require_skill: true (it replaces the abstention without skill)")
	}
	if p.Resolution <= 0 || (24*time.Hour)%p.Resolution != 0 {
		v.add(key+".resolution", "must divide a day evenly, got %s", p.Resolution)
	}
}

func (p *ScheduledPolicy) check(v *validator, key string) {
	if len(p.Actions) == 0 {
		v.add(key+".actions", "at least one action is required")
	}
	for i := range p.Actions {
		v.action(fmt.Sprintf("%s.actions[%d]", key, i), &p.Actions[i])
	}
}

func overlap(a, b Step) bool {
	lo := func(s Step) float64 {
		if s.Lower == nil {
			return math.Inf(-1)
		}
		return *s.Lower
	}
	hi := func(s Step) float64 {
		if s.Upper == nil {
			return math.Inf(1)
		}
		return *s.Upper
	}
	return lo(a) < hi(b) && lo(b) < hi(a)
}

func (v *validator) nonNegative(key string, x float64) {
	if !(x >= 0) || math.IsInf(x, 0) {
		v.add(key, "must be a non-negative number, got %g", x)
	}
}

func (v *validator) action(key string, a *Action) {
	if _, err := a.resolve(); err != nil {
		for _, e := range err.(yamlconf.Errors) {
			e.Key = key + "." + e.Key
			v.errs = append(v.errs, e)
		}
	}
}

// resolve builds the policy action; errors carry keys relative to the
// action.
func (a *Action) resolve() (scaling.Action, error) {
	var v validator
	out := scaling.Action{Name: a.Name, Min: a.Min, Max: a.Max, Desired: a.Desired}
	switch {
	case a.Cron == "" && a.At == "":
		v.add("cron", "one of cron and at is required")
	case a.Cron != "" && a.At != "":
		v.add("at", "cron and at are exclusive")
	case a.Cron != "":
		c, err := scaling.ParseCron(a.Cron)
		if err != nil {
			v.add("cron", "%v", err)
		}
		out.Cron = c
	}
	out.Location = time.UTC
	if a.TimeZone != "" {
		loc, err := time.LoadLocation(a.TimeZone)
		if err != nil || a.TimeZone == "Local" {
			v.add("time_zone", "unknown IANA time zone %q", a.TimeZone)
		} else {
			out.Location = loc
		}
	}
	parse := func(k, s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			v.add(k, "invalid RFC 3339 time %q", s)
		}
		return t
	}
	out.Start, out.End, out.At = parse("start", a.Start), parse("end", a.End), parse("at", a.At)
	if !out.Start.IsZero() && !out.End.IsZero() && !out.End.After(out.Start) {
		v.add("end", "must be after start")
	}
	if a.Min == nil && a.Max == nil && a.Desired == nil {
		v.add("min", "an action sets at least one of min, max and desired")
	}
	for _, f := range []struct {
		k string
		p *int
	}{{"min", a.Min}, {"max", a.Max}, {"desired", a.Desired}} {
		if f.p != nil && *f.p < 0 {
			v.add(f.k, "must not be negative, got %d", *f.p)
		}
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		v.add("min", "min %d is greater than max %d", *a.Min, *a.Max)
	}
	if a.Desired != nil && ((a.Min != nil && *a.Desired < *a.Min) || (a.Max != nil && *a.Desired > *a.Max)) {
		v.add("desired", "must be within the action's min and max")
	}
	if len(v.errs) > 0 {
		return out, v.errs
	}
	return out, nil
}

package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
)

// Explanation is what the decision core would do for a group now, without
// acting and without changing any state, laid out as `kubectl describe
// hpa` lays out an HPA: the load with its unit, the load per instance
// against each policy's target, conditions and recent events. Its JSON
// keys are lower-case snake_case throughout.
type Explanation struct {
	Round
	Samples int `json:"samples"`
	// Unit is what the load counts ("" when the source does not say).
	Unit string `json:"unit"`
	// LoadPerInstance is the newest load over the in-service instances
	// (absent without a load or with none in service).
	LoadPerInstance *float64      `json:"load_per_instance,omitempty"`
	Policies        []PolicyState `json:"policies"`
	Conditions      []Condition   `json:"conditions"`
	Events          []Event       `json:"events"`
}

// PolicyState is one policy's target and whether it has the datapoints it
// needs: State is OK or INSUFFICIENT_DATA (as a CloudWatch alarm says).
type PolicyState struct {
	Policy string `json:"policy"`
	Type   string `json:"type"`
	// Target is the load per instance the policy aims at (a step policy's
	// alarm threshold); absent for scheduled actions.
	Target *float64 `json:"target,omitempty"`
	// Needed is the datapoints the policy needs to act (0: none).
	Needed int    `json:"needed_datapoints"`
	State  string `json:"state"`
}

// Condition is one of AbleToScale, ScalingActive and ScalingLimited, as
// the Kubernetes HPA reports them.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"` // True | False
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event is a recent scaling event: a persisted decision that changed the
// capacity or could not read the load, a scheduled action that fired, or
// a failure of this explanation's own reads.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // Normal | Warning
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// Explanation states.
const (
	StateOK               = "OK"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// maxEvents bounds the events an explanation lists, newest last.
const maxEvents = 10

// Explain fetches the load once (twice, scrapeWindow apart, for a
// scraping source, whose rate needs two scrapes), reads the group and
// evaluates its policies on a copy of the persisted state. A failed read
// is reported in the conditions, not as an error: an operator asks
// "why" most when something is failing.
func (d *Daemon) Explain(ctx context.Context, name string, scrapeWindow time.Duration) (Explanation, error) {
	g, ok := d.byName[name]
	if !ok {
		return Explanation{}, fmt.Errorf("unknown group %q", name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Work on copies: explain must not change what the daemon persisted.
	saved := append(g.history[:0:0], g.history...)
	defer func() { g.history = saved }()
	var core scaling.State
	if b, err := json.Marshal(&g.core); err == nil {
		json.Unmarshal(b, &core) //nolint:errcheck // round trip of our own value
	}

	r := Round{Time: d.opt.Clock.Now()}
	if !g.Range && scrapeWindow > 0 {
		if _, err := g.Source.Query(ctx, autoscaler.Query{Group: g.Name, Metric: g.Metric, From: r.Time, To: r.Time, Step: d.opt.Interval}); err != nil {
			r.SourceError = err.Error()
		}
		if err := sleep(ctx, d, scrapeWindow); err != nil {
			return Explanation{}, err
		}
		r.Time = d.opt.Clock.Now()
	}
	if r.SourceError == "" {
		if s, err := d.fetch(ctx, g, r.Time); err != nil {
			r.SourceError = err.Error()
		} else {
			r.Load = s
		}
	}
	e := Explanation{Samples: len(g.history), Unit: g.Unit}
	st, err := g.Actuator.Describe(ctx, g.Name)
	if err != nil {
		r.ActError = fmt.Sprintf("describe group %q: %v", g.Name, err)
		// Without the group there is nothing to evaluate against.
		e.Round = r
		e.Policies = policyStates(g.Policies, len(g.history), d.opt.Interval)
		e.Conditions = e.conditions(g, nil)
		e.Events = events(g, r, d.opt.Clock.Now())
		return e, nil
	}
	r.Group = GroupInputs{Desired: st.Desired, InService: st.InService, Warming: st.Warming, Min: st.Min, Max: st.Max}
	in := st
	in.Min, in.Max = g.Min, g.Max
	res := g.Policies.Evaluate(r.Time, scaling.Input{Group: in, Interval: d.opt.Interval, History: g.history}, &core)
	r.Decision, r.Min, r.Max = res.Decision, res.Min, res.Max
	e.Round = r
	if r.Load != nil && st.InService > 0 {
		v := r.Load.Value / float64(st.InService)
		e.LoadPerInstance = &v
	}
	e.Policies = policyStates(g.Policies, len(g.history), d.opt.Interval)
	e.Conditions = e.conditions(g, &res)
	e.Events = events(g, r, d.opt.Clock.Now())
	return e, nil
}

func sleep(ctx context.Context, d *Daemon, dur time.Duration) error {
	done := make(chan struct{})
	t := d.opt.Clock.AfterFunc(dur, func() { close(done) })
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// policyStates lists each policy's target and whether the history holds
// the datapoints it needs: target tracking its scale-out alarm's, a step
// policy its evaluation periods, a predictive policy a day.
func policyStates(s scaling.Set, samples int, interval time.Duration) []PolicyState {
	var out []PolicyState
	add := func(name, typ string, target *float64, needed int) {
		state := StateOK
		if samples < needed {
			state = StateInsufficientData
		}
		out = append(out, PolicyState{Policy: name, Type: typ, Target: target, Needed: needed, State: state})
	}
	for i := range s.TargetTracking {
		p := &s.TargetTracking[i]
		add(p.Name, "target_tracking", &p.Target, p.ScaleOutDatapoints)
	}
	for i := range s.Step {
		p := &s.Step[i]
		add(p.Name, "step", &p.Threshold, max(p.EvaluationPeriods, 1))
	}
	for i := range s.Predictive {
		p := &s.Predictive[i]
		add(p.Name, "predictive", &p.Target, int(scaling.MinHistory/max(interval, time.Second)))
	}
	for i := range s.Scheduled {
		add(s.Scheduled[i].Name, "scheduled", nil, 0)
	}
	return out
}

// conditions derives the HPA's three conditions; res is nil when the
// group could not be read.
func (e *Explanation) conditions(g *group, res *scaling.Result) []Condition {
	able := Condition{Type: "AbleToScale", Status: "True", Reason: "SucceededGetScale",
		Message: fmt.Sprintf("the actuator reports desired %d, %d in service, %d warming, bounds [%d, %d]",
			e.Group.Desired, e.Group.InService, e.Group.Warming, e.Group.Min, e.Group.Max)}
	switch {
	case res == nil:
		able.Status, able.Reason, able.Message = "False", "FailedGetScale", e.ActError
	case strings.Contains(res.Reason, "stabilized"):
		able.Reason = "ScaleDownStabilized"
		able.Message = "recent recommendations were higher than the current one; scale-in waits out the stabilization window"
	}

	active := Condition{Type: "ScalingActive", Status: "True", Reason: "ValidMetricFound"}
	var short, ok []string
	for _, p := range e.Policies {
		if p.Needed == 0 {
			continue
		}
		if p.State == StateInsufficientData {
			short = append(short, fmt.Sprintf("%s needs %d", p.Policy, p.Needed))
		} else {
			ok = append(ok, p.Policy)
		}
	}
	switch {
	case e.SourceError != "":
		active.Status, active.Reason = "False", "FailedGetMetric"
		active.Message = "the metric source failed: " + e.SourceError
	case len(short) > 0 && len(ok) == 0:
		active.Status, active.Reason = "False", StateInsufficientData
		active.Message = fmt.Sprintf("%d datapoints in history; %s", e.Samples, strings.Join(short, ", "))
	default:
		active.Message = "the load is " + e.loadText()
		if e.LoadPerInstance != nil {
			active.Message += fmt.Sprintf(", %.4g per instance", *e.LoadPerInstance)
		}
		if len(short) > 0 {
			active.Message += fmt.Sprintf("; %s: %d datapoints in history, %s", StateInsufficientData, e.Samples, strings.Join(short, ", "))
		}
	}

	limited := Condition{Type: "ScalingLimited", Status: "False", Reason: "DesiredWithinRange",
		Message: "the desired count is within the acceptable range"}
	if res != nil {
		want, found := 0, false
		for _, p := range res.Proposals {
			if !p.Abstain && (!found || p.Capacity > want) {
				want, found = p.Capacity, true
			}
		}
		// A bound that differs from the configured one was set by a
		// scheduled action (min), or by a schedule or a forecast allowed
		// to exceed max (max).
		kind := func(v, configured int, other string) string {
			if v != configured {
				return other
			}
			return "configured"
		}
		switch {
		case !found:
		case want < res.Min:
			limited = Condition{Type: "ScalingLimited", Status: "True", Reason: "TooFewReplicas",
				Message: fmt.Sprintf("desired %d raised to the %s minimum %d", want, kind(res.Min, g.Min, "scheduled"), res.Min)}
		case want > res.Max:
			limited = Condition{Type: "ScalingLimited", Status: "True", Reason: "TooManyReplicas",
				Message: fmt.Sprintf("desired %d capped at the %s maximum %d", want, kind(res.Max, g.Max, "scheduled or forecast"), res.Max)}
		}
	}
	return []Condition{able, active, limited}
}

// events merges the group's persisted decisions that changed the capacity
// or lacked a datapoint, the scheduled actions' latest firings and this
// explanation's own failures; the newest maxEvents, oldest first.
func events(g *group, r Round, now time.Time) []Event {
	var out []Event
	for _, dec := range g.decisions {
		switch {
		case strings.HasPrefix(dec.Reason, "metric source failed"):
			out = append(out, Event{dec.Time, "Warning", "FailedGetMetric", dec.Reason})
		case dec.Desired > dec.Current:
			out = append(out, Event{dec.Time, "Normal", "ScaledOut", fmt.Sprintf("new size %d (was %d): %s", dec.Desired, dec.Current, dec.Reason)})
		case dec.Desired < dec.Current:
			out = append(out, Event{dec.Time, "Normal", "ScaledIn", fmt.Sprintf("new size %d (was %d): %s", dec.Desired, dec.Current, dec.Reason)})
		}
	}
	for i := range g.Policies.Scheduled {
		p := &g.Policies.Scheduled[i]
		for j := range p.Actions {
			a := &p.Actions[j]
			if t, ok := a.LastFiring(now); ok {
				out = append(out, Event{t, "Normal", "ScheduledAction", fmt.Sprintf("%s: action %q set %s", p.Name, a.Name, actionText(a))})
			}
		}
	}
	if r.SourceError != "" {
		out = append(out, Event{now, "Warning", "FailedGetMetric", r.SourceError})
	}
	if r.ActError != "" {
		out = append(out, Event{now, "Warning", "FailedGetScale", r.ActError})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	if out == nil {
		out = []Event{} // "events": [] rather than null
	}
	return out
}

func actionText(a *scaling.Action) string {
	var parts []string
	for _, f := range []struct {
		name string
		v    *int
	}{{"min", a.Min}, {"max", a.Max}, {"desired", a.Desired}} {
		if f.v != nil {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, *f.v))
		}
	}
	return strings.Join(parts, ", ")
}

// loadText is the newest load with its unit and time.
func (e *Explanation) loadText() string {
	if e.Load == nil {
		return "<unknown>"
	}
	unit := e.Unit
	if unit == "" {
		unit = "(the source's unit)"
	}
	return fmt.Sprintf("%.4g %s at %s", e.Load.Value, unit, e.Load.Time.UTC().Format(time.RFC3339))
}

// WriteText prints an explanation the way `kubectl describe hpa` prints an
// HPA.
func (e Explanation) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", e.Decision.Group)
	fmt.Fprintf(tw, "Time:\t%s\n", e.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "Load:\t%s (%d datapoints in history)\n", e.loadText(), e.Samples)
	per := "<unknown>"
	if e.LoadPerInstance != nil {
		per = fmt.Sprintf("%.4g (%d in service)", *e.LoadPerInstance, e.Group.InService)
	}
	var targets []string
	for _, p := range e.Policies {
		if p.Target != nil {
			targets = append(targets, fmt.Sprintf("%.4g (%s)", *p.Target, p.Policy))
		}
	}
	if len(targets) == 0 {
		targets = []string{"none"}
	}
	fmt.Fprintf(tw, "Load per instance:\t%s / target %s\n", per, strings.Join(targets, ", "))
	fmt.Fprintf(tw, "Min replicas:\t%d\n", e.Min)
	fmt.Fprintf(tw, "Max replicas:\t%d\n", e.Max)
	fmt.Fprintf(tw, "Replicas:\t%d current / %d desired (%d in service, %d warming)\n",
		e.Group.Desired, e.Decision.Desired, e.Group.InService, e.Group.Warming)
	fmt.Fprintln(tw, "Conditions:")
	fmt.Fprintln(tw, "  Type\tStatus\tReason\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t------\t-------")
	for _, c := range e.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	fmt.Fprintln(tw, "Policies:")
	fmt.Fprintln(tw, "  POLICY\tSTATE\tPROPOSES\tSCALE-IN\tWHY")
	byName := map[string]autoscaler.Proposal{}
	for _, p := range e.Decision.Proposals {
		byName[p.Policy] = p
	}
	for _, ps := range e.Policies {
		p, ok := byName[ps.Policy]
		c, si, why := "-", "no", strings.ReplaceAll(p.Reason, "\n", " ")
		if ok && !p.Abstain {
			c = fmt.Sprint(p.Capacity)
		}
		if p.ScaleIn {
			si = "yes"
		}
		if !ok {
			why = "not evaluated"
		}
		state := ps.State
		if ps.State == StateInsufficientData {
			state = fmt.Sprintf("%s (%d/%d)", ps.State, e.Samples, ps.Needed)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", ps.Policy, state, c, si, why)
	}
	if e.Decision.Reason != "" {
		fmt.Fprintf(tw, "Decision:\t%d -> %d: %s\n", e.Decision.Current, e.Decision.Desired, e.Decision.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Events get their own tabwriter: their messages are long and must not
	// widen the columns above.
	fmt.Fprintln(w, "Events:")
	if len(e.Events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t---\t-------")
	for _, ev := range e.Events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ev.Type, ev.Reason, age(e.Time.Sub(ev.Time)), ev.Message)
	}
	return tw.Flush()
}

// age prints a duration as kubectl does: the largest unit or two.
func age(d time.Duration) string {
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

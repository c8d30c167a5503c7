package scaling

import (
	"sort"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Scheduled is a set of AWS-style scheduled actions. An action fires at
// the times of its cron expression (in its time zone, between Start and
// End when set), or once At a time, and sets the group's min, max and/or
// desired capacity. Min and max stay set until another action changes
// them: the effective bounds are the configured ones overridden by every
// fired action in firing order (ties in configuration order). Desired is
// proposed during the decision interval in which the action fires, then
// the other policies take over, as in AWS.
type Scheduled struct {
	Name    string
	Actions []Action
}

// Action is one scheduled action. Exactly one of Cron and At is set.
type Action struct {
	Name     string
	Cron     *Cron
	Location *time.Location // for Cron; nil means UTC
	Start    time.Time      // zero: no start
	End      time.Time      // zero: no end
	At       time.Time      // one-off
	Min      *int
	Max      *int
	Desired  *int
}

// LastFiring returns when the action last fired at or before now.
func (a *Action) LastFiring(now time.Time) (time.Time, bool) {
	if a.Cron == nil {
		if a.At.IsZero() || a.At.After(now) {
			return time.Time{}, false
		}
		return a.At, true
	}
	if !a.Start.IsZero() && now.Before(a.Start) {
		return time.Time{}, false
	}
	t := now
	if !a.End.IsZero() && a.End.Before(t) {
		t = a.End
	}
	loc := a.Location
	if loc == nil {
		loc = time.UTC
	}
	f, ok := a.Cron.Prev(t, loc)
	if !ok || (!a.Start.IsZero() && f.Before(a.Start)) {
		return time.Time{}, false
	}
	return f, true
}

type firing struct {
	at    time.Time
	order int
	a     *Action
}

// apply returns the bounds after the fired actions, and the proposal of
// the latest action setting desired if it fired within the last interval.
func (p *Scheduled) apply(now time.Time, in *Input, lo, hi int, interval time.Duration) (int, int, autoscaler.Proposal) {
	var fired []firing
	for i := range p.Actions {
		if t, ok := p.Actions[i].LastFiring(now); ok {
			fired = append(fired, firing{t, i, &p.Actions[i]})
		}
	}
	sort.SliceStable(fired, func(i, j int) bool { return fired[i].at.Before(fired[j].at) })
	out := autoscaler.Proposal{Policy: p.Name, Abstain: true, ScaleIn: true}
	var desired *firing
	for i := range fired {
		f := &fired[i]
		if f.a.Min != nil {
			lo = *f.a.Min
		}
		if f.a.Max != nil {
			hi = *f.a.Max
		}
		if f.a.Desired != nil {
			desired = f
		}
	}
	if desired != nil && now.Sub(desired.at) < interval {
		out.Abstain = false
		out.Capacity = *desired.a.Desired
		out.Reason = reasonf(in, "action %q fired at %s: desired %d", desired.a.Name, desired.at.Format(time.RFC3339), out.Capacity)
	} else if len(fired) > 0 {
		f := fired[len(fired)-1]
		out.Reason = reasonf(in, "latest action %q fired at %s; bounds [%d, %d]", f.a.Name, f.at.Format(time.RFC3339), lo, hi)
	} else {
		out.Reason = reasonf(in, "no action has fired")
	}
	return lo, hi, out
}

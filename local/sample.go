package local

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/daemon"
	"github.com/drawbridge-dev/drawbridge/clock"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/forecast"
	"github.com/drawbridge-dev/drawbridge/dashboard"
)

// maxPoints bounds the series the dashboard charts (ten minutes).
const maxPoints = 600

// sample runs once a second until ctx ends: it replaces backends that
// exited, collects the autoscaler's decisions and records a point of the
// series.
func (s *Stack) sample(ctx context.Context) {
	clock.Every(ctx, clock.Real{}, time.Second, func(now time.Time) { s.tick(ctx, now) })
}

func (s *Stack) tick(ctx context.Context, now time.Time) {
	st, err := s.act.Describe(ctx, Group)
	if err == nil && st.InService+st.Warming < st.Desired && ctx.Err() == nil {
		// A backend exited (killed by hand, crashed): the daemon only acts
		// when the desired capacity changes, so replace it here, as an
		// Auto Scaling group replaces an unhealthy instance.
		n := st.InService + st.Warming
		if err := s.act.SetDesired(ctx, Group, st.Desired, "replace a backend that exited"); err == nil {
			s.mu.Lock()
			s.replaced += st.Desired - n
			s.decisions = append(s.decisions, dashboard.Decision{Time: now, Group: Group, From: n, To: st.Desired,
				Direction: "replace", Policy: "health", Reason: fmt.Sprintf("%d backend(s) exited; started replacements", st.Desired-n)})
			s.mu.Unlock()
		}
	}
	gs := s.gw.Status()
	total := s.lg.requests.Load()
	p99 := s.lg.takeWindow()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.capacity = st.Desired
		s.peak = max(s.peak, st.Desired)
	}
	if s.d != nil {
		s.collectDecisionsLocked(s.d.Status().Groups)
	}
	if n := len(s.decisions); n > 200 {
		s.decisions = append(s.decisions[:0], s.decisions[n-200:]...)
	}
	if dt := now.Sub(s.prevAt).Seconds(); !s.prevAt.IsZero() && dt > 0 {
		s.rps = float64(total-s.prevTotal) / dt
		for _, p := range gs.Pools {
			for _, b := range p.Backends {
				if prev, ok := s.prevReqs[b.ID]; ok && b.Requests >= prev {
					s.backendRPS[b.ID] = float64(b.Requests-prev) / dt
				}
			}
		}
	}
	s.prevAt, s.prevTotal, s.p99 = now, total, p99.Seconds()*1000
	clear(s.prevReqs)
	for _, p := range gs.Pools {
		for _, b := range p.Backends {
			s.prevReqs[b.ID] = b.Requests
		}
	}
	inSvc := st.InService
	s.series = append(s.series, dashboard.Point{T: now.UnixMilli(), Demand: round1(s.demand(now.Sub(s.loadStart))),
		Load: round1(s.rps), Capacity: float64(inSvc) * s.opt.Target, Instances: inSvc})
	if n := len(s.series); n > maxPoints {
		s.series = append(s.series[:0], s.series[n-maxPoints:]...)
	}
}

// collectDecisionsLocked takes the daemon's decisions newer than the last
// one taken. State calls it too, so the live line's "last" decision is as
// current as its capacity, which it reads from the daemon at the same time.
func (s *Stack) collectDecisionsLocked(groups []daemon.GroupStatus) {
	for _, g := range groups {
		for _, d := range g.RecentDecisions {
			if !d.Time.After(s.lastDecision) {
				continue
			}
			s.lastDecision = d.Time
			if d.Desired == d.Current {
				continue
			}
			pol, why := carrier(d.Proposals, d.Desired)
			dir := "out"
			if d.Desired < d.Current {
				dir = "in"
				s.ins++
			} else {
				s.outs++
			}
			s.acted[pol] = true
			s.peak = max(s.peak, d.Desired)
			s.decisions = append(s.decisions, dashboard.Decision{Time: d.Time, Group: d.Group, From: d.Current, To: d.Desired,
				Direction: dir, Policy: pol, Reason: joinReasons(why, d.Reason)})
		}
	}
}

// carrier names the policy that carried a decision, with its reason: the
// first non-abstaining proposal at the decided capacity, or else the only
// policy with an opinion (its proposal was moderated by the scale-in
// stabilization window or a step limit).
func carrier(props []autoscaler.Proposal, desired int) (policy, reason string) {
	var voting []autoscaler.Proposal
	for _, p := range props {
		if p.Abstain {
			continue
		}
		if p.Capacity == desired {
			return p.Policy, p.Reason
		}
		voting = append(voting, p)
	}
	if len(voting) == 1 {
		return voting[0].Policy + " (stabilized)", voting[0].Reason
	}
	return "combined", ""
}

func joinReasons(policy, combined string) string {
	if policy == "" {
		return combined
	}
	return policy + " — " + combined
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// State is the dashboard's snapshot.
func (s *Stack) State() dashboard.State {
	s.mu.Lock()
	gw, urls := s.gw, s.urls
	s.mu.Unlock()
	st := dashboard.State{Mode: "local", Time: time.Now(), Started: s.started, URLs: urls, Routes: []dashboard.Route{},
		Pools: []dashboard.Pool{}, Groups: []dashboard.Group{}, Series: []dashboard.Point{}, Forecast: []dashboard.Forecast{}, Decisions: []dashboard.Decision{}}
	var gs []dashboard.Pool
	if gw != nil {
		// The gateway's own view: pools with drain state, per-route
		// traffic and the reload status, as in every other mode.
		gs, st.Routes, st.Reload = gw.DashboardPools(), gw.DashboardRoutes(), new(gw.ReloadStatus())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var groups []daemon.GroupStatus
	if s.d != nil {
		// One snapshot for both the decisions and the capacity, so the
		// line never shows a capacity newer than its last decision.
		groups = s.d.Status().Groups
		s.collectDecisionsLocked(groups)
	}
	for i := range gs {
		for j := range gs[i].Backends {
			gs[i].Backends[j].RPS = round1(s.backendRPS[gs[i].Backends[j].ID])
		}
		st.Pools = append(st.Pools, gs[i])
	}
	st.Load = s.loadLocked()
	for _, g := range groups {
		dg := dashboard.Group{Name: g.Name, Min: s.opt.Min, Max: s.opt.Max, Current: s.capacity, Desired: s.capacity,
			TargetPerInstance: s.opt.Target, Policies: []string{"target_tracking"}}
		if r := g.LastRound; r != nil {
			dg.Current, dg.Desired = r.Decision.Current, r.Decision.Desired
			dg.InService, dg.Warming = r.Group.InService, r.Group.Warming
		}
		for i := len(s.decisions) - 1; i >= 0; i-- {
			if s.decisions[i].Group == g.Name {
				d := s.decisions[i]
				dg.LastDecision = &d
				break
			}
		}
		st.Groups = append(st.Groups, dg)
	}
	st.Series = append(st.Series, s.series...)
	st.Forecast = s.forecastLocked()
	for i := len(s.decisions) - 1; i >= 0 && len(st.Decisions) < 50; i-- {
		st.Decisions = append(st.Decisions, s.decisions[i]) // newest first
	}
	return st
}

func (s *Stack) loadLocked() dashboard.Load {
	l := dashboard.Load{Pattern: s.opt.Pattern.Name, Speed: s.opt.Speed, RPS: round1(s.rps), P99MS: math.Round(s.p99*100) / 100}
	if s.lg != nil {
		l.Requests, l.Errors = s.lg.requests.Load(), s.lg.errors.Load()
		s.lg.mu.Lock()
		l.LastError = s.lg.lastError
		s.lg.mu.Unlock()
	}
	if n := len(s.series); n > 0 {
		l.TargetRPS = s.series[n-1].Demand
	}
	return l
}

// season is one replayed day in real seconds, the forecast's season; 0
// when a day is too long to chart.
func (s *Stack) season() int {
	n := int(math.Round(86400 / s.opt.Speed))
	if n < 4 || n > maxPoints/2 {
		return 0
	}
	return n
}

// forecastLocked is a seasonal-naive forecast of the served load (each
// second as the same second one replayed day earlier), over the past, to
// compare with what happened, and up to half a day ahead. It is for the
// dashboard only: the autoscaler's predictive policy forecasts in wall
// clock time and needs 24 h of history, which a demo does not have.
func (s *Stack) forecastLocked() []dashboard.Forecast {
	season := s.season()
	n := len(s.series)
	out := []dashboard.Forecast{}
	if season == 0 || n <= season {
		return out
	}
	for i := season; i < n; i++ {
		out = append(out, dashboard.Forecast{T: s.series[i].T, Value: s.series[i-season].Load})
	}
	hist := make([]float64, n)
	for i, p := range s.series {
		hist[i] = p.Load
	}
	last := s.series[n-1].T
	for h, v := range (forecast.SeasonalNaive{Season: season}).Forecast(hist, season/2) {
		out = append(out, dashboard.Forecast{T: last + int64(h+1)*1000, Value: v})
	}
	return out
}

// Line is the terminal's one-line live summary.
func (s *Stack) Line() string {
	st := s.State()
	var b strings.Builder
	fmt.Fprintf(&b, "%5.0fs", time.Since(s.started).Seconds())
	for _, p := range st.Pools {
		healthy := 0
		for _, be := range p.Backends {
			if be.Available {
				healthy++
			}
		}
		fmt.Fprintf(&b, "  pool %s: %d/%d healthy", p.Name, healthy, len(p.Backends))
	}
	fmt.Fprintf(&b, "  %4.0f req/s (demand %3.0f)  p99 %5.1fms  errors %d", st.Load.RPS, st.Load.TargetRPS, st.Load.P99MS, st.Load.Errors)
	for _, g := range st.Groups {
		fmt.Fprintf(&b, "  capacity %d", g.Desired)
		if d := g.LastDecision; d != nil {
			fmt.Fprintf(&b, "  last: %s %d→%d by %s %.0fs ago", d.Direction, d.From, d.To, d.Policy, time.Since(d.Time).Seconds())
		}
	}
	return b.String()
}

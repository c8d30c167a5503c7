// Package daemon is the autoscaler's controller: per group and per
// interval it fetches the load from a metric source, reads the group from
// its actuator, asks the decision core (autoscaler/scaling) for the desired
// capacity, applies it when this replica holds the lease, logs the
// decision with its explanation and persists what a restart must not lose.
// An admin handler serves /metrics, /healthz and /status.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/actuator"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/autoscaler/store"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// Group is one scalable group as the daemon runs it.
type Group struct {
	Name string
	// Min and Max are the configured bounds (scheduled actions override
	// them); the actuator's own bounds (an ASG's) clip on top.
	Min, Max int
	Policies scaling.Set
	Source   autoscaler.MetricSource
	// Metric is passed as Query.Metric (a pool, a PromQL expression...).
	Metric string
	// Unit names what the load counts ("requests/s"), for explain; empty
	// when the source does not say (a PromQL expression).
	Unit string
	// Range reports whether Source answers time ranges (Prometheus,
	// CloudWatch): the daemon then backfills history after a gap. A
	// scraping source (the gateway) yields one sample per query.
	Range    bool
	Actuator autoscaler.Actuator
	// Warmup: instances that entered service within it still count as
	// warming (toward desired, not toward the metric).
	Warmup time.Duration
}

// Options configure a Daemon. Groups, Interval and Clock are required.
type Options struct {
	Groups   []Group
	Interval time.Duration
	Clock    clock.Clock
	Log      *slog.Logger
	// Store persists state; nil keeps it in memory only.
	Store *store.Dir
	// Lease elects the acting replica; nil means this replica always acts.
	Lease    autoscaler.Lease
	Holder   string
	LeaseTTL time.Duration
	// Backfill bounds how much history a range source is asked for after
	// a gap or on first start (default 14 days, predictive's maximum).
	Backfill time.Duration
	// Registerer receives the daemon's metrics; nil makes a private registry.
	Registry *prometheus.Registry
	// Tracer, when set, records a span per decision round (trace.go).
	Tracer trace.Tracer
}

// Daemon runs the control loop.
type Daemon struct {
	opt     Options
	groups  []*group
	byName  map[string]*group
	metrics *daemonMetrics
	started time.Time

	held   atomic.Bool
	token  atomic.Uint64
	holder atomic.Pointer[string] // who holds the lease, as last seen
}

type group struct {
	Group

	// status is the group as /status shows it, published after each
	// round, so a round stuck in a slow AWS call does not block the admin
	// endpoints.
	status atomic.Pointer[GroupStatus]

	// mu serialises rounds (and explain) and guards the fields below.
	mu        sync.Mutex
	history   []autoscaler.Sample
	core      scaling.State
	decisions []autoscaler.Decision
	last      *Round
	lastRound time.Time
	warm      []warmEntry
	prevInSvc int
	seenInSvc bool
}

type warmEntry struct {
	at time.Time
	n  int
}

// Round is one group's round as /status and the decision log show it.
type Round struct {
	Time        time.Time           `json:"time"`
	Decision    autoscaler.Decision `json:"decision"`
	Min         int                 `json:"min"`
	Max         int                 `json:"max"`
	Group       GroupInputs         `json:"group"`
	Load        *autoscaler.Sample  `json:"load,omitempty"`
	Acted       bool                `json:"acted"`
	Standby     bool                `json:"standby"`
	SourceError string              `json:"source_error,omitempty"`
	ActError    string              `json:"actuator_error,omitempty"`
}

// GroupInputs are the group's state as the round saw it.
type GroupInputs struct {
	Desired   int `json:"desired"`
	InService int `json:"in_service"`
	Warming   int `json:"warming"`
	Min       int `json:"min"`
	Max       int `json:"max"`
}

// New restores each group's state from the store.
func New(opt Options) (*Daemon, error) {
	if opt.Interval <= 0 {
		return nil, errors.New("daemon: interval must be positive")
	}
	if opt.Clock == nil {
		return nil, errors.New("daemon: no clock")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Lease == nil {
		opt.Lease = lease.None{}
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 15 * time.Second
	}
	if opt.Backfill <= 0 {
		opt.Backfill = store.MaxHistory
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	d := &Daemon{opt: opt, byName: map[string]*group{}, started: opt.Clock.Now()}
	d.metrics = newMetrics(opt.Registry, d)
	for _, gc := range opt.Groups {
		if gc.Source == nil || gc.Actuator == nil {
			return nil, fmt.Errorf("daemon: group %q needs a source and an actuator", gc.Name)
		}
		if _, dup := d.byName[gc.Name]; dup {
			return nil, fmt.Errorf("daemon: duplicate group %q", gc.Name)
		}
		g := &group{Group: gc}
		if opt.Store != nil {
			st, err := opt.Store.Load(gc.Name)
			if err != nil {
				return nil, fmt.Errorf("daemon: restore group %q: %w", gc.Name, err)
			}
			g.history, g.decisions = st.History, st.Decisions
			if len(st.Core) > 0 {
				if err := json.Unmarshal(st.Core, &g.core); err != nil {
					return nil, fmt.Errorf("daemon: restore group %q: core state: %w", gc.Name, err)
				}
			}
			opt.Log.Info("restored state", "group", gc.Name, "samples", len(g.history), "decisions", len(g.decisions))
		}
		g.publish()
		d.groups = append(d.groups, g)
		d.byName[gc.Name] = g
	}
	return d, nil
}

// Run renews the lease and runs every group's loop until ctx ends, then
// releases the lease.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.renewLease(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Renew well within the TTL, independent of the decision interval
		// (a 60 s round would let a 15 s lease lapse between rounds).
		clock.Every(ctx, d.opt.Clock, d.opt.LeaseTTL/3, func(time.Time) { d.renewLease(ctx) })
	}()
	for _, g := range d.groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := d.opt.Clock.NewTicker(d.opt.Interval)
			defer t.Stop()
			// A first round at once: an operator starting the daemon (or a
			// replica taking over) should not wait a whole interval.
			d.round(ctx, g, d.opt.Clock.Now())
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C():
					d.round(ctx, g, now)
				}
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	d.held.Store(false)
	d.metrics.leaseHeld.Set(0)
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	return d.opt.Lease.Release(rctx, d.opt.Holder)
}

// RunOnce takes the lease once and runs one round per group.
func (d *Daemon) RunOnce(ctx context.Context) []Round {
	d.renewLease(ctx)
	now := d.opt.Clock.Now()
	out := make([]Round, 0, len(d.groups))
	for _, g := range d.groups {
		out = append(out, d.round(ctx, g, now))
	}
	return out
}

// renewLease takes or renews the lease and records the outcome.
func (d *Daemon) renewLease(ctx context.Context) {
	held, token, err := d.opt.Lease.TryAcquire(ctx, d.opt.Holder, d.opt.LeaseTTL)
	if err != nil {
		// Unknown is not held: acting without the lease could mean two
		// replicas acting at once.
		d.opt.Log.Error("lease", "holder", d.opt.Holder, "err", err.Error())
		d.metrics.leaseErrors.Inc()
		held = false
	}
	was := d.held.Swap(held)
	d.token.Store(token)
	d.holder.Store(d.leaseHolder(ctx, held))
	if held != was {
		if held {
			d.opt.Log.Info("lease acquired: acting", "holder", d.opt.Holder, "token", token)
		} else {
			d.opt.Log.Info("lease not held: standing by", "holder", d.opt.Holder, "token", token)
		}
	}
	d.metrics.leaseHeld.Set(b2f(held))
	d.metrics.leaseToken.Set(float64(token))
}

// leaseHolder names who holds the lease: this replica while held, else
// whoever the lease says ("" if it cannot say or the read fails).
func (d *Daemon) leaseHolder(ctx context.Context, held bool) *string {
	h := ""
	if held {
		h = d.opt.Holder
	} else if hr, ok := d.opt.Lease.(lease.HolderReader); ok {
		var err error
		if h, err = hr.Holder(ctx); err != nil {
			d.opt.Log.Debug("lease holder", "err", err.Error())
		}
	}
	return &h
}

// decide runs one decision for g at now.
func (d *Daemon) decide(ctx context.Context, g *group, now time.Time) Round {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := Round{Time: now}

	// Every replica fetches, so a standby is warm when it takes over.
	if s, err := d.fetch(ctx, g, now); err != nil {
		r.SourceError = err.Error()
		d.metrics.sourceErrors.WithLabelValues(g.Name).Inc()
	} else {
		r.Load = s
	}
	g.trim()

	st, err := g.Actuator.Describe(ctx, g.Name)
	if err != nil {
		r.ActError = err.Error()
		d.metrics.actuatorErrors.WithLabelValues(g.Name, "describe").Inc()
		d.opt.Log.Error("describe group", "group", g.Name, "err", err.Error())
		g.last, g.lastRound = &r, now
		g.publish()
		return r
	}
	actMin, actMax := st.Min, st.Max
	g.applyWarmup(now, &st)
	r.Group = GroupInputs{Desired: st.Desired, InService: st.InService, Warming: st.Warming, Min: st.Min, Max: st.Max}

	in := st
	in.Min, in.Max = g.Min, g.Max
	res := g.Policies.Evaluate(now, scaling.Input{Group: in, Interval: d.opt.Interval, History: g.history}, &g.core)
	desired := res.Desired
	if c := actuator.Clip(desired, actMin, actMax); c != desired && actMax >= actMin {
		res.Reason += fmt.Sprintf("; clipped to the actuator's bounds [%d, %d]", actMin, actMax)
		desired = c
		res.Desired = c
	}
	if r.SourceError != "" {
		res.Reason = "metric source failed (no new datapoint: " + r.SourceError + "); " + res.Reason
	}
	r.Decision, r.Min, r.Max = res.Decision, res.Min, res.Max

	held := d.held.Load()
	r.Standby = !held
	if held && desired != st.Desired {
		if err := g.Actuator.SetDesired(ctx, g.Name, desired, res.Reason); err != nil {
			r.ActError = err.Error()
			d.metrics.actuatorErrors.WithLabelValues(g.Name, "set_desired").Inc()
		} else {
			r.Acted = true
		}
	}
	dir := "hold"
	switch {
	case desired > st.Desired:
		dir = "out"
	case desired < st.Desired:
		dir = "in"
	}
	d.metrics.decisions.WithLabelValues(g.Name, dir).Inc()
	d.metrics.desired.WithLabelValues(g.Name).Set(float64(desired))
	d.metrics.current.WithLabelValues(g.Name).Set(float64(st.Desired))
	d.metrics.minCap.WithLabelValues(g.Name).Set(float64(res.Min))
	d.metrics.maxCap.WithLabelValues(g.Name).Set(float64(res.Max))
	d.metrics.inService.WithLabelValues(g.Name).Set(float64(st.InService))
	if r.Load != nil {
		d.metrics.load.WithLabelValues(g.Name).Set(r.Load.Value)
	}
	d.logDecision(g, r)
	g.decisions = append(g.decisions, r.Decision)
	g.last, g.lastRound = &r, now
	g.publish()
	if err := d.persist(g); err != nil {
		d.metrics.storeErrors.Inc()
		d.opt.Log.Error("persist state", "group", g.Name, "err", err.Error())
	}
	return r
}

func (d *Daemon) logDecision(g *group, r Round) {
	attrs := []any{
		"group", g.Name,
		"current", r.Decision.Current,
		"desired", r.Decision.Desired,
		"acted", r.Acted,
		"standby", r.Standby,
		"reason", r.Decision.Reason,
		"proposals", r.Decision.Proposals,
		"in_service", r.Group.InService,
		"warming", r.Group.Warming,
		"min", r.Min, "max", r.Max,
		"lease_token", d.token.Load(),
	}
	if r.Load != nil {
		attrs = append(attrs, "load", r.Load.Value, "load_time", r.Load.Time)
	}
	if r.SourceError != "" {
		attrs = append(attrs, "source_error", r.SourceError)
	}
	if r.ActError != "" {
		attrs = append(attrs, "actuator_error", r.ActError)
		d.opt.Log.Error("decision", attrs...)
		return
	}
	d.opt.Log.Info("decision", attrs...)
}

// fetch appends the source's new samples to g.history and returns the
// newest one.
func (d *Daemon) fetch(ctx context.Context, g *group, now time.Time) (*autoscaler.Sample, error) {
	samples, err := d.query(ctx, g, now)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", g.Name, err)
	}
	var newest *autoscaler.Sample
	for _, s := range samples {
		if n := len(g.history); n > 0 && !s.Time.After(g.history[n-1].Time) {
			continue // already have it, or out of order
		}
		g.history = append(g.history, s)
		newest = &g.history[len(g.history)-1]
	}
	if newest == nil {
		return nil, nil
	}
	s := *newest
	return &s, nil
}

// maxPoints keeps one range query under Prometheus's 11,000 points limit.
const maxPoints = 10000

func (d *Daemon) query(ctx context.Context, g *group, now time.Time) ([]autoscaler.Sample, error) {
	step := d.opt.Interval
	q := autoscaler.Query{Group: g.Name, Metric: g.Metric, From: now, To: now, Step: step}
	if !g.Range {
		return g.Source.Query(ctx, q)
	}
	from := now.Add(-d.opt.Backfill)
	if n := len(g.history); n > 0 && g.history[n-1].Time.Add(step).After(from) {
		from = g.history[n-1].Time.Add(step)
	}
	var out []autoscaler.Sample
	for from.Before(now) || from.Equal(now) {
		to := from.Add(maxPoints * step)
		if to.After(now) {
			to = now
		}
		q.From, q.To = from, to
		s, err := g.Source.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
		from = to.Add(step)
	}
	return out, nil
}

// applyWarmup moves instances that entered service within the warm-up
// from InService to Warming. Describe cannot tell (an ASG does not report
// when an instance entered service), so the daemon remembers increases.
func (g *group) applyWarmup(now time.Time, st *autoscaler.GroupState) {
	if g.Warmup <= 0 {
		return
	}
	if g.seenInSvc && st.InService > g.prevInSvc {
		g.warm = append(g.warm, warmEntry{at: now, n: st.InService - g.prevInSvc})
	}
	g.prevInSvc, g.seenInSvc = st.InService, true
	live := g.warm[:0]
	n := 0
	for _, w := range g.warm {
		if now.Sub(w.at) < g.Warmup {
			live = append(live, w)
			n += w.n
		}
	}
	g.warm = live
	n = min(n, st.InService)
	st.InService -= n
	st.Warming += n
}

// publish snapshots the group for Status; g.mu must be held.
func (g *group) publish() {
	gs := &GroupStatus{Name: g.Name, Samples: len(g.history), LastRound: g.last, lastRound: g.lastRound}
	if n := len(g.history); n > 0 {
		ls := g.history[n-1]
		gs.LastSample = &ls
	}
	k := max(0, len(g.decisions)-recentInStatus)
	gs.RecentDecisions = append([]autoscaler.Decision{}, g.decisions[k:]...)
	if len(g.core.Forecasts) > 0 {
		// A deep copy: the next round refits forecasts in place.
		if b, err := json.Marshal(g.core.Forecasts); err == nil {
			json.Unmarshal(b, &gs.Forecasts) //nolint:errcheck // our own value
		}
	}
	g.status.Store(gs)
}

func (g *group) trim() {
	sg := store.Group{History: g.history, Decisions: g.decisions}
	sg.Trim()
	g.history, g.decisions = sg.History, sg.Decisions
}

func (d *Daemon) persist(g *group) error {
	if d.opt.Store == nil {
		return nil
	}
	core, err := json.Marshal(&g.core)
	if err != nil {
		return err
	}
	return d.opt.Store.Save(g.Name, store.Group{History: g.history, Core: core, Decisions: g.decisions})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ReleaseLease gives the lease up (after --once, so the next run or a
// standby need not wait for the TTL).
func (d *Daemon) ReleaseLease(ctx context.Context) error {
	d.held.Store(false)
	d.metrics.leaseHeld.Set(0)
	return d.opt.Lease.Release(ctx, d.opt.Holder)
}

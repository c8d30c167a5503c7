package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/policy"
)

// Explanation is what the decision core would do for a group now, without
// acting and without changing any state.
type Explanation struct {
	Round
	Samples int `json:"samples"`
}

// Explain fetches the load once (twice, scrapeWindow apart, for a
// scraping source, whose rate needs two scrapes), reads the group and
// evaluates its policies on a copy of the persisted state.
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
	var core policy.State
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
	st, err := g.Actuator.Describe(ctx, g.Name)
	if err != nil {
		return Explanation{}, fmt.Errorf("describe group %q: %w", g.Name, err)
	}
	r.Group = GroupInputs{Desired: st.Desired, InService: st.InService, Warming: st.Warming, Min: st.Min, Max: st.Max}
	in := st
	in.Min, in.Max = g.Min, g.Max
	res := g.Policies.Evaluate(r.Time, policy.Input{Group: in, Interval: d.opt.Interval, History: g.history}, &core)
	r.Decision, r.Min, r.Max = res.Decision, res.Min, res.Max
	return Explanation{Round: r, Samples: len(g.history)}, nil
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

// WriteText prints an explanation as a table an operator can read.
func (e Explanation) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "group %s at %s\n", e.Decision.Group, e.Time.UTC().Format(time.RFC3339))
	load := "none"
	if e.Load != nil {
		load = fmt.Sprintf("%.4g at %s", e.Load.Value, e.Load.Time.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "load:\t%s (%d datapoints in history)\n", load, e.Samples)
	if e.SourceError != "" {
		fmt.Fprintf(tw, "metric source:\tFAILED: %s\n", e.SourceError)
	}
	fmt.Fprintf(tw, "group:\tdesired %d, in service %d, warming %d, actuator bounds [%d, %d]\n",
		e.Group.Desired, e.Group.InService, e.Group.Warming, e.Group.Min, e.Group.Max)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "POLICY\tPROPOSES\tSCALE-IN\tWHY")
	for _, p := range e.Decision.Proposals {
		c := fmt.Sprint(p.Capacity)
		if p.Abstain {
			c = "-"
		}
		si := "no"
		if p.ScaleIn {
			si = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Policy, c, si, strings.ReplaceAll(p.Reason, "\n", " "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "decision:\t%d -> %d within [%d, %d]\n", e.Decision.Current, e.Decision.Desired, e.Min, e.Max)
	fmt.Fprintf(tw, "because:\t%s\n", e.Decision.Reason)
	return tw.Flush()
}

package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
)

// Status is the daemon's state as /status serves it.
type Status struct {
	Time   time.Time     `json:"time"`
	Lease  LeaseStatus   `json:"lease"`
	Groups []GroupStatus `json:"groups"`
}

// LeaseStatus says who acts: this replica (Self) or another (Holder).
type LeaseStatus struct {
	// Holder is the replica that holds the lease as last seen: Self while
	// held; another's name when the lease can say (file and DynamoDB
	// leases); "" when nobody holds it or the lease cannot say.
	Holder string `json:"holder"`
	Self   string `json:"self"`
	Held   bool   `json:"held"`
	Token  uint64 `json:"token"`
}

// GroupStatus is one group's latest round and recent decisions.
type GroupStatus struct {
	Name            string                `json:"name"`
	Samples         int                   `json:"samples"`
	LastSample      *autoscaler.Sample    `json:"last_sample,omitempty"`
	LastRound       *Round                `json:"last_round,omitempty"`
	RecentDecisions []autoscaler.Decision `json:"recent_decisions"`
	// Forecasts are the predictive policies' current forecasts.
	Forecasts map[string]*scaling.Forecast `json:"forecasts,omitempty"`

	lastRound time.Time
}

// recentInStatus bounds the decisions /status lists per group.
const recentInStatus = 10

// Status snapshots the daemon.
func (d *Daemon) Status() Status {
	s := Status{
		Time:  d.opt.Clock.Now(),
		Lease: LeaseStatus{Self: d.opt.Holder, Held: d.held.Load(), Token: d.token.Load()},
	}
	if h := d.holder.Load(); h != nil {
		s.Lease.Holder = *h
	}
	for _, g := range d.groups {
		s.Groups = append(s.Groups, *g.status.Load())
	}
	return s
}

// Healthy reports whether every group ran a round recently (within three
// intervals, or since start).
func (d *Daemon) Healthy() error {
	now := d.opt.Clock.Now()
	limit := 3 * d.opt.Interval
	if now.Sub(d.started) < limit {
		return nil
	}
	for _, g := range d.groups {
		last := g.status.Load().lastRound
		if now.Sub(last) > limit {
			return fmt.Errorf("group %q: no round since %s", g.Name, last.Format(time.RFC3339))
		}
	}
	return nil
}

// Handler serves /metrics, /healthz and /status.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.opt.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := d.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(d.Status()) //nolint:errcheck // the client went away
	})
	return mux
}

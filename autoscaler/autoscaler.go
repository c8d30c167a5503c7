// Package autoscaler sets the desired capacity of backend groups from
// reactive, predictive and scheduled policies. The decision core
// (autoscaler/scaling, autoscaler/forecast) is pure: time, metric history and
// group state in; desired capacity and an explanation out. This package holds
// the types shared by the core, the edges (metric sources, actuators, lease,
// state store) and the daemon that composes them. AWS EC2 Auto Scaling is
// the reference for semantics, the Kubernetes HPA for stabilization.
package autoscaler

import (
	"context"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/lease"
)

// GroupState is a scalable group as its actuator reports it.
type GroupState struct {
	Name    string
	Min     int
	Max     int
	Desired int
	// InService counts instances serving and past warm-up; Warming counts
	// instances launched (Pending, or InService within warm-up) that count
	// toward desired but not toward the metric.
	InService int
	Warming   int
}

// Sample is one point of a metric series. A missing point is absent from
// the series, never zero.
type Sample struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Query asks a metric source for one group's series.
type Query struct {
	Group  string
	Metric string // source-specific: a pool name, a PromQL expression, a CloudWatch metric
	From   time.Time
	To     time.Time
	Step   time.Duration
}

// MetricSource yields load series. A failing source returns an error; it
// must never report a failure as zero load.
type MetricSource interface {
	Query(ctx context.Context, q Query) ([]Sample, error)
}

// Actuator reads and changes a group's capacity.
type Actuator interface {
	Describe(ctx context.Context, group string) (GroupState, error)
	// SetDesired asks for desired instances; callers clip to [Min, Max]
	// first (emulators accept what AWS rejects).
	SetDesired(ctx context.Context, group string, desired int, reason string) error
}

// Lease lets one replica of the daemon act while others stand by. The
// implementations live in internal/lease, which the gateway's failover
// shares.
type Lease = lease.Lease

// Proposal is one policy's recommendation for a group.
type Proposal struct {
	Policy   string `json:"policy"`
	Capacity int    `json:"capacity"`
	// ScaleIn reports whether this policy may take part in scaling in
	// (predictive policies never scale in by themselves).
	ScaleIn bool   `json:"scale_in"`
	Reason  string `json:"reason"`
	// Abstain reports that the policy has no opinion this round (an alarm
	// not in ALARM, a forecast-only predictive policy, no scheduled action
	// firing): Capacity is then meaningless and the proposal takes no part
	// in the combination. Added by the decision core.
	Abstain bool `json:"abstain,omitempty"`
}

// Decision is one round's outcome for one group, with its explanation.
type Decision struct {
	Time      time.Time  `json:"time"`
	Group     string     `json:"group"`
	Current   int        `json:"current"`
	Desired   int        `json:"desired"`
	Reason    string     `json:"reason"`
	Proposals []Proposal `json:"proposals"`
}

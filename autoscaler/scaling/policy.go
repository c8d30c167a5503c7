// Package scaling is the pure decision core of the autoscaler: given the
// time, a group's metric history and its state, it returns the desired
// capacity and an explanation. It does no I/O and reads no clock; the only
// state it keeps between rounds is an explicit State value that the caller
// persists (stabilization recommendations and cached forecasts).
//
// Semantics follow AWS EC2 Auto Scaling (target tracking, step scaling,
// predictive and scheduled scaling) and the Kubernetes HPA for the
// scale-in stabilization window:
//
//   - every active policy proposes a capacity; the desired capacity is the
//     largest proposal, clipped to the effective [min, max];
//   - a policy may abstain (alarm not breaching, forecast-only, no
//     scheduled action firing); abstentions take no part;
//   - scale-in happens only if at least one scale-in-capable policy
//     proposes (predictive policies never scale in by themselves), and it
//     then goes through the stabilization window: the highest raw
//     recommendation of the window wins;
//   - step sizes are rate-limited by Behavior.
//
// The metric history is the group's total load per interval (requests/s
// from the gateway, say); policies derive the per-instance metric by
// dividing by the in-service instances, so that warming instances count
// toward desired capacity but not toward the metric.
package scaling

import (
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// Set is the policies of one group and how their proposals combine.
// Build it from configuration (config.Group.PolicySet) or directly.
type Set struct {
	TargetTracking []TargetTracking
	Step           []Step
	Predictive     []Predictive
	Scheduled      []Scheduled
	Behavior       Behavior
}

// Behavior limits how the combined desired capacity moves.
type Behavior struct {
	// ScaleInStabilization is the HPA window: a scale-in goes to the
	// highest recommendation made within it (default 300 s; 0 = none).
	ScaleInStabilization time.Duration
	// MaxScaleOutStep and MaxScaleInStep bound one round's change in
	// instances; 0 means unlimited.
	MaxScaleOutStep int
	MaxScaleInStep  int
}

// DefaultBehavior is the behavior when none is configured.
func DefaultBehavior() Behavior { return Behavior{ScaleInStabilization: 300 * time.Second} }

// Input is everything a round needs besides the time and the State.
type Input struct {
	// Group is the group as its actuator reports it. Group.Min and
	// Group.Max are the configured bounds that scheduled actions override.
	Group autoscaler.GroupState
	// Interval is the period of History's datapoints (the decision
	// period); 0 means one minute.
	Interval time.Duration
	// History is the group's total load (e.g. requests/s), oldest first,
	// at most one sample per Interval. A missing datapoint is absent, never
	// zero. Target tracking and step scaling look at its tail; predictive
	// policies use up to 14 days of it when they refit.
	History []autoscaler.Sample
	// Terse skips the explanation strings (backtests run millions of
	// rounds nobody reads).
	Terse bool
}

// State is what a group's decision core carries from one round to the
// next. The caller persists it (it marshals to JSON) and passes the same
// value back; Evaluate updates it in place. The zero State is valid.
type State struct {
	// Recommendations are the raw (unstabilized) recommendations of the
	// last ScaleInStabilization window, oldest first.
	Recommendations []Recommendation `json:"recommendations,omitempty"`
	// Forecasts holds the latest forecast of each predictive policy,
	// keyed by policy name.
	Forecasts map[string]*Forecast `json:"forecasts,omitempty"`
}

// Recommendation is one round's raw combined recommendation.
type Recommendation struct {
	Time     time.Time `json:"time"`
	Capacity int       `json:"capacity"`
}

// Forecast is a predictive policy's cached load forecast.
type Forecast struct {
	FittedAt time.Time     `json:"fitted_at"`
	Model    string        `json:"model"` // the forecaster chosen
	Start    time.Time     `json:"start"` // time of Values[0]
	Step     time.Duration `json:"step"`
	Values   []float64     `json:"values"` // load, in History's unit
	// Errors is each candidate model's backtested MAPE (a fraction) on
	// recent history; the model with the lowest was chosen.
	Errors map[string]float64 `json:"errors,omitempty"`
	// Buffer multiplies the forecast: the quantile of the model's own
	// actual/predicted ratios (Predictive.BufferQuantile), at least 1.
	Buffer float64 `json:"buffer,omitempty"`
	// Skill compares the forecast with persistence (the previous step's
	// value repeated, which is what a reactive policy knows) on the same
	// backtest, one step of the forecast's resolution ahead, at the
	// forecast's own resolution: 1 − loss/persistence's loss, positive
	// when the forecast does better. The loss is the cost of a floor
	// covering the backtest at Predictive.BufferQuantile
	// (forecast.CoverCost) when that is set, else MAPE. Judging at one
	// step of the data's resolution matters: on hourly data replayed per
	// minute, persistence one minute ahead is exact within the hour and
	// no forecaster would ever beat it, yet capacity for the next hour
	// must be launched before that hour's load is seen.
	Skill float64 `json:"skill"`
	// Anchored forecasts are used level-corrected: Values plus the error
	// of the forecast on the latest step with load (LastFit is the
	// one-step prediction of the step before Start). The backtest picks
	// anchored or not, as for the model, by the same loss.
	Anchored bool    `json:"anchored,omitempty"`
	LastFit  float64 `json:"last_fit,omitempty"`
}

// At returns the forecast load at t and whether t is covered.
func (f *Forecast) At(t time.Time) (float64, bool) {
	if f == nil || f.Step <= 0 || t.Before(f.Start) {
		return 0, false
	}
	i := int(t.Sub(f.Start) / f.Step)
	if i >= len(f.Values) {
		return 0, false
	}
	return f.Values[i], true
}

// InvalidateForecasts makes the next Evaluate refit every predictive
// policy's forecast (on-demand refresh).
func (s *State) InvalidateForecasts() {
	for _, f := range s.Forecasts {
		f.FittedAt = time.Time{}
	}
}

// Result is one round's outcome: the decision with its explanation, and
// the effective bounds after scheduled actions and max-capacity breach,
// which an actuator applies along with Desired.
type Result struct {
	autoscaler.Decision
	Min int `json:"min"`
	Max int `json:"max"`
}

package scaling

import (
	"fmt"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
)

// BenchmarkDecisionRound1000Groups measures one steady-state decision
// round for 1,000 groups, each with target tracking, predictive (its
// forecast cached, as between refreshes) and a scheduled action, over
// three days of one-minute history.
func BenchmarkDecisionRound1000Groups(b *testing.B) {
	const groups = 1000
	now := time.Date(2026, 3, 5, 10, 30, 0, 0, time.UTC)
	history := daily(now, 3, 200, 1000) // shared: the core never writes it
	cron, _ := ParseCron("0 8 * * 1-5")
	paris, _ := time.LoadLocation("Europe/Paris")
	sets := make([]Set, groups)
	states := make([]State, groups)
	inputs := make([]Input, groups)
	for i := range sets {
		sets[i] = Set{
			TargetTracking: []TargetTracking{DefaultTargetTracking(70)},
			Predictive:     []Predictive{DefaultPredictive(70)},
			Scheduled:      []Scheduled{{Name: "s", Actions: []Action{{Name: "a", Cron: cron, Location: paris, Min: ip(2)}}}},
			Behavior:       DefaultBehavior(),
		}
		inputs[i] = Input{Group: autoscaler.GroupState{Name: fmt.Sprint("g", i), Min: 1, Max: 100, Desired: 10, InService: 10},
			Interval: time.Minute, History: history}
		sets[i].Evaluate(now, inputs[i], &states[i]) // fit the forecasts
	}
	b.ResetTimer()
	for b.Loop() {
		for i := range sets {
			sets[i].Evaluate(now, inputs[i], &states[i])
		}
	}
}

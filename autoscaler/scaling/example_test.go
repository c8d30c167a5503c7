package scaling_test

import (
	"fmt"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
)

// A daemon round for one group: build the Set once from configuration
// (config.Group.PolicySet), keep one State per group (persist it as JSON
// between runs), and call Evaluate every interval with the group as the
// actuator describes it and the metric history.
func ExampleSet_Evaluate() {
	set := scaling.Set{
		TargetTracking: []scaling.TargetTracking{scaling.DefaultTargetTracking(70)},
		Behavior:       scaling.DefaultBehavior(),
	}
	var st scaling.State
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var history []autoscaler.Sample
	for i := 3; i >= 1; i-- { // the last three one-minute datapoints: 400 req/s
		history = append(history, autoscaler.Sample{Time: now.Add(-time.Duration(i) * time.Minute), Value: 400})
	}
	res := set.Evaluate(now, scaling.Input{
		Group:    autoscaler.GroupState{Name: "web", Min: 1, Max: 20, Desired: 4, InService: 4},
		Interval: time.Minute,
		History:  history,
	}, &st)
	fmt.Println(res.Desired, res.Min, res.Max)
	fmt.Println(res.Reason)
	for _, p := range res.Proposals {
		fmt.Printf("%s: %d (%s)\n", p.Policy, p.Capacity, p.Reason)
	}
	// Output:
	// 6 1 20
	// largest proposal: 4 -> 6 within [1, 20]
	// target_tracking: 6 (high alarm: 3 datapoints above target 70; load 400 needs 6)
}

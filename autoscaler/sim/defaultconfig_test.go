package sim_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/autoscaler/sim"
)

// TestDefaultConfigIsDefaultSet: the example configuration that spells
// out the simulator's default builds the same policies, so a daemon run
// from it decides as the backtests measured.
func TestDefaultConfigIsDefaultSet(t *testing.T) {
	c, err := config.Load("../../examples/autoscaler-default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Groups[0].PolicySet()
	want := sim.DefaultSet(c.Groups[0].CapacityPerInstance, 3*time.Minute)
	// Names differ by construction (the config names policies by type).
	for i := range got.TargetTracking {
		got.TargetTracking[i].Name = want.TargetTracking[i].Name
	}
	for i := range got.Predictive {
		got.Predictive[i].Name = want.Predictive[i].Name
	}
	if !reflect.DeepEqual(got, *want) {
		t.Errorf("config builds\n%+v\nsim.DefaultSet is\n%+v", got, *want)
	}
}

package sim

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const tracesDir = "../../../shared/traces"

func loadShared(tb testing.TB, name string) *Trace {
	tb.Helper()
	path := filepath.Join(tracesDir, name)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("shared trace %s absent: %v", path, err)
	}
	tr, err := LoadTrace(path)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

func sharedGroup(cpi float64) Group {
	return Group{Name: "web", Min: 1, Max: 100000, CapacityPerInstance: cpi, LaunchDelay: 3 * time.Minute, Warmup: 0, Interval: time.Minute}
}

// TestAcceptanceSharedTraces is the accuracy and cost check: the
// default policy set against reactive target tracking alone with a
// 3-minute launch delay must have at least 50% lower τU at no more than
// 5% more instance-hours.
func TestAcceptanceSharedTraces(t *testing.T) {
	for _, name := range []string{"worldcup98-per-minute.csv", "wikipedia-en-2016-01-per-hour.csv"} {
		t.Run(name, func(t *testing.T) {
			tr := loadShared(t, name)
			cpi := 100.0
			r, _, err := Compare(tr, DefaultSet(cpi), sharedGroup(cpi), CompareOptions{ReactiveTarget: DefaultTargetRatio * cpi})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("policy:   %+v", r.Policy)
			t.Logf("reactive: %+v", r.Reactive)
			t.Logf("oracle:   %+v", r.Oracle)
			tauRatio := r.Policy.UnderProvisionedTime / r.Reactive.UnderProvisionedTime
			costRatio := r.Policy.InstanceHours / r.Reactive.InstanceHours
			t.Logf("τU policy/reactive = %.3f (want <= 0.5); instance-hours policy/reactive = %.4f (want <= 1.05)", tauRatio, costRatio)
			if r.Policy.UnderProvisionedTime > 0.5*r.Reactive.UnderProvisionedTime {
				t.Errorf("τU %.5f is not 50%% below reactive's %.5f", r.Policy.UnderProvisionedTime, r.Reactive.UnderProvisionedTime)
			}
			if costRatio > 1.05 {
				t.Errorf("instance-hours %.1f are %.1f%% above reactive's %.1f", r.Policy.InstanceHours, 100*(costRatio-1), r.Reactive.InstanceHours)
			}
		})
	}
}

package config

import (
	"strings"
	"testing"
)

// TestCloudWatchPolledFasterThanItsPeriod: an interval shorter than, or
// not a multiple of, CloudWatch's 60s datapoint period is refused at the
// interval's line, naming the group; a minute multiple is fine.
func TestCloudWatchPolledFasterThanItsPeriod(t *testing.T) {
	cfg := func(interval string) string {
		return "interval: " + interval + "\ngroups:\n  - name: web\n    metric: {source: cloudwatch, metric_name: RequestCount}\n"
	}
	for interval, want := range map[string]string{
		"10s": `a.yaml:1: interval: 10s polls the cloudwatch metric RequestCount of group "web" (groups[0]) faster than its 60s datapoint period`,
		"90s": `a.yaml:1: interval: 1m30s is not a multiple of the 60s datapoint period`,
		"2m":  "",
	} {
		_, err := Parse("a.yaml", []byte(cfg(interval)))
		switch {
		case want == "" && err != nil:
			t.Errorf("interval %s: %v, want valid", interval, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("interval %s: %v, want %q", interval, err, want)
		}
	}
	// A gateway source scrapes: any interval is fine.
	if _, err := Parse("a.yaml", []byte("interval: 10s\ngroups:\n  - name: web\n")); err != nil {
		t.Errorf("gateway source at 10s: %v", err)
	}
}

package sim

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

func TestParseTrace(t *testing.T) {
	const h = "time,requests\n"
	tests := []struct {
		name, csv, err string
		n, filled      int
	}{
		{"ok", h + "2026-01-01T00:00:00Z,60\n2026-01-01T00:01:00Z,120\n", "", 2, 0},
		{"comments and blanks", "# x\n" + h + "\n2026-01-01T00:00:00Z,60\n2026-01-01T00:01:00Z,120\n", "", 2, 0},
		{"gap interpolated", h + "2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:04:00Z,40\n", "", 5, 2},
		{"gap too long", h + "2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:20:00Z,40\n", "t.csv:4: gap of 18 missing intervals", 0, 0},
		{"unsorted", h + "2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:00:30Z,40\n", "t.csv:4: time 2026-01-01T00:00:30Z is before", 0, 0},
		{"unsorted first pair", h + "2026-01-01T00:01:00Z,0\n2026-01-01T00:00:00Z,10\n", "t.csv:3: time 2026-01-01T00:00:00Z is not after", 0, 0},
		{"duplicate", h + "2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:01:00Z,40\n", "t.csv:4: duplicate time", 0, 0},
		{"off grid", h + "2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:02:30Z,40\n", "t.csv:4: time 2026-01-01T00:02:30Z is off the 1m0s grid", 0, 0},
		{"garbage line", h + "2026-01-01T00:00:00Z,0\nhello\n", "t.csv:3: want 2 fields", 0, 0},
		{"bad time", h + "yesterday,3\n", "t.csv:2: invalid time", 0, 0},
		{"negative count", h + "2026-01-01T00:00:00Z,-1\n", "t.csv:2: invalid request count", 0, 0},
		{"bad header", "when,count\n", "t.csv:1: want header", 0, 0},
		{"empty", "", "empty trace", 0, 0},
		{"one row", h + "2026-01-01T00:00:00Z,1\n", "want at least 2 rows", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrace("t.csv", strings.NewReader(tc.csv))
			if testkit.WantErr(t, err, tc.err) {
				return
			}
			if tr.Len() != tc.n || tr.Filled != tc.filled {
				t.Errorf("%d intervals (%d filled), want %d (%d)", tr.Len(), tr.Filled, tc.n, tc.filled)
			}
		})
	}
	tr, _ := ParseTrace("t.csv", strings.NewReader(h+"2026-01-01T00:00:00Z,0\n2026-01-01T00:01:00Z,10\n2026-01-01T00:04:00Z,40\n"))
	if want := []float64{0, 10, 20, 30, 40}; !equal(tr.Requests, want) {
		t.Errorf("interpolated %v, want %v", tr.Requests, want)
	}
	if tr.Rate(1) != 10.0/60 {
		t.Errorf("rate %g", tr.Rate(1))
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9 {
			return false
		}
	}
	return true
}

// trace builds a one-minute trace of request rates (requests/s).
func trace(rates ...float64) *Trace {
	tr := &Trace{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Step: time.Minute}
	for _, r := range rates {
		tr.Requests = append(tr.Requests, r*60)
	}
	return tr
}

func TestMetricsFormulas(t *testing.T) {
	a := accumulator{cpi: 100, band: 0.4}
	// d, s: under by half, 1.5x the oracle (beyond the band), exact,
	// zero demand with supply.
	a.add(200, 100, 1, 60)
	a.add(100, 150, 2, 60)
	a.add(100, 100, 1, 60)
	a.add(0, 100, 1, 60)
	m := a.metrics()
	want := Metrics{InstanceHours: 5 * 60.0 / 3600, UnderProvisionedTime: 0.25, UnderProvisionedDemand: 0.5 / 4,
		OverProvisionedTime: 0.5, OverProvisionedDemand: 0.5 / 4}
	if math.Abs(m.InstanceHours-want.InstanceHours) > 1e-12 || m.UnderProvisionedTime != want.UnderProvisionedTime ||
		m.UnderProvisionedDemand != want.UnderProvisionedDemand || m.OverProvisionedTime != want.OverProvisionedTime ||
		m.OverProvisionedDemand != want.OverProvisionedDemand {
		t.Errorf("metrics %+v, want %+v", m, want)
	}
}

func TestOracle(t *testing.T) {
	m, err := Oracle(trace(50, 150, 150, 0), Group{CapacityPerInstance: 100}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.UnderProvisionedTime != 0 || m.OverProvisionedDemand != 0 || m.ScalingActions != 2 || math.Abs(m.InstanceHours-5.0/60) > 1e-12 {
		t.Errorf("oracle %+v", m)
	}
}

// TestRunLaunchDelay follows a step in demand through target tracking
// with a 3-minute launch delay: under-provisioned from the step until
// the new instances serve, datapoint by datapoint.
func TestRunLaunchDelay(t *testing.T) {
	tt := scaling.DefaultTargetTracking(100)
	tt.ScaleOutDatapoints = 1
	set := &scaling.Set{TargetTracking: []scaling.TargetTracking{tt}}
	rates := append([]float64{100, 100}, 300, 300, 300, 300, 300, 300)
	g := Group{Min: 1, Max: 10, CapacityPerInstance: 100, LaunchDelay: 3 * time.Minute}
	m, s, err := Run(trace(rates...), set, g, Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	// Minute 2 sees 300 with 1 instance; its datapoint is complete at the
	// end of minute 2, when the decision launches 2 more, serving 3
	// minutes later, from minute 6: minutes 2 to 5 are short.
	wantSupply := []float64{100, 100, 100, 100, 100, 100, 300, 300}
	if !equal(s.Supply, wantSupply) {
		t.Errorf("supply %v, want %v", s.Supply, wantSupply)
	}
	if m.ScalingActions != 1 || m.UnderProvisionedTime != 4.0/8 {
		t.Errorf("metrics %+v, want 1 action and τU 4/8", m)
	}
	if _, _, err := Run(&Trace{Start: s.Start, Step: 90 * time.Second, Requests: []float64{1, 2}}, set, g, Options{}); err == nil {
		t.Error("a trace step that is not a multiple of the interval was accepted")
	}
}

func TestCompareAndChart(t *testing.T) {
	// Two days of a daily pattern, hourly: predictive needs 24 h first.
	var rates []float64
	for h := range 72 {
		r := 100.0
		if h%24 >= 8 && h%24 < 20 {
			r = 900
		}
		for range 60 {
			rates = append(rates, r)
		}
	}
	g := Group{Min: 1, Max: 50, CapacityPerInstance: 100, LaunchDelay: 3 * time.Minute}
	var calls int
	rep, s, err := Compare(trace(rates...), DefaultSet(100, 3*time.Minute), g, CompareOptions{Options: Options{Record: true, Progress: func(done, total int) { calls++ }},
		ReactiveTarget: 70, Sweep: []float64{0.5, 0.6, 0.7, 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("policy %+v\nreactive %+v\noracle %+v", rep.Policy, rep.Reactive, rep.Oracle)
	if rep.Policy.UnderProvisionedTime >= rep.Reactive.UnderProvisionedTime {
		t.Errorf("on a daily pattern the default set (τU %g) should beat reactive (τU %g)", rep.Policy.UnderProvisionedTime, rep.Reactive.UnderProvisionedTime)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	var buf bytes.Buffer
	if len(rep.Curve) != 4 || rep.EqualCost == nil {
		t.Fatalf("curve %v, equal cost %v", rep.Curve, rep.EqualCost)
	}
	for i := 1; i < len(rep.Curve); i++ {
		if rep.Curve[i].InstanceHours < rep.Curve[i-1].InstanceHours {
			t.Errorf("curve not sorted by instance-hours: %v", rep.Curve)
		}
	}
	if err := WriteSVG(&buf, s, Chart{Title: "test <chart>", Min: 1, Max: 50, CPI: 100, Curve: rep.Curve, Policy: &rep.Policy}); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	d := xml.NewDecoder(&buf)
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
	for _, want := range []string{"<title>forecast</title>", "test &lt;chart&gt;", "<title>group min</title>", "<title>reactive τU (time share)</title>", "<title>policy τU</title>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

// BenchmarkSimulateWorldCup is the speed target of one run of the
// default set on the 3-month per-minute trace (< 2 s).
func BenchmarkSimulateWorldCup(b *testing.B) {
	tr := loadShared(b, "worldcup98-per-minute.csv")
	g := sharedGroup(100)
	set := DefaultSet(100, 3*time.Minute)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Run(tr, set, g, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAtEqualCost(t *testing.T) {
	curve := []CurvePoint{
		{Target: 0.8, Metrics: Metrics{InstanceHours: 100, UnderProvisionedTime: 0.04, UnderProvisionedDemand: 0.02}},
		{Target: 0.6, Metrics: Metrics{InstanceHours: 200, UnderProvisionedTime: 0.02, UnderProvisionedDemand: 0}},
	}
	ec := AtEqualCost(curve, Metrics{InstanceHours: 150, UnderProvisionedTime: 0.015, UnderProvisionedDemand: 0})
	if math.Abs(ec.UnderProvisionedTime-0.03) > 1e-12 || math.Abs(ec.Target-0.7) > 1e-12 || math.Abs(ec.TauURatio-0.5) > 1e-12 || ec.ThetaURatio != 0 || ec.Clamped != "" {
		t.Errorf("midpoint: %+v", ec)
	}
	if ec := AtEqualCost(curve, Metrics{InstanceHours: 50, UnderProvisionedTime: 0.01}); ec.Clamped != "below" || ec.UnderProvisionedTime != 0.04 {
		t.Errorf("below the curve: %+v", ec)
	}
	if ec := AtEqualCost(curve, Metrics{InstanceHours: 250, UnderProvisionedDemand: 0.01}); ec.Clamped != "above" || !math.IsInf(ec.ThetaURatio, 1) {
		t.Errorf("above the curve: %+v", ec)
	}
}

func TestRunWindow(t *testing.T) {
	tr := trace(100, 100, 300, 300, 300, 300, 300, 300)
	tt := scaling.DefaultTargetTracking(100)
	set := &scaling.Set{TargetTracking: []scaling.TargetTracking{tt}}
	g := Group{Min: 1, Max: 10, CapacityPerInstance: 100, LaunchDelay: time.Minute}
	from := tr.Start.Add(6 * time.Minute)
	m, s, err := Run(tr, set, g, Options{Record: true, From: from})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Demand) != 2 || !s.Start.Equal(from) || math.Abs(m.InstanceHours-2*3/60.0) > 1e-12 {
		t.Errorf("window from minute 6: %d intervals from %s, %+v", len(s.Demand), s.Start, m)
	}
	if _, _, err := Run(tr, set, g, Options{From: tr.End()}); err == nil || !strings.Contains(err.Error(), "holds no interval") {
		t.Errorf("empty window: %v", err)
	}
}

// BenchmarkSweepWorldCup is the speed target for the trade-off
// curve: 9 reactive targets on the 3-month per-minute trace (< 10 s).
func BenchmarkSweepWorldCup(b *testing.B) {
	tr := loadShared(b, "worldcup98-per-minute.csv")
	g := sharedGroup(100)
	targets := []float64{0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Sweep(tr, g, targets, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulateSaskatchewan runs the default set on seven months of
// hourly counts replayed per minute (5,136 hours, 308k decisions): the
// predictive policy refits hourly on 14 days of per-minute history, so
// this guards the refit path (< 2 s, like the 3-month per-minute trace).
func BenchmarkSimulateSaskatchewan(b *testing.B) {
	tr := loadShared(b, "saskatchewan-per-hour.csv")
	peak := 0.0
	for i := range tr.Len() {
		peak = max(peak, tr.Rate(i))
	}
	g := sharedGroup(peak / 40)
	set := DefaultSet(peak/40, 3*time.Minute)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Run(tr, set, g, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

package local

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// The test binary doubles as `drawbridge backend` (testkit.BackendCommand),
// so the actuator starts real processes without a build.
func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// testOptions run on free ports with this test binary as the backend.
func testOptions() Options {
	argv, env := testkit.BackendCommand(testkit.Serve)
	return Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", BackendCommand: argv, BackendEnv: env}
}

// fastDay replays a day in 14 s, so that a 20 s run sees the load rise,
// peak and fall back.
const fastDay = 86400.0 / 14

func startStack(t *testing.T, opt Options) *Stack {
	t.Helper()
	s, err := Start(context.Background(), opt)
	if err != nil {
		if s != nil {
			s.Stop()
		}
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// startFastDay starts, in parallel with the other long tests, a stack
// replaying fastDay; -short skips the test (a run of seconds), saying why.
func startFastDay(t *testing.T, why string) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip(why + "; skipped with -short")
	}
	t.Parallel()
	opt := testOptions()
	opt.Speed = fastDay
	return startStack(t, opt)
}

// addresses returns every listener of the stack: gateway, admin and the
// backends it runs now.
func addresses(s *Stack) []string {
	st := s.State()
	out := []string{strings.TrimPrefix(st.URLs.Gateway, "http://"), strings.TrimPrefix(st.URLs.Admin, "http://")}
	for _, p := range st.Pools {
		for _, b := range p.Backends {
			out = append(out, b.Address)
		}
	}
	return out
}

// childBackends lists the processes whose parent is this test process and
// whose command line runs a backend on one of addrs.
func childBackends(t *testing.T, addrs map[string]bool) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--listen" && addrs[args[i+1]] {
				pid, _ := strconv.Atoi(filepath.Base(d))
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// assertNothingLeft fails if a backend process still runs or a port is
// still bound.
func assertNothingLeft(t *testing.T, addrs map[string]bool) {
	t.Helper()
	if pids := childBackends(t, addrs); len(pids) > 0 {
		t.Errorf("backend processes left running: %v", pids)
	}
	for a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port %s still bound: %v", a, err)
			continue
		}
		ln.Close()
	}
}

func TestLocalScalesOutAndInWithoutErrors(t *testing.T) {
	s := startFastDay(t, "20 s run of local mode")
	t.Logf("ready in %s", s.ReadyIn())

	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range addresses(s) {
			seen[a] = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	sum := s.Stop()
	t.Logf("summary: %+v", sum)

	if sum.Requests < 500 || sum.Errors != 0 {
		t.Errorf("requests %d, errors %d (last: %s); want many requests and no error", sum.Requests, sum.Errors, sum.LastError)
	}
	if sum.ScaleOuts < 1 || sum.ScaleIns < 1 {
		t.Errorf("scale-outs %d, scale-ins %d; want at least one of each", sum.ScaleOuts, sum.ScaleIns)
	}
	if sum.PeakCapacity < 3 {
		t.Errorf("peak capacity %d, want >= 3 at 200 req/s for 40 per backend", sum.PeakCapacity)
	}
	if sum.BackendsServed < 2 {
		t.Errorf("backends served %d, want >= 2", sum.BackendsServed)
	}
	if sum.ReadyMS <= 0 {
		t.Errorf("ready_ms %v not measured", sum.ReadyMS)
	}
	assertNothingLeft(t, seen)
}

func TestKilledBackendIsReplacedWithoutClientErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a backend process; skipped with -short")
	}
	t.Parallel()
	opt := testOptions()
	// A flat load on two backends, well under target: no scaling, so the
	// only capacity change is the replacement.
	opt.Pattern = Pattern{Name: "flat", Step: time.Hour, Rates: []float64{1}}
	opt.Peak, opt.Target, opt.Min = 60, 1000, 2
	s := startStack(t, opt)

	var victim string
	testkit.EventuallyWithin(t, 10*time.Second, "two healthy backends serving", func() bool {
		st := s.State()
		if len(st.Pools) == 0 || st.Pools[0].Available != 2 || st.Load.Requests < 50 {
			return false
		}
		victim = st.Pools[0].Backends[1].Address
		return true
	})
	pids := childBackends(t, map[string]bool{victim: true})
	if len(pids) != 1 {
		t.Fatalf("backend on %s: processes %v, want one", victim, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	before := s.State().Load.Requests
	testkit.EventuallyWithin(t, 15*time.Second, "a replacement serving", func() bool {
		st := s.State()
		return s.replacedCount() >= 1 && st.Pools[0].Available == 2 && st.Load.Requests > before+100
	})
	seen := map[string]bool{}
	for _, a := range addresses(s) {
		seen[a] = true
	}
	sum := s.Stop()
	t.Logf("summary: %+v", sum)
	if sum.Errors != 0 {
		t.Errorf("%d client-visible errors after killing a backend (last: %s)", sum.Errors, sum.LastError)
	}
	if sum.Replacements < 1 {
		t.Errorf("replacements %d, want >= 1", sum.Replacements)
	}
	assertNothingLeft(t, seen)
}

func (s *Stack) replacedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replaced
}

func TestPatternInterpolatesAndWraps(t *testing.T) {
	p := Pattern{Step: time.Hour, Rates: []float64{0, 1}}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {30 * time.Minute, 0.5}, {time.Hour, 1}, {90 * time.Minute, 0.5}, {2 * time.Hour, 0}} {
		if got := p.At(tc.at); got != tc.want {
			t.Errorf("At(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
	day := BuiltinDay()
	if got := day.At(0); got > 0.2 {
		t.Errorf("built-in day starts at %v of the peak, want a trough", got)
	}
	if got := day.At(8 * time.Hour); got < 0.9 {
		t.Errorf("built-in day 8 h after its start is at %v of the peak, want near the peak", got)
	}
}

func TestTracePatternNormalisesToPeak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	csv := "time,requests\n2024-01-01T00:00:00Z,60\n2024-01-01T00:01:00Z,120\n2024-01-01T00:02:00Z,30\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := TracePattern(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Step != time.Minute || len(p.Rates) != 3 || p.Rates[0] != 0.5 || p.Rates[1] != 1 || p.Rates[2] != 0.25 {
		t.Fatalf("pattern %+v", p)
	}
	if err := p.StartAt(p.Start.Add(time.Minute)); err != nil || p.At(0) != 1 {
		t.Errorf("StartAt one minute in: %v, At(0) = %v, want 1", err, p.At(0))
	}
	if err := p.StartAt(p.Start.Add(time.Hour)); err == nil {
		t.Error("StartAt past the end: no error")
	}
	if _, err := TracePattern(filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Fatal("missing trace: no error")
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	if h.quantile(0.99) != 0 {
		t.Fatal("empty histogram: nonzero quantile")
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	p99 := h.quantile(0.99)
	if p99 < 990*time.Millisecond || p99 > 1040*time.Millisecond {
		t.Fatalf("p99 of 1..1000 ms = %s, want 990 ms within 5%%", p99)
	}
}

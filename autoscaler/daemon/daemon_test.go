package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/autoscaler/store"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/lease"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

const interval = time.Minute

// fakeSource serves load from a function of time. As a point source it
// answers one sample at q.To, like the gateway scrape; as a range source
// one per step in [From, To], like Prometheus.
type fakeSource struct {
	mu      sync.Mutex
	load    func(time.Time) float64
	fail    bool
	queries []autoscaler.Query
	rangeQ  bool
}

func (f *fakeSource) Query(_ context.Context, q autoscaler.Query) ([]autoscaler.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.fail {
		return nil, errors.New("scrape: connection refused")
	}
	if !f.rangeQ {
		return []autoscaler.Sample{{Time: q.To, Value: f.load(q.To)}}, nil
	}
	var out []autoscaler.Sample
	for t := q.From.Truncate(q.Step); !t.After(q.To); t = t.Add(q.Step) {
		if v := f.load(t); !t.Before(q.From) && v >= 0 { // < 0: no data yet
			out = append(out, autoscaler.Sample{Time: t, Value: f.load(t)})
		}
	}
	return out, nil
}

// loadOf is a source whose load is v.
func loadOf(v float64) *fakeSource {
	s := &fakeSource{}
	s.set(v)
	return s
}

func (f *fakeSource) set(load float64) {
	f.mu.Lock()
	f.load = func(time.Time) float64 { return load }
	f.mu.Unlock()
}

// fakeGroup is an actuator whose instances are in service at once. Two
// daemons may share one, like two replicas share an ASG.
type fakeGroup struct {
	mu    sync.Mutex
	st    autoscaler.GroupState
	calls []int
}

func newFakeGroup(desired int) *fakeGroup {
	return &fakeGroup{st: autoscaler.GroupState{Name: "web", Min: 1, Max: 20, Desired: desired, InService: desired}}
}

func (f *fakeGroup) Describe(context.Context, string) (autoscaler.GroupState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

func (f *fakeGroup) SetDesired(_ context.Context, _ string, n int, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Desired, f.st.InService = n, n
	f.calls = append(f.calls, n)
	return nil
}

func (f *fakeGroup) desired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Desired
}

func testPolicies() scaling.Set {
	tt := scaling.DefaultTargetTracking(10)
	tt.ScaleOutDatapoints, tt.ScaleInDatapoints = 3, 3
	return scaling.Set{TargetTracking: []scaling.TargetTracking{tt},
		Behavior: scaling.Behavior{ScaleInStabilization: 10 * time.Minute}}
}

func newTestDaemon(t *testing.T, clk clock.Clock, src *fakeSource, act autoscaler.Actuator, st *store.Dir, l autoscaler.Lease, holder string, log io.Writer) *Daemon {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	d, err := New(Options{
		Groups: []Group{{Name: "web", Min: 1, Max: 20, Policies: testPolicies(), Source: src, Range: src.rangeQ,
			Metric: "web", Actuator: act}},
		Interval: interval, Clock: clk, Store: st, Lease: l, Holder: holder, LeaseTTL: 15 * time.Second,
		Log: slog.New(slog.NewJSONHandler(log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPersistenceAcrossRestart: a daemon sees two datapoints of high load,
// is replaced by a new one on the same state directory, and the third
// datapoint completes the high alarm only if the history survived. The
// decision core's state and the decision log must come back too.
func TestPersistenceAcrossRestart(t *testing.T) {
	cases := []struct {
		name          string
		rounds        int // before the restart
		persist       bool
		rangeSource   bool
		wantRestored  int // samples restored
		wantDesired   int // after the first round after the restart
		wantHistory   int // samples after it
		wantFirstFrom time.Time
	}{
		{name: "point source with state dir", rounds: 2, persist: true, wantRestored: 2, wantDesired: 5, wantHistory: 3},
		{name: "range source with state dir: no refetch after restart", rounds: 1, persist: true, rangeSource: true,
			wantRestored: 2, wantDesired: 5, wantHistory: 3, wantFirstFrom: t0.Add(2 * interval)},
		{name: "no state dir: history forgotten, no scale-out", rounds: 2, persist: false, wantRestored: 0, wantDesired: 1, wantHistory: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			// The range source's metric exists from t0 on: the first round
			// backfills it (t0 and t0+1m).
			src := &fakeSource{rangeQ: tc.rangeSource}
			src.load = func(at time.Time) float64 {
				if at.Before(t0) {
					return -1
				}
				return 50
			}
			act := newFakeGroup(1)
			dir := filepath.Join(t.TempDir(), "state")
			open := func() *store.Dir {
				if !tc.persist {
					return nil
				}
				s, err := store.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			ctx := context.Background()
			d := newTestDaemon(t, clk, src, act, open(), nil, "a", nil)
			for range tc.rounds {
				clk.Advance(interval)
				d.RunOnce(ctx)
			}
			if act.desired() != 1 {
				t.Fatalf("before restart: desired %d, want 1 (alarm needs 3 datapoints)", act.desired())
			}
			before, _ := json.Marshal(&d.groups[0].core)
			beforeDecisions := d.Status().Groups[0].RecentDecisions

			src.mu.Lock()
			src.queries = nil
			src.mu.Unlock()
			d2 := newTestDaemon(t, clk, src, act, open(), nil, "a", nil)
			s := d2.Status().Groups[0]
			if s.Samples != tc.wantRestored {
				t.Fatalf("restored %d samples, want %d", s.Samples, tc.wantRestored)
			}
			if tc.persist {
				after, _ := json.Marshal(&d2.groups[0].core)
				if string(after) != string(before) || len(before) < 10 {
					t.Errorf("core state restored as %s, saved %s", after, before)
				}
				if len(s.RecentDecisions) != tc.rounds || !s.RecentDecisions[tc.rounds-1].Time.Equal(beforeDecisions[tc.rounds-1].Time) {
					t.Errorf("restored decisions %+v, want %+v", s.RecentDecisions, beforeDecisions)
				}
			}
			clk.Advance(interval)
			d2.RunOnce(ctx)
			if got := act.desired(); got != tc.wantDesired {
				t.Fatalf("after restart: desired %d, want %d", got, tc.wantDesired)
			}
			if n := d2.Status().Groups[0].Samples; n != tc.wantHistory {
				t.Errorf("history %d samples, want %d", n, tc.wantHistory)
			}
			if tc.persist {
				disk, err := open().Load("web")
				if err != nil || len(disk.History) != tc.wantHistory || len(disk.Decisions) != tc.rounds+1 || len(disk.Core) == 0 {
					t.Errorf("on disk: %d samples, %d decisions, core %q, err %v", len(disk.History), len(disk.Decisions), disk.Core, err)
				}
			}
			if !tc.wantFirstFrom.IsZero() {
				if got := src.queries[0].From; !got.Equal(tc.wantFirstFrom) {
					t.Errorf("first query after restart from %s, want %s (right after the restored history)", got, tc.wantFirstFrom)
				}
			}
		})
	}
}

// TestLeaseHandoverBetweenReplicas: two daemons share a lock-file lease
// and one group. Only the holder acts; the standby still fetches metrics;
// when the holder stops renewing, the standby takes over after the TTL
// with a higher token and acts on the history it kept warm.
func TestLeaseHandoverBetweenReplicas(t *testing.T) {
	clk := clock.NewFake(t0)
	src := loadOf(50)
	act := newFakeGroup(1)
	leasePath := filepath.Join(t.TempDir(), "autoscaler.lease")
	var logB bytes.Buffer
	a := newTestDaemon(t, clk, src, act, nil, lease.NewFile(leasePath, clk), "a", nil)
	b := newTestDaemon(t, clk, src, act, nil, lease.NewFile(leasePath, clk), "b", &logB)
	ctx := context.Background()

	steps := []struct {
		load        float64
		renewing    string // replica whose renew loop (every TTL/3 in Run) is alive
		run         string // replicas running this round, in order
		wantActing  string // the replica not on standby
		wantDesired int
		wantToken   uint64
	}{
		{50, "a", "ab", "a", 1, 1}, // a takes the free lease first
		{50, "a", "ba", "a", 1, 1},
		// 3 datapoints above target. b runs first and would scale out if
		// it did not respect the lease; a does.
		{50, "a", "ba", "a", 5, 1},
		{100, "a", "ba", "a", 5, 1},
		{100, "a", "ba", "a", 5, 1},
		// a stops renewing (hung or dead, no release). One interval later
		// its 15 s lease has expired: b takes over with token 2 and acts at
		// once on the datapoints it fetched while standing by.
		{100, "", "b", "b", 10, 2},
		{100, "b", "ab", "b", 10, 2}, // a is back, but b renewed: a stands by
	}
	replicas := map[rune]*Daemon{'a': a, 'b': b}
	for i, s := range steps {
		clk.Advance(interval)
		src.set(s.load)
		for _, name := range s.renewing {
			replicas[name].renewLease(ctx)
		}
		for _, name := range s.run {
			d := replicas[name]
			r := d.RunOnce(ctx)[0]
			if r.Load == nil {
				t.Fatalf("round %d: %c did not fetch metrics", i, name)
			}
			acting := string(name) == s.wantActing
			if r.Standby == acting || (r.Acted && !acting) {
				t.Fatalf("round %d: %c standby=%v acted=%v, want acting=%v", i, name, r.Standby, r.Acted, acting)
			}
			st := d.Status().Lease
			if st.Token != s.wantToken {
				t.Fatalf("round %d: %c sees token %d, want %d", i, name, st.Token, s.wantToken)
			}
			// A standby names the replica acting, not only itself.
			if st.Holder != s.wantActing || st.Self != string(name) {
				t.Fatalf("round %d: %c's status says holder %q, self %q; want %q, %q", i, name, st.Holder, st.Self, s.wantActing, string(name))
			}
		}
		if got := act.desired(); got != s.wantDesired {
			t.Fatalf("round %d: desired %d, want %d", i, got, s.wantDesired)
		}
	}
	if fmtInts(act.calls) != "[5 10]" {
		t.Errorf("SetDesired calls %v, want [5 10] (one per change, none from a standby)", act.calls)
	}
	// The decision log says who acted and with which token.
	if !strings.Contains(logB.String(), `"lease_token":2`) || !strings.Contains(logB.String(), `"acted":true`) {
		t.Errorf("b's decision log lacks the token or the action:\n%s", logB.String())
	}
}

func fmtInts(v []int) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), ",", " ")
}

// TestRunLoop drives Run with the fake clock: ticks cause rounds, the
// lease renews on its own ticker, cancel releases the lease.
func TestRunLoop(t *testing.T) {
	clk := clock.NewFake(t0)
	src := loadOf(50)
	act := newFakeGroup(1)
	leasePath := filepath.Join(t.TempDir(), "lease")
	d := newTestDaemon(t, clk, src, act, nil, lease.NewFile(leasePath, clk), "a", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	testkit.Eventually(t, "tickers scheduled", func() bool { return clk.Waiters() == 2 })
	testkit.Eventually(t, "first round at start", func() bool { return len(d.Status().Groups[0].RecentDecisions) == 1 })
	for i := range 2 {
		clk.Advance(interval)
		testkit.Eventually(t, "round done", func() bool { return len(d.Status().Groups[0].RecentDecisions) == i+2 })
	}
	if act.desired() != 5 {
		t.Fatalf("desired %d, want 5", act.desired())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Released: another replica gets the lease at once, with a new token.
	held, tok, err := lease.NewFile(leasePath, clk).TryAcquire(context.Background(), "b", time.Minute)
	if err != nil || !held || tok != 2 {
		t.Fatalf("after Run returned: b TryAcquire = %v, %d, %v; want the released lease with token 2", held, tok, err)
	}
}

// TestFailingSourceIsNotZeroLoad: a failing source never scales in, is
// counted, and is named in the decision.
func TestFailingSourceIsNotZeroLoad(t *testing.T) {
	clk := clock.NewFake(t0)
	src := loadOf(50)
	act := newFakeGroup(1)
	d := newTestDaemon(t, clk, src, act, nil, nil, "a", nil)
	ctx := context.Background()
	for range 3 {
		clk.Advance(interval)
		d.RunOnce(ctx)
	}
	src.mu.Lock()
	src.fail = true
	src.mu.Unlock()
	for range 20 {
		clk.Advance(interval)
		r := d.RunOnce(ctx)[0]
		if r.SourceError == "" || !strings.Contains(r.Decision.Reason, "metric source failed") {
			t.Fatalf("round without source error report: %+v", r)
		}
	}
	if act.desired() != 5 {
		t.Fatalf("desired %d after 20 failed scrapes, want 5 (no scale-in on missing data)", act.desired())
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `drawbridge_autoscaler_metric_source_errors_total{group="web"} 20`) {
		t.Errorf("/metrics lacks the source error count:\n%s", rec.Body.String())
	}
}

func TestAdminEndpoints(t *testing.T) {
	clk := clock.NewFake(t0)
	src := loadOf(50)
	d := newTestDaemon(t, clk, src, newFakeGroup(2), nil, nil, "a", nil)
	d.RunOnce(context.Background())
	h := d.Handler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	cases := []struct {
		advance  time.Duration
		path     string
		wantCode int
		want     []string
	}{
		{0, "/healthz", 200, []string{"ok"}},
		{0, "/metrics", 200, []string{"drawbridge_autoscaler_decisions_total{direction=\"hold\",group=\"web\"} 1",
			"drawbridge_autoscaler_lease_held 1", "drawbridge_autoscaler_current_capacity{group=\"web\"} 2"}},
		{0, "/status", 200, []string{`"holder": "a"`, `"held": true`, `"name": "web"`, `"proposals"`}},
		{4 * interval, "/healthz", 503, []string{"no round since"}},
	}
	for _, tc := range cases {
		clk.Advance(tc.advance)
		code, body := get(tc.path)
		if code != tc.wantCode {
			t.Errorf("%s: %d, want %d", tc.path, code, tc.wantCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", tc.path, w, body)
			}
		}
	}
	var st Status
	_, body := get("/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Groups) != 1 || st.Groups[0].LastRound == nil {
		t.Fatalf("/status does not decode to a Status: %v\n%s", err, body)
	}
}

func TestExplainDoesNotAct(t *testing.T) {
	clk := clock.NewFake(t0)
	src := loadOf(50)
	act := newFakeGroup(1)
	st, _ := store.Open(t.TempDir())
	d := newTestDaemon(t, clk, src, act, st, nil, "a", nil)
	e := explainAfterRounds(t, d, clk, 2)
	if e.Decision.Desired != 5 || act.desired() != 1 || len(act.calls) != 0 {
		t.Fatalf("explain: desired %d, actuator at %d with calls %v; want 5 proposed and nothing done", e.Decision.Desired, act.desired(), act.calls)
	}
	if n := len(d.groups[0].history); n != 2 {
		t.Fatalf("explain changed the history: %d samples, want 2", n)
	}
	var out bytes.Buffer
	e.WriteText(&out)
	for _, w := range []string{"POLICY", "target_tracking", "high alarm", "1 -> 5"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("explain output lacks %q:\n%s", w, out.String())
		}
	}
	if _, err := d.Explain(context.Background(), "nope", 0); err == nil {
		t.Error("unknown group explained")
	}
}

// TestForecastPersistsAcrossRestart: a predictive policy fits its
// forecast on backfilled history; a restarted daemon restores it and,
// within the refresh period, uses it without refitting.
func TestForecastPersistsAcrossRestart(t *testing.T) {
	clk := clock.NewFake(t0)
	// Three days of a daily pattern, before t0, from a range source.
	src := &fakeSource{rangeQ: true, load: func(at time.Time) float64 {
		if at.Before(t0.Add(-72 * time.Hour)) {
			return -1
		}
		return 100 + 50*float64(at.Hour()%12)
	}}
	dir := t.TempDir()
	newD := func() *Daemon {
		st, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		set := scaling.Set{Predictive: []scaling.Predictive{scaling.DefaultPredictive(10)}}
		d, err := New(Options{
			Groups:   []Group{{Name: "web", Min: 1, Max: 100, Policies: set, Source: src, Range: true, Actuator: newFakeGroup(1)}},
			Interval: interval, Clock: clk, Store: st,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ctx := context.Background()
	d := newD()
	d.RunOnce(ctx)
	f := d.Status().Groups[0].Forecasts["predictive"]
	if f == nil || len(f.Values) == 0 {
		t.Fatalf("no forecast after a round on 3 days of history: %+v", d.Status().Groups[0])
	}
	fitted := f.FittedAt

	clk.Advance(10 * time.Minute)
	d2 := newD()
	if g := d2.Status().Groups[0].Forecasts["predictive"]; g == nil || !g.FittedAt.Equal(fitted) || len(g.Values) != len(f.Values) {
		t.Fatalf("forecast not restored: %+v", g)
	}
	d2.RunOnce(ctx)
	if g := d2.Status().Groups[0].Forecasts["predictive"]; g == nil || !g.FittedAt.Equal(fitted) {
		t.Fatalf("restored forecast was refitted within the refresh period: %+v", g)
	}
}

// TestWarmup: instances that entered service within the warm-up count as
// warming (toward desired, not toward the metric) until it has passed.
func TestWarmup(t *testing.T) {
	g := &group{Group: Group{Warmup: 3 * time.Minute}}
	steps := []struct {
		at                     time.Duration
		inService              int
		wantInSvc, wantWarming int
	}{
		{0, 2, 2, 0}, // first look: nothing known to be new
		{1 * time.Minute, 5, 2, 3},
		{2 * time.Minute, 6, 2, 4},
		{4 * time.Minute, 6, 5, 1}, // the first 3 are warm now
		{5 * time.Minute, 4, 4, 0}, // scale-in: nothing warming remains
	}
	for i, s := range steps {
		st := autoscaler.GroupState{InService: s.inService}
		g.applyWarmup(t0.Add(s.at), &st)
		if st.InService != s.wantInSvc || st.Warming != s.wantWarming {
			t.Fatalf("step %d: in service %d warming %d, want %d %d", i, st.InService, st.Warming, s.wantInSvc, s.wantWarming)
		}
	}
}

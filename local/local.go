// Package local runs the whole traffic core on one machine, on loopback:
// a pool of `drawbridge backend` processes, the gateway in front of them,
// the autoscaler daemon with the local actuator (which starts and stops
// backend processes), and a load generator replaying a daily pattern or a
// trace at N× speed. The gateway's admin listener serves the dashboard.
// It is `drawbridge local`: the first thing a newcomer runs.
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/actuator"
	"github.com/drawbridge-dev/drawbridge/autoscaler/daemon"
	"github.com/drawbridge-dev/drawbridge/autoscaler/loadsource"
	"github.com/drawbridge-dev/drawbridge/autoscaler/scaling"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/server"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Group is the name of the autoscaled group and of its gateway pool.
const Group = "web"

// DefaultSpeed replays a day in 40 s: a scale-out and a scale-in within
// the first minute.
const DefaultSpeed = 86400.0 / 40

// Options configure a Stack; the zero value is the `drawbridge local`
// default.
type Options struct {
	Listen string // gateway; default 127.0.0.1:8080
	Admin  string // admin listener and dashboard; default 127.0.0.1:9090

	Pattern Pattern // default BuiltinDay()
	Speed   float64 // replayed seconds per real second; default DefaultSpeed
	Peak    float64 // req/s at the peak of the first replayed day; default 200

	Target   float64       // req/s per backend the autoscaler aims at; default 40
	Min, Max int           // group bounds; default 1 and 6
	Interval time.Duration // autoscaler decision interval; default 1s

	// BackendCommand is the backend's argv before "--listen ADDR --id ID";
	// empty runs this executable's backend subcommand.
	BackendCommand []string
	BackendEnv     []string

	// Log receives the gateway's, autoscaler's and actuator's operational
	// logs; nil discards them (the terminal shows the live summary).
	Log *slog.Logger
	// BackendOutput receives the backend processes' own output; nil
	// discards it, so that it does not interleave with the live summary.
	BackendOutput io.Writer
}

func (o *Options) setDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.Admin == "" {
		o.Admin = "127.0.0.1:9090"
	}
	if len(o.Pattern.Rates) == 0 {
		o.Pattern = BuiltinDay()
	}
	if o.Speed <= 0 {
		o.Speed = DefaultSpeed
	}
	if o.Peak <= 0 {
		o.Peak = 200
	}
	if o.Target <= 0 {
		o.Target = 40
	}
	if o.Min <= 0 {
		o.Min = 1
	}
	if o.Max <= 0 {
		o.Max = 6
	}
	if o.Max < o.Min {
		o.Max = o.Min
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Stack is a running local mode. Start it with Start; always Stop it.
type Stack struct {
	opt       Options
	started   time.Time
	loadStart time.Time
	readyIn   time.Duration
	dayPeak   float64 // the pattern's highest value in its first day
	urls      dashboard.URLs

	gw  *gateway.Gateway
	act *actuator.Local
	d   *daemon.Daemon
	lg  *loadGen

	cancelLoad, cancelCore, cancelSink, cancelGateway context.CancelFunc
	loadDone, coreDone, sinkDone, gatewayDone         chan struct{}
	gatewayErr                                        error
	stopOnce                                          sync.Once
	summary                                           Summary

	mu           sync.Mutex
	series       []dashboard.Point
	decisions    []dashboard.Decision
	lastDecision time.Time // newest daemon decision already logged
	prevReqs     map[string]uint64
	prevTotal    int64
	prevAt       time.Time
	backendRPS   map[string]float64
	rps, p99     float64
	capacity     int // desired instances
	peak         int
	outs, ins    int
	replaced     int
	acted        map[string]bool // policies that carried a scaling decision
}

// Start brings everything up and returns once the gateway answers through
// a healthy backend. On error, whatever was started has been stopped.
func Start(ctx context.Context, opt Options) (_ *Stack, err error) {
	opt.setDefaults()
	s := &Stack{opt: opt, started: time.Now(), prevReqs: map[string]uint64{}, backendRPS: map[string]float64{}, acted: map[string]bool{}}
	s.capacity, s.peak = opt.Min, opt.Min
	if s.dayPeak = opt.Pattern.FirstDayPeak(); s.dayPeak <= 0 {
		return nil, errors.New("local: the load pattern is zero for its whole first day")
	}

	sink := newReadySink()
	s.act, err = actuator.NewLocal(actuator.LocalOptions{Group: Group, Min: opt.Min, Max: opt.Max,
		Command: opt.BackendCommand, Env: opt.BackendEnv, Sink: sink, StopTimeout: 3 * time.Second, Log: opt.Log,
		Output: cmp.Or[io.Writer](opt.BackendOutput, io.Discard)})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	sctx, cancelSink := context.WithCancel(context.Background())
	s.cancelSink, s.sinkDone = cancelSink, make(chan struct{})
	go func() { defer close(s.sinkDone); sink.run(sctx) }()
	if err := s.act.SetDesired(ctx, Group, opt.Min, "local mode: initial capacity"); err != nil {
		return s, err
	}

	cfg, err := gatewayConfig(opt, s.act.Backends())
	if err != nil {
		return s, err
	}
	type ready struct {
		l server.Listeners
		g *gateway.Gateway
	}
	readyc := make(chan ready, 1)
	gctx, cancel := context.WithCancel(context.Background())
	s.cancelGateway, s.gatewayDone = cancel, make(chan struct{})
	r := &server.Runner{Config: cfg,
		Options: gateway.Options{Logger: opt.Log, AdminRoutes: map[string]http.Handler{"GET /dashboard/": dashboard.Handler(s.State)}},
		Ready:   func(l server.Listeners, g *gateway.Gateway) { readyc <- ready{l, g} }}
	go func() { defer close(s.gatewayDone); s.gatewayErr = r.Run(gctx) }()
	select {
	case rd := <-readyc:
		s.mu.Lock()
		s.gw = rd.g
		s.urls = dashboard.URLs{Gateway: "http://" + rd.l.HTTP.String(), Admin: "http://" + rd.l.Admin.String(),
			Dashboard: "http://" + rd.l.Admin.String() + "/dashboard/"}
		s.mu.Unlock()
	case <-s.gatewayDone:
		return s, fmt.Errorf("gateway: %w", s.gatewayErr)
	case <-ctx.Done():
		return s, ctx.Err()
	}
	if err := sink.attach(s.gw.Pool(Group)); err != nil {
		return s, err
	}
	if err := waitServing(ctx, s.urls.Gateway+"/", 10*time.Second); err != nil {
		return s, err
	}
	s.readyIn = time.Since(s.started)

	d, err := daemon.New(daemon.Options{
		Groups: []daemon.Group{{Name: Group, Min: opt.Min, Max: opt.Max, Policies: policies(opt),
			Source: loadsource.NewGateway(s.urls.Admin+"/metrics", nil, clock.Real{}), Metric: Group, Actuator: s.act}},
		Interval: opt.Interval, Clock: clock.Real{}, Log: opt.Log,
	})
	if err != nil {
		return s, err
	}
	lg := newLoadGen(s.urls.Gateway+"/", s.demand)
	// The dashboard may already be polling State.
	s.mu.Lock()
	s.d, s.lg, s.loadStart = d, lg, time.Now()
	s.mu.Unlock()

	lctx, cancel := context.WithCancel(context.Background())
	s.cancelLoad, s.loadDone = cancel, make(chan struct{})
	go func() { defer close(s.loadDone); lg.run(lctx) }()

	cctx, cancel := context.WithCancel(context.Background())
	s.cancelCore, s.coreDone = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = s.d.Run(cctx) }()
	go func() { defer wg.Done(); s.sample(cctx) }()
	go func() { wg.Wait(); close(s.coreDone) }()
	return s, nil
}

// gatewayConfig is one route to one pool of the initial backends, with
// the resilience settings that make a killed backend invisible to
// clients: retries elsewhere, fast passive ejection and active checks.
func gatewayConfig(opt Options, specs []upstream.Spec) (*config.Config, error) {
	var addrs []string
	for _, sp := range specs {
		addrs = append(addrs, sp.Address)
	}
	cfg, err := config.Default(addrs)
	if err != nil {
		return nil, err
	}
	cfg.Listen, cfg.Admin.Listen = opt.Listen, opt.Admin
	cfg.AccessLog.Enabled = false
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.Routes[0].Name, cfg.Routes[0].Pool = Group, Group
	retry := config.Retry{}
	retry.SetDefaults()
	retry.MaxRetries, retry.BudgetMin, retry.BackoffBase, retry.BackoffMax = 3, 16, time.Millisecond, 5*time.Millisecond
	cfg.Routes[0].Retry = &retry

	p := &cfg.Pools[0]
	p.Name, p.Strategy = Group, balance.LeastConnections
	for i := range p.Backends {
		p.Backends[i].ID = specs[i].ID // the actuator's ids, so its updates match
	}
	hc := config.DefaultHealthCheck()
	hc.Interval, hc.Timeout, hc.HealthyThreshold, hc.UnhealthyThreshold = 500*time.Millisecond, 250*time.Millisecond, 1, 1
	p.HealthCheck = &hc
	out := config.Outlier{}
	out.SetDefaults()
	out.ConsecutiveFailures, out.BaseEjection, out.MaxEjection = 1, time.Second, 2*time.Second
	p.Outlier = &out
	cb := config.CircuitBreaker{}
	cb.SetDefaults()
	cb.CoolDown = 5 * time.Second
	p.CircuitBreaker = &cb
	p.Timeouts.Connect = 500 * time.Millisecond
	return cfg, cfg.Validate()
}

// policies is target tracking tuned for a demo: two datapoints of a 1 s
// interval to scale out, three to scale in, a 3 s stabilization window.
// Predictive scaling needs 24 h of history, which a demo lacks; the
// dashboard's forecast is computed by local mode for display.
func policies(opt Options) scaling.Set {
	tt := scaling.DefaultTargetTracking(opt.Target)
	tt.ScaleOutDatapoints, tt.ScaleInDatapoints = 2, 3
	return scaling.Set{TargetTracking: []scaling.TargetTracking{tt},
		Behavior: scaling.Behavior{ScaleInStabilization: 3 * opt.Interval}}
}

// demand is the request rate the load generator sends elapsed after its
// start: the pattern scaled so that its first day peaks at opt.Peak, and
// never more than twice that (later days of a trace may be much busier).
func (s *Stack) demand(elapsed time.Duration) float64 {
	v := s.opt.Pattern.At(time.Duration(float64(elapsed)*s.opt.Speed)) / s.dayPeak
	return s.opt.Peak * min(v, 2)
}

// waitServing polls url until it answers 200 or timeout passes.
func waitServing(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway not serving at %s after %s: %w", url, timeout, last)
		case <-t.C:
		}
	}
}

// URLs are where the stack serves.
func (s *Stack) URLs() dashboard.URLs { return s.urls }

// ReadyIn is how long Start took to have the gateway answering through a
// healthy backend.
func (s *Stack) ReadyIn() time.Duration { return s.readyIn }

// halt cancels a part of the stack and waits until it has returned
// (done closes); a part that never started (cancel nil) is skipped.
func halt(cancel context.CancelFunc, done <-chan struct{}) {
	if cancel != nil {
		cancel()
		<-done
	}
}

// Stop stops the load, the autoscaler, every backend process and the
// gateway, in that order, and returns the run's summary. It is safe to
// call more than once.
func (s *Stack) Stop() Summary {
	s.stopOnce.Do(func() {
		halt(s.cancelLoad, s.loadDone)
		halt(s.cancelCore, s.coreDone)
		if s.lg != nil {
			s.summary = s.summarize()
		}
		if s.act != nil {
			_ = s.act.Close() // SIGTERM, then SIGKILL, to every backend's process group
		}
		halt(s.cancelSink, s.sinkDone)
		halt(s.cancelGateway, s.gatewayDone)
	})
	return s.summary
}

// Err reports a gateway that stopped on its own (a listener failed).
func (s *Stack) Err() error {
	select {
	case <-s.gatewayDone:
		if s.gatewayErr != nil {
			return s.gatewayErr
		}
		return errors.New("gateway stopped")
	default:
		return nil
	}
}

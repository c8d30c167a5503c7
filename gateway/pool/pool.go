// Package pool is the gateway's backend pools: membership kept across
// reloads (a backend with the same id, address and weight keeps its state),
// the per-backend machinery (connections, breaker, bulkhead, metrics), and
// the forward stage that ends a route's chain with its tries and retries.
package pool

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// poolSettings is everything about a pool that comes from configuration.
type poolSettings struct {
	strategy  string
	balOpts   balance.Options
	hashKey   string
	sticky    *stickySettings
	proxy     proxy.Options
	health    *health.CheckConfig
	outlier   *health.OutlierConfig
	slowStart time.Duration
	backends  []upstream.Spec
	// discovered pools take their membership from a discovery provider: a
	// config reload keeps the current members instead of re-applying the
	// backends list (which is only the seed).
	discovered bool

	breaker    *resilience.BreakerConfig // nil: no circuit breaking
	perBackend *config.Concurrency       // nil: no per-backend bulkhead
}

type stickySettings struct {
	cookie string
	secret string
	ttl    time.Duration
}

// poolView is the immutable snapshot the hot path reads.
type poolView struct {
	bal      balance.Balancer
	key      balance.KeyFunc
	sticky   *balance.Sticky
	strategy string
	members  []*upstream.Backend
	byID     map[string]*upstream.Backend
	outlier  *health.Outlier // nil when passive ejection is off
}

func (v *poolView) lookup(id string) *upstream.Backend { return v.byID[id] }

// Members are the pool's backends now.
func (p *Pool) Members() []*upstream.Backend { return p.view.Load().members }

// Backend is the member with that id now, or nil.
func (p *Pool) Backend(id string) *upstream.Backend { return p.view.Load().lookup(id) }

// member is what the pool attaches to each backend, through ext.
type member struct {
	up      *proxy.Upstream
	m       *backendMetrics
	breaker *resilience.Breaker  // nil: off
	bulk    *resilience.Bulkhead // nil: no limit
}

// newMember builds the per-backend machinery for b under settings s.
func (p *Pool) newMember(b *upstream.Backend, s *poolSettings, up *proxy.Upstream, m *backendMetrics) *member {
	mem := &member{up: up, m: m}
	if s.breaker != nil {
		mem.breaker = resilience.NewBreaker(*s.breaker, p.clk, func(from, to resilience.BreakerState) {
			// Open backends are skipped by every strategy; half-open ones
			// are picked again and the breaker admits only its probes.
			b.SetFlag(upstream.FlagCircuitOpen, to == resilience.Open)
			if to == resilience.Open {
				m.breakerOpens.Inc()
			}
			p.log.Info("circuit breaker", "backend", b.ID(), "from", from.String(), "to", to.String())
		})
	}
	if c := s.perBackend; c != nil {
		mem.bulk = resilience.NewBulkhead(c.Max, c.QueueSize, c.QueueTimeout, p.clk)
	}
	return mem
}

// Pool is a named set of backends with its strategy and health machinery.
// It lives across config reloads: membership and settings change in place,
// so in-flight requests, health state and idle connections survive.
type Pool struct {
	name    string
	clk     clock.Clock
	log     *slog.Logger
	metrics *Metrics

	view atomic.Pointer[poolView]

	tunnelsMu sync.Mutex
	tunnels   map[*upstream.Backend]map[io.Closer]struct{} // upgraded connections by backend

	mu       sync.Mutex // serialises reconfiguration
	settings poolSettings
	checker  *health.Checker
	outlier  *health.Outlier
	drained  map[string]bool // backend ids drained through the admin API
}

// Name is the pool's configured name.
func (p *Pool) Name() string { return p.name }

// Prepared is a pool configuration checked and built but not yet live:
// reloads build every pool first and commit only when all succeeded.
type Prepared struct {
	s      poolSettings
	bal    balance.Balancer // nil: keep the live one
	key    balance.KeyFunc
	sticky *balance.Sticky
	// fromDiscovery marks a membership snapshot (SetBackends), as opposed
	// to settings from a config reload.
	fromDiscovery bool
}

// Prepare checks and builds a pool's configuration without making it live:
// live is the pool it will replace the settings of, nil for a new one.
func Prepare(pc *config.Pool, live *Pool) (*Prepared, error) {
	return prepare(settingsFromConfig(pc), live)
}

func prepare(s poolSettings, live *Pool) (*Prepared, error) {
	pp := &Prepared{s: s}
	if live == nil || live.settings.strategy != s.strategy || live.settings.balOpts != s.balOpts {
		bal, err := balance.New(s.strategy, s.balOpts)
		if err != nil {
			return nil, err
		}
		pp.bal = bal
	}
	if s.hashKey != "" {
		k, err := balance.ParseKey(s.hashKey)
		if err != nil {
			return nil, err
		}
		pp.key = k
	}
	if s.sticky != nil {
		st, err := balance.NewSticky(s.sticky.cookie, []byte(s.sticky.secret), s.sticky.ttl)
		if err != nil {
			return nil, err
		}
		pp.sticky = st
	}
	return pp, nil
}

// New makes a live pool of prepared settings.
func New(name string, pp *Prepared, clk clock.Clock, log *slog.Logger, m *Metrics) *Pool {
	p := &Pool{name: name, clk: clk, log: log.With("pool", name), metrics: m}
	p.Commit(pp)
	return p
}

// Commit makes prepared settings live. It cannot fail.
func (p *Pool) Commit(pp *Prepared) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.view.Load()
	s := pp.s
	if s.discovered && !pp.fromDiscovery && old != nil {
		s.backends = p.settings.backends
	}
	prev := p.settings
	p.settings = s

	var current []*upstream.Backend
	if old != nil {
		current = old.members
	}
	// A backend with the same id and address is kept, its weight updated.
	diff := upstream.Diff(current, s.backends)
	diff.SetWeights(p.log)
	retired := p.attachMembers(old, diff.Members, &s, old == nil || prev.proxy != s.proxy,
		!reflect.DeepEqual(prev.breaker, s.breaker) || !reflect.DeepEqual(prev.perBackend, s.perBackend))
	p.replaceChecks(old == nil, prev, &s, diff.Members)

	p.keepDrains(diff.ByID) // before the view is live: a drained backend never serves
	p.view.Store(&poolView{bal: p.balancerFor(pp, old, diff.Members), key: pp.key, sticky: pp.sticky, strategy: s.strategy,
		members: diff.Members, byID: diff.ByID, outlier: p.outlier})

	for _, up := range retired {
		up.Close() // idle conns close now; in-flight ones finish first
	}
	if old != nil {
		p.retire(diff.Removed)
	}
}

// attachMembers gives every member its per-backend state: new ones get
// theirs (and ramp up if they join a running pool); kept ones get new
// state only if the proxy or breaker settings changed. It returns the
// endpoints that new proxy settings replaced.
func (p *Pool) attachMembers(old *poolView, members []*upstream.Backend, s *poolSettings, proxyChanged, breakerChanged bool) (retired []*proxy.Upstream) {
	now := p.clk.Now()
	for _, b := range members {
		if old != nil && old.byID[b.ID()] == b { // kept
			if proxyChanged || breakerChanged {
				prev := ext.Load(b)
				up := prev.up
				if proxyChanged {
					up = proxy.NewUpstream(b.Addr(), s.proxy)
					retired = append(retired, prev.up)
				}
				b.SetFlag(upstream.FlagCircuitOpen, false) // a fresh breaker starts closed
				ext.Store(b, p.newMember(b, s, up, prev.m))
			}
			continue
		}
		ext.Store(b, p.newMember(b, s, proxy.NewUpstream(b.Addr(), s.proxy), p.metrics.backend(p.name, b.ID())))
		if old != nil { // a backend joining a running pool ramps up
			b.StartSlowStart(now.UnixNano(), s.slowStart)
			p.log.Info("backend added", "backend", b.ID(), "address", b.Addr())
		}
	}
	return retired
}

// replaceChecks restarts the active checker and the outlier detector
// whose settings changed (or all, on the first commit), and hands both
// the new membership.
func (p *Pool) replaceChecks(first bool, prev poolSettings, s *poolSettings, members []*upstream.Backend) {
	logChange := func(b *upstream.Backend, healthy bool, reason string) {
		p.log.Info("backend health changed", "backend", b.ID(), "healthy", healthy, "reason", reason)
	}
	if first || !reflect.DeepEqual(prev.health, s.health) || prev.slowStart != s.slowStart || prev.proxy.TLS != s.proxy.TLS {
		if p.checker != nil {
			p.checker.Stop()
			p.checker = nil
		}
		if s.health != nil {
			p.checker = health.NewChecker(p.name, *s.health, p.clk, health.WithSlowStart(s.slowStart),
				health.WithOnChange(logChange), health.WithPanicChange(p.logPanic(s.health.PanicThreshold)),
				health.WithTLS(s.proxy.TLS)) // probes see what forwarding sees

		}
	}
	if p.checker != nil {
		p.checker.Update(members)
	}
	if first || !reflect.DeepEqual(prev.outlier, s.outlier) || prev.slowStart != s.slowStart {
		if p.outlier != nil {
			p.outlier.Stop()
			p.outlier = nil
		}
		if s.outlier != nil {
			p.outlier = health.NewOutlier(p.name, *s.outlier, p.clk, health.WithSlowStart(s.slowStart), health.WithOnChange(func(b *upstream.Backend, healthy bool, reason string) {
				// The outlier reports healthy=false only when it ejects.
				if mem := ext.Load(b); mem != nil && !healthy {
					mem.m.ejections.Inc()
				}
				logChange(b, healthy, reason)
			}))
		}
	}
	if p.outlier != nil {
		p.outlier.Update(members)
	}
}

// logPanic logs when the pool enters and leaves the checker's panic mode.
func (p *Pool) logPanic(threshold int) func(panic bool, healthy, total int) {
	return func(panic bool, healthy, total int) {
		if panic {
			p.log.Warn("pool in panic: too few backends pass their checks, so none is kept out",
				"healthy", healthy, "backends", total, "panic_threshold_percent", threshold)
		} else {
			p.log.Info("pool out of panic: checks keep failing backends out again", "healthy", healthy, "backends", total)
		}
	}
}

// balancerFor is the strategy that picks from members: pp's new one, or
// the running one when the strategy did not change.
func (p *Pool) balancerFor(pp *Prepared, old *poolView, members []*upstream.Backend) balance.Balancer {
	bal := pp.bal
	if bal == nil {
		bal = old.bal
	} else if old != nil {
		// A new strategy replaces the old one: unhook the old one's in-flight
		// index (least connections, bounded loads) before the new one hooks
		// its own, so no backend keeps feeding an index nobody reads.
		for _, b := range old.members {
			b.SetTracker(nil)
		}
	}
	bal.Update(members)
	return bal
}

// retire takes removed backends out: no new picks; requests in flight
// finish on their own connections, which then close.
func (p *Pool) retire(removed []*upstream.Backend) {
	for _, b := range removed {
		b.SetFlag(upstream.FlagDraining, true)
		ext.Load(b).up.Close()
		p.closeTunnels(b)
		p.metrics.forgetBackend(p.name, b.ID())
		p.log.Info("backend removed", "backend", b.ID(), "address", b.Addr(), "inflight", b.Inflight())
	}
}

// SetBackends replaces the static membership (discovery providers call it).
func (p *Pool) SetBackends(specs []upstream.Spec) error {
	p.mu.Lock()
	s := p.settings
	p.mu.Unlock()
	s.backends = specs
	pp, err := prepare(s, p)
	if err != nil {
		return fmt.Errorf("pool %q: %w", p.name, err)
	}
	pp.fromDiscovery = true
	p.Commit(pp)
	return nil
}

// report feeds passive outlier detection.
func (p *Pool) report(b *upstream.Backend, failed bool) {
	if o := p.outlierDetector(); o != nil {
		o.Report(b, failed)
	}
}

func (p *Pool) outlierDetector() *health.Outlier { return p.view.Load().outlier }

// Close stops health checking and drains every backend.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checker != nil {
		p.checker.Stop()
	}
	if p.outlier != nil {
		p.outlier.Stop()
	}
	if v := p.view.Load(); v != nil {
		for _, b := range v.members {
			b.SetFlag(upstream.FlagDraining, true)
			ext.Load(b).up.Close()
			p.closeTunnels(b)
			p.metrics.forgetBackend(p.name, b.ID())
		}
	}
}

// trackTunnel registers an upgraded connection to b; the returned function
// unregisters it when the tunnel ends.
func (p *Pool) trackTunnel(b *upstream.Backend, c io.Closer) func() {
	p.tunnelsMu.Lock()
	defer p.tunnelsMu.Unlock()
	if p.tunnels == nil {
		p.tunnels = map[*upstream.Backend]map[io.Closer]struct{}{}
	}
	if p.tunnels[b] == nil {
		p.tunnels[b] = map[io.Closer]struct{}{}
	}
	p.tunnels[b][c] = struct{}{}
	return func() {
		p.tunnelsMu.Lock()
		defer p.tunnelsMu.Unlock()
		delete(p.tunnels[b], c)
		if len(p.tunnels[b]) == 0 {
			delete(p.tunnels, b)
		}
	}
}

// closeTunnels ends the upgraded connections of a backend that left: a
// reload that keeps the backend keeps them.
func (p *Pool) closeTunnels(b *upstream.Backend) {
	p.tunnelsMu.Lock()
	cs := p.tunnels[b]
	delete(p.tunnels, b)
	p.tunnelsMu.Unlock()
	for c := range cs {
		_ = c.Close()
	}
}

// Status is the JSON view of a pool for the admin API.
func (p *Pool) Status(now time.Time) PoolStatus {
	v := p.view.Load()
	ps := PoolStatus{Name: p.name, Strategy: v.strategy}
	p.mu.Lock()
	checker := p.checker
	p.mu.Unlock()
	for _, b := range v.members {
		bs := BackendStatus{
			ID: b.ID(), Address: b.Addr(), Weight: b.Weight(),
			Available: b.Available(), Healthy: !b.HasFlag(upstream.FlagUnhealthy),
			Ejected: b.HasFlag(upstream.FlagEjected), Drained: b.HasFlag(upstream.FlagDraining), Circuit: circuitState(b), Inflight: b.Inflight(),
			Requests: b.Requests.Load(), Failures: b.Failures.Load(),
			LatencyMS:       b.LatencyCost(now.UnixNano()) / 1e6,
			SlowStartFactor: b.SlowStartFactor(now.UnixNano()),
		}
		if checker != nil {
			if cs, ok := checker.Status(b); ok {
				bs.LastCheckError = cs.LastError
			}
		}
		ps.Backends = append(ps.Backends, bs)
		if bs.Available {
			ps.Available++
		}
	}
	return ps
}

type PoolStatus struct {
	Name      string          `json:"name"`
	Strategy  string          `json:"strategy"`
	Available int             `json:"available"`
	Backends  []BackendStatus `json:"backends"`
}

type BackendStatus struct {
	ID              string  `json:"id"`
	Address         string  `json:"address"`
	Weight          int     `json:"weight"`
	Available       bool    `json:"available"`
	Healthy         bool    `json:"healthy"`
	Ejected         bool    `json:"ejected"`
	Drained         bool    `json:"drained"`
	Circuit         string  `json:"circuit,omitempty"` // closed, open, half_open; "" when off
	Inflight        int64   `json:"inflight"`
	Requests        uint64  `json:"requests"`
	Failures        uint64  `json:"failures"`
	LatencyMS       float64 `json:"latency_ewma_ms"`
	SlowStartFactor float64 `json:"slow_start_factor"`
	LastCheckError  string  `json:"last_check_error,omitempty"`
}

// circuitState names the backend's breaker state, "" when it has none.
func circuitState(b *upstream.Backend) string {
	if mem := ext.Load(b); mem != nil && mem.breaker != nil {
		return mem.breaker.State().String()
	}
	return ""
}

// HealthChecker is the pool's active checker (nil without checks), for
// tests that step its probes.
func (p *Pool) HealthChecker() *health.Checker { return p.checker }

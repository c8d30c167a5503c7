// Package gateway is drawbridge's L7 gateway: the single entry point that
// routes each request to a pool, picks a backend with the pool's strategy
// and forwards to it. Configuration is compiled into an immutable runtime
// swapped atomically on reload; pools live across reloads so that health,
// in-flight counts and connections survive.
package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/accesslog"
	"github.com/drawbridge-dev/drawbridge/gateway/acme"
	"github.com/drawbridge-dev/drawbridge/gateway/admin"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/hygiene"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/pipeline"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
	"github.com/drawbridge-dev/drawbridge/gateway/split"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
)

// runtime is one compiled configuration generation.
type runtime struct {
	cfg        *config.Config
	table      *route.Table
	routes     []*routeRuntime // by route.Index
	generation uint64
	loadedAt   time.Time
	accessLog  *accesslog.Logger // nil when off
	// maxConcurrent sheds load beyond this many requests; 0 = no limit.
	maxConcurrent int64
	// rules are the request hygiene rules of the server section.
	rules *hygiene.Rules
}

type routeRuntime struct {
	r     *route.Route
	m     *pool.RouteMetrics
	fwd   *pool.Forward    // the chain's end, committed with the route
	chain pipeline.Handler // the route's stages, ending in the forward
	// idHeader is the identity header a client must never set itself.
	idHeader string
	upgrades []string // protocols a client may switch to (routes[].upgrade)
}

// Pool is a named set of backends (see package pool); Metrics the
// gateway's Prometheus collectors, pools' included.
type (
	Pool    = pool.Pool
	Metrics = pool.Metrics
)

// routeExtras are the per-route pieces built, and checked, before a
// configuration is committed.
type routeExtras struct {
	rr     *routeRuntime
	stages pipeline.Route
}

// prepareRoute builds a route's stages and compiles its chain; the route
// runtime it ends in is filled in when the configuration commits. pooled:
// the route's pool exists.
func (g *Gateway) prepareRoute(rc *config.Route, pooled bool) (x routeExtras, err error) {
	if x.stages, err = g.stages.Route(rc); err != nil {
		return x, err
	}
	x.rr = &routeRuntime{fwd: pool.NewForward(g.clk, g.metrics)}
	rr := x.rr
	if rc.RewriteRegex != nil || rc.Redirect != nil {
		x.stages.Checked = func(r *http.Request) (string, []string, error) { return rr.r.CheckedTarget(r) }
	}
	if !pooled && (rc.StripPrefix || rc.RewritePrefix != "" || rc.RewriteRegex != nil) {
		// Files are looked up by the request path, so the route's prefix
		// or regex rewrite applies to the path itself.
		x.stages.Target = func(r *http.Request) string { return rr.r.Target(r) }
	}
	if rr.chain, err = pipeline.Build(x.stages, rr.fwd); err != nil {
		if x.stages.Static != nil {
			_ = x.stages.Static.Close()
		}
		return x, fmt.Errorf("route %q: %w", rc.Name, err)
	}
	return x, nil
}

// Options are the gateway's non-config dependencies.
type Options struct {
	Clock  clock.Clock  // default clock.Real
	Logger *slog.Logger // operational log; default slog.Default()
	// AccessLogWriter overrides where access logs go (tests); nil uses the
	// config's access_log.path.
	AccessLogWriter io.Writer
	// AdminRoutes are extra handlers served on the admin listener, by
	// ServeMux pattern (local mode mounts its dashboard here).
	AdminRoutes map[string]http.Handler
	// AdminToken, when set, admits admin API changes (drain) from
	// non-loopback clients that present it as a bearer token.
	AdminToken string
}

// Gateway serves client requests.
type Gateway struct {
	clk     clock.Clock
	log     *slog.Logger
	metrics *Metrics
	opts    Options

	rt atomic.Pointer[runtime]

	mu        sync.Mutex // serialises reloads
	pools     map[string]*Pool
	stages    *pipeline.Compiler // route stages, with their state kept across reloads
	statics   []*static.Handler  // open roots of the live configuration
	poolList  atomic.Pointer[[]*Pool]
	logCloser io.Closer

	tlsStore    atomic.Pointer[tlsterm.Store]        // nil without certificate files
	acme        atomic.Pointer[acme.Manager]         // set by the Runner when tls.acme is on
	httpsPort   atomic.Pointer[string]               // the bound HTTPS port, for redirects
	tcp         atomic.Pointer[map[string]*l4.Proxy] // L4 listeners by name, for status
	failover    atomic.Pointer[failover.Controller]  // set by the Runner when failover is on
	notFound    *pool.RouteMetrics
	inflight    atomic.Int64
	draining    atomic.Bool
	generations atomic.Uint64
	started     time.Time
	admin       admin.History // reload history and dashboard samples
}

// New builds a gateway from cfg.
func New(cfg *config.Config, o Options) (*Gateway, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	g := &Gateway{clk: o.Clock, log: o.Logger, opts: o, pools: map[string]*Pool{}, started: o.Clock.Now(), stages: pipeline.NewCompiler(o.Clock)}
	empty := []*Pool{}
	g.poolList.Store(&empty)
	g.metrics = pool.NewMetrics(func() []*Pool { return *g.poolList.Load() })
	g.notFound = g.metrics.Route("")
	if err := g.Apply(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// Metrics exposes the registry (for the admin listener).
func (g *Gateway) Metrics() *Metrics { return g.metrics }

// Config returns the configuration currently serving.
func (g *Gateway) Config() *config.Config { return g.rt.Load().cfg }

// Pool returns the live pool with that name, or nil.
func (g *Gateway) Pool(name string) *Pool {
	for _, p := range *g.poolList.Load() {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Apply makes cfg the serving configuration. Everything is built and checked
// first; only then are pools changed in place and the route table swapped,
// so a failed Apply leaves the old configuration serving untouched.
func (g *Gateway) Apply(cfg *config.Config) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer func() {
		if err != nil {
			g.stages.Abort() // the live stages' state stays as it was
		}
		g.metrics.Reloaded(err == nil)
	}()

	prepared := make(map[string]*pool.Prepared, len(cfg.Pools))
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		pp, err := pool.Prepare(pc, g.pools[pc.Name])
		if err != nil {
			return fmt.Errorf("pool %q: %w", pc.Name, err)
		}
		prepared[pc.Name] = pp
	}
	extras := make([]routeExtras, len(cfg.Routes))
	closeStatics := func() {
		for _, x := range extras {
			if x.stages.Static != nil {
				_ = x.stages.Static.Close()
			}
		}
	}
	for i := range cfg.Routes {
		_, pooled := prepared[cfg.Routes[i].Pool]
		pooled = pooled || len(cfg.Routes[i].Split) > 0
		x, err := g.prepareRoute(&cfg.Routes[i], pooled)
		if err != nil {
			closeStatics()
			return err
		}
		extras[i] = x
	}
	routes, err := matchRoutes(cfg, prepared)
	if err != nil {
		closeStatics()
		return err
	}
	accessLog, closer, err := accesslog.Open(cfg.AccessLog, g.opts.AccessLogWriter)
	if err != nil {
		return err
	}
	certs, err := loadCertificates(cfg.TLS)
	if err != nil {
		if closer != nil {
			_ = closer.Close()
		}
		return err
	}

	if old := g.rt.Load(); old != nil && !reflect.DeepEqual(acmeOf(old.cfg), acmeOf(cfg)) {
		g.log.Warn("tls.acme changed: the change takes effect at the next restart")
	}

	// Commit: nothing below can fail.
	next, list := g.commitPools(cfg, prepared)
	table := route.NewTable(routes)
	rrs := make([]*routeRuntime, len(routes))
	asserted := []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}
	for i, r := range table.Routes() {
		rc := &cfg.Routes[i]
		rr := extras[i].rr
		chain := rr.chain
		*rr = routeRuntime{r: r, m: g.metrics.Route(r.Name), fwd: rr.fwd, chain: chain,
			idHeader: extras[i].stages.IdentityHeader, upgrades: rc.Upgrade}
		rr.fwd.Commit(r, next[r.Pool], rc.Retry, rc.Timeouts.PerTry)
		if len(rc.Split) > 0 {
			pools := make([]*Pool, len(rc.Split))
			for j, t := range rc.Split {
				pools[j] = next[t.Pool]
			}
			rr.fwd.CommitSplit(split.New(rc.Split, rc.SplitSticky), pools)
		}
		if rc.Mirror != nil {
			rr.fwd.CommitMirror(rc.Mirror, next[rc.Mirror.Pool])
		}
		if !slices.Contains(asserted, rr.idHeader) {
			asserted = append(asserted, rr.idHeader)
		}
		rrs[i] = rr
	}
	gen := g.generations.Add(1)
	g.rt.Store(&runtime{cfg: cfg, table: table, routes: rrs, generation: gen, loadedAt: g.clk.Now(), accessLog: accessLog,
		maxConcurrent: int64(cfg.MaxConcurrent), rules: hygiene.NewRules(cfg.Server, asserted)})
	g.poolList.Store(&list)
	g.tlsStore.Store(certs)
	g.stages.Commit()
	// Static handlers of the previous generation hold open directories;
	// requests still using them finish first (they hold their own file
	// handles), so closing the roots now is safe.
	for _, sh := range g.statics {
		_ = sh.Close()
	}
	g.statics = g.statics[:0]
	for _, x := range extras {
		if x.stages.Static != nil {
			g.statics = append(g.statics, x.stages.Static)
		}
	}
	for name, p := range g.pools {
		if next[name] == nil {
			p.Close() // in-flight requests still hold their backends
			g.log.Info("pool removed", "pool", name)
		}
	}
	g.pools = next
	if g.logCloser != nil {
		_ = g.logCloser.Close()
	}
	g.logCloser = closer
	g.log.Info("configuration applied", "generation", gen, "routes", len(routes), "pools", len(list))
	return nil
}

// matchRoutes is the route table's entries for cfg's routes, each of which
// names a prepared pool or serves files.
func matchRoutes(cfg *config.Config, prepared map[string]*pool.Prepared) ([]*route.Route, error) {
	var routes []*route.Route
	for _, rc := range cfg.Routes {
		if _, ok := prepared[rc.Pool]; !ok && rc.Static == nil && rc.Redirect == nil && len(rc.Split) == 0 {
			return nil, fmt.Errorf("route %q: unknown pool %q", rc.Name, rc.Pool)
		}
		if m := rc.Mirror; m != nil {
			if _, ok := prepared[m.Pool]; !ok {
				return nil, fmt.Errorf("route %q: mirror: unknown pool %q", rc.Name, m.Pool)
			}
		}
		for _, t := range rc.Split {
			if _, ok := prepared[t.Pool]; !ok {
				return nil, fmt.Errorf("route %q: split: unknown pool %q", rc.Name, t.Pool)
			}
		}
		rt := &route.Route{
			Name: rc.Name, Host: rc.Match.Host, PathPrefix: rc.Match.PathPrefix,
			Methods: rc.Match.Methods, StripPrefix: rc.StripPrefix,
			RewritePrefix: rc.RewritePrefix, Pool: rc.Pool,
		}
		if rx := rc.RewriteRegex; rx != nil {
			re, err := regexp.Compile(rx.Pattern)
			if err != nil { // config validated it
				return nil, fmt.Errorf("route %q: rewrite_regex: %w", rc.Name, err)
			}
			rt.Regex, rt.Replacement = re, rx.Replacement
		}
		// Sorted: the same configuration builds the same route.
		for _, k := range slices.Sorted(maps.Keys(rc.Match.Headers)) {
			rt.Headers = append(rt.Headers, route.Header{Name: k, Value: rc.Match.Headers[k]})
		}
		routes = append(routes, rt)
	}
	return routes, nil
}

// loadCertificates reads the tls section's certificate files; nil without
// any (no tls section, or ACME only).
func loadCertificates(t *config.TLS) (*tlsterm.Store, error) {
	if t == nil || len(t.Certificates) == 0 {
		return nil, nil
	}
	pairs := make([]tlsterm.Pair, len(t.Certificates))
	for i, c := range t.Certificates {
		pairs[i] = tlsterm.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile}
	}
	certs, err := tlsterm.NewStore(pairs)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return certs, nil
}

func acmeOf(c *config.Config) *acme.Config {
	if c.TLS == nil {
		return nil
	}
	return c.TLS.ACME
}

// commitPools makes the prepared pools live, in cfg's order: existing ones
// change in place, new ones start.
func (g *Gateway) commitPools(cfg *config.Config, prepared map[string]*pool.Prepared) (map[string]*Pool, []*Pool) {
	next := make(map[string]*Pool, len(prepared))
	list := make([]*Pool, 0, len(prepared))
	for _, pc := range cfg.Pools {
		pp := prepared[pc.Name]
		p := g.pools[pc.Name]
		if p == nil {
			p = pool.New(pc.Name, pp, g.clk, g.log, g.metrics)
		} else {
			p.Commit(pp)
		}
		next[pc.Name] = p
		list = append(list, p)
	}
	return next, list
}

// Draining reports whether shutdown has begun (readiness turns false).
func (g *Gateway) Draining() bool { return g.draining.Load() }

// Inflight is the number of requests being served.
func (g *Gateway) Inflight() int64 { return g.inflight.Load() }

// Close stops health checks and drains every pool. Call it after the
// listeners have shut down.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admin.StopSampler()
	for _, p := range g.pools {
		p.Close()
	}
	if g.logCloser != nil {
		_ = g.logCloser.Close()
		g.logCloser = nil
	}
}

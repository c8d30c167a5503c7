// Package gateway is drawbridge's L7 gateway: the single entry point that
// routes each request to a pool, picks a backend with the pool's strategy
// and forwards to it. Configuration is compiled into an immutable runtime
// swapped atomically on reload; pools live across reloads so that health,
// in-flight counts and connections survive.
package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/cache"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// runtime is one compiled configuration generation.
type runtime struct {
	cfg        *config.Config
	table      *route.Table
	routes     []*routeRuntime // by route.Index
	generation uint64
	loadedAt   time.Time
	accessLog  *slog.Logger // nil when off
	// maxConcurrent sheds load beyond this many requests; 0 = no limit.
	maxConcurrent int64
	// asserted are the headers the gateway sets itself (identities,
	// X-Forwarded-*): their underscore spellings never reach a backend.
	asserted []string
	// trusted are the peers whose forwarding headers are extended, not
	// replaced (server.trusted_proxies).
	trusted []netip.Prefix
}

type routeRuntime struct {
	r      *route.Route
	pool   *Pool
	m      *routeMetrics
	retry  *retryPolicy // nil: no retries
	access *routeAccess // nil: any method, any client
	auth   *auth.Authenticator
	limit  *routeLimit
	// failures counts failed authentications per client address; nil =
	// no limit.
	failures *routeFailures
	handler  http.Handler // static, cache, compress chain; nil = forward directly
	// idHeader is the identity header a client must never set itself.
	idHeader string
	upgrades []string // protocols a client may switch to (routes[].upgrade)
	bulkhead *resilience.Bulkhead
	overall  time.Duration // whole request incl. retries; 0 = none
	perTry   time.Duration // 0 = the pool's response_header timeout
}

// routeLimit is a route's rate limiter and how it keys requests. It is
// kept across reloads while its settings stay the same, so a reload does
// not refill every bucket.
type routeLimit struct {
	cfg     config.RateLimit
	limiter *ratelimit.Limiter
	key     ratelimit.KeyFunc
	// byIdentity: the key is the subject, unknown until the credentials
	// are checked.
	byIdentity bool
}

// routeFailures limits a route's failed authentications per client
// address; kept across reloads like routeLimit.
type routeFailures struct {
	cfg     config.AuthFailures
	limiter *ratelimit.Limiter
}

// routeExtras are the per-route pieces built, and checked, before a
// configuration is committed.
type routeExtras struct {
	auth     *auth.Authenticator
	failures *routeFailures
	limit    *routeLimit
	static   *static.Handler
	cache    *routeCache
	handler  http.Handler
}

// routeCache is a route's response cache, kept across reloads while its
// settings stay the same so a reload does not empty it.
type routeCache struct {
	cfg   config.Cache
	cache *cache.Cache
}

func (g *Gateway) prepareRoute(rc *config.Route) (routeExtras, error) {
	var x routeExtras
	if a := rc.Auth; a != nil {
		ac := auth.Config{AllowSubjects: a.AllowSubjects, ForwardHeader: a.ForwardHeader, StripCredentials: a.StripCredentials, Realm: a.Realm}
		if k := a.APIKeys; k != nil {
			ac.APIKeys = &auth.APIKeyConfig{Header: k.Header, Bearer: k.Bearer, Keys: k.Keys, File: k.File}
		}
		if j := a.JWT; j != nil {
			ac.JWT = &auth.JWTConfig{Algorithms: j.Algorithms, Secret: j.Secret, KeyFile: j.KeyFile, JWKSFile: j.JWKSFile,
				Issuer: j.Issuer, Audience: j.Audience, Skew: j.Skew}
		}
		if b := a.Basic; b != nil {
			ac.Basic = &auth.BasicConfig{Users: b.Users, File: b.File}
		}
		au, err := auth.New(ac, g.clk)
		if err != nil {
			return x, fmt.Errorf("route %q: auth: %w", rc.Name, err)
		}
		x.auth = au
		if f := a.MaxFailures; f != nil {
			if prev := g.failures[rc.Name]; prev != nil && prev.cfg == *f {
				x.failures = prev
			} else {
				l, err := ratelimit.New(ratelimit.Config{Rate: f.Rate, Burst: f.Burst, Policy: "auth_failures"}, g.clk)
				if err != nil {
					return x, fmt.Errorf("route %q: auth.max_failures: %w", rc.Name, err)
				}
				x.failures = &routeFailures{cfg: *f, limiter: l}
			}
		}
	}
	var h http.Handler = forwardHandler
	if st := rc.Static; st != nil {
		sh, err := static.New(static.Config{Root: st.Root, Index: st.Index, Precompressed: st.Precompressed, Browse: st.Browse})
		if err != nil {
			return x, fmt.Errorf("route %q: static: %w", rc.Name, err)
		}
		x.static, h = sh, sh
	}
	if c := rc.Cache; c != nil {
		rcache := g.caches[rc.Name]
		if rcache == nil || rcache.cfg != *c {
			rcache = &routeCache{cfg: *c, cache: cache.New(cache.Config{MaxBytes: c.MaxBytes, MaxObjectBytes: c.MaxObjectBytes,
				DefaultTTL: c.DefaultTTL, KeyByIdentity: c.KeyByIdentity}, g.clk)}
		}
		x.cache = rcache
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Auth has run (and may have stripped the credentials): the
			// exchange says who sent the request, as the client sent it.
			x := r.Context().Value(exchangeKey{}).(*exchange)
			rcache.cache.ServeAs(w, r, next.ServeHTTP, cache.Requester{Authenticated: x.authenticated, Subject: x.identity})
		})
	}
	if c := rc.Compress; c != nil {
		cc := compress.Config{Level: c.Level, MinBytes: c.MinBytes, Types: c.Types}
		if err := cc.Validate(); err != nil {
			if x.static != nil {
				_ = x.static.Close()
			}
			return x, fmt.Errorf("route %q: compress: %w", rc.Name, err)
		}
		h = compress.Middleware(cc, h)
	}
	if rc.Static != nil || rc.Cache != nil || rc.Compress != nil {
		x.handler = h
	}
	if rl := rc.RateLimit; rl != nil {
		if prev := g.limits[rc.Name]; prev != nil && prev.cfg == *rl {
			x.limit = prev
		} else {
			burst := rl.Burst
			if burst == 0 {
				burst = max(1, int(rl.Rate))
			}
			l, err := ratelimit.New(ratelimit.Config{Rate: rl.Rate, Burst: burst, MaxKeys: rl.MaxKeys, IdleTTL: rl.IdleTTL, Policy: rc.Name}, g.clk)
			if err != nil {
				return x, fmt.Errorf("route %q: rate_limit: %w", rc.Name, err)
			}
			key, err := ratelimit.ParseKey(rl.Key)
			if err != nil {
				return x, fmt.Errorf("route %q: rate_limit.key: %w", rc.Name, err)
			}
			x.limit = &routeLimit{cfg: *rl, limiter: l, key: key, byIdentity: rl.Key == "identity"}
		}
	}
	return x, nil
}

// retryPolicy is a route's compiled retry config.
type retryPolicy struct {
	maxRetries    int
	statuses      map[int]bool
	kinds         map[proxy.ErrorKind]bool
	methods       map[string]bool
	backoffBase   time.Duration
	backoffMax    time.Duration
	retryAfterMax time.Duration
	maxBody       int64
	budget        *resilience.Budget
}

func compileRetry(c *config.Retry) *retryPolicy {
	if c == nil {
		return nil
	}
	p := &retryPolicy{
		maxRetries: c.MaxRetries, statuses: map[int]bool{}, kinds: map[proxy.ErrorKind]bool{}, methods: map[string]bool{},
		backoffBase: c.BackoffBase, backoffMax: c.BackoffMax, retryAfterMax: c.RetryAfterMax, maxBody: c.MaxBodyBytes,
		budget: &resilience.Budget{Ratio: c.BudgetRatio, MinConcurrent: int64(c.BudgetMin)},
	}
	for _, on := range c.RetryOn {
		switch on {
		case config.RetryConnectError:
			p.kinds[proxy.ErrConnect] = true
		case config.RetryReset:
			p.kinds[proxy.ErrProtocol] = true
		case config.RetryTimeout:
			p.kinds[proxy.ErrTimeout] = true
		default:
			code, _ := strconv.Atoi(on) // validated by config
			p.statuses[code] = true
		}
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}
	}
	for _, m := range methods {
		p.methods[m] = true
	}
	return p
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
	limits    map[string]*routeLimit // by route name, reused across reloads
	failures  map[string]*routeFailures
	caches    map[string]*routeCache // by route name, reused across reloads
	statics   []*static.Handler      // open roots of the live configuration
	poolList  atomic.Pointer[[]*Pool]
	logCloser io.Closer

	tlsStore    atomic.Pointer[tlsterm.Store]       // nil without a tls section
	httpsPort   atomic.Pointer[string]              // the bound HTTPS port, for redirects
	tcp         atomic.Pointer[tcpListeners]        // L4 listeners, for status
	failover    atomic.Pointer[failover.Controller] // set by the Runner when failover is on
	notFound    *routeMetrics
	inflight    atomic.Int64
	draining    atomic.Bool
	generations atomic.Uint64
	started     time.Time
	admin       adminState // reload history and dashboard samples (admin.go)
}

// New builds a gateway from cfg.
func New(cfg *config.Config, o Options) (*Gateway, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	g := &Gateway{clk: o.Clock, log: o.Logger, opts: o, pools: map[string]*Pool{}, started: o.Clock.Now()}
	empty := []*Pool{}
	g.poolList.Store(&empty)
	g.metrics = NewMetrics(func() []*Pool { return *g.poolList.Load() })
	g.notFound = g.metrics.route("")
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
		if p.name == name {
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
			g.metrics.reloads.WithLabelValues("failure").Inc()
		} else {
			g.metrics.reloads.WithLabelValues("success").Inc()
			g.metrics.lastReload.SetToCurrentTime()
		}
	}()

	prepared := make(map[string]*preparedPool, len(cfg.Pools))
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		s, err := settingsFromConfig(pc)
		if err != nil {
			return fmt.Errorf("pool %q: %w", pc.Name, err)
		}
		pp, err := preparePool(s, g.pools[pc.Name])
		if err != nil {
			return fmt.Errorf("pool %q: %w", pc.Name, err)
		}
		prepared[pc.Name] = pp
	}
	extras := make([]routeExtras, len(cfg.Routes))
	closeStatics := func() {
		for _, x := range extras {
			if x.static != nil {
				_ = x.static.Close()
			}
		}
	}
	for i := range cfg.Routes {
		x, err := g.prepareRoute(&cfg.Routes[i])
		if err != nil {
			closeStatics()
			return err
		}
		extras[i] = x
	}
	var routes []*route.Route
	for _, rc := range cfg.Routes {
		if _, ok := prepared[rc.Pool]; !ok && rc.Static == nil {
			closeStatics()
			return fmt.Errorf("route %q: unknown pool %q", rc.Name, rc.Pool)
		}
		rt := &route.Route{
			Name: rc.Name, Host: rc.Match.Host, PathPrefix: rc.Match.PathPrefix,
			Methods: rc.Match.Methods, StripPrefix: rc.StripPrefix,
			RewritePrefix: rc.RewritePrefix, Pool: rc.Pool,
		}
		keys := make([]string, 0, len(rc.Match.Headers))
		for k := range rc.Match.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rt.Headers = append(rt.Headers, route.Header{Name: k, Value: rc.Match.Headers[k]})
		}
		routes = append(routes, rt)
	}
	accessLog, closer, err := g.openAccessLog(cfg.AccessLog)
	if err != nil {
		return err
	}
	var certs *tlsterm.Store
	if t := cfg.TLS; t != nil {
		pairs := make([]tlsterm.Pair, len(t.Certificates))
		for i, c := range t.Certificates {
			pairs[i] = tlsterm.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile}
		}
		if certs, err = tlsterm.NewStore(pairs); err != nil {
			if closer != nil {
				_ = closer.Close()
			}
			return fmt.Errorf("tls: %w", err)
		}
	}

	// Commit: nothing below can fail.
	next := make(map[string]*Pool, len(prepared))
	list := make([]*Pool, 0, len(prepared))
	for _, pc := range cfg.Pools {
		pp := prepared[pc.Name]
		p := g.pools[pc.Name]
		if p == nil {
			p = newPool(pc.Name, pp, g.clk, g.log, g.metrics)
		} else {
			p.commit(pp)
		}
		next[pc.Name] = p
		list = append(list, p)
	}
	table := route.NewTable(routes)
	rrs := make([]*routeRuntime, len(routes))
	asserted := []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}
	for i, r := range table.Routes() {
		rc := &cfg.Routes[i]
		rr := &routeRuntime{r: r, pool: next[r.Pool], m: g.metrics.route(r.Name), retry: compileRetry(rc.Retry), access: compileAccess(rc),
			overall: rc.Timeouts.Overall, perTry: rc.Timeouts.PerTry, auth: extras[i].auth, limit: extras[i].limit, failures: extras[i].failures, idHeader: "X-Auth-Subject",
			handler: extras[i].handler, upgrades: rc.Upgrade}
		if extras[i].auth != nil {
			rr.idHeader = extras[i].auth.ForwardHeader()
		}
		if !slices.Contains(asserted, rr.idHeader) {
			asserted = append(asserted, rr.idHeader)
		}
		if c := rc.Concurrency; c != nil {
			rr.bulkhead = resilience.NewBulkhead(c.Max, c.QueueSize, c.QueueTimeout, g.clk)
		}
		rrs[i] = rr
	}
	gen := g.generations.Add(1)
	g.rt.Store(&runtime{cfg: cfg, table: table, routes: rrs, generation: gen, loadedAt: g.clk.Now(), accessLog: accessLog,
		maxConcurrent: int64(cfg.MaxConcurrent), asserted: asserted, trusted: compilePrefixes(cfg.Server.TrustedProxies)})
	g.poolList.Store(&list)
	g.tlsStore.Store(certs)
	g.limits = map[string]*routeLimit{}
	g.failures = map[string]*routeFailures{}
	g.caches = map[string]*routeCache{}
	for i, rc := range cfg.Routes {
		if extras[i].limit != nil {
			g.limits[rc.Name] = extras[i].limit
		}
		if extras[i].failures != nil {
			g.failures[rc.Name] = extras[i].failures
		}
		if extras[i].cache != nil {
			g.caches[rc.Name] = extras[i].cache
		}
	}
	// Static handlers of the previous generation hold open directories;
	// requests still using them finish first (they hold their own file
	// handles), so closing the roots now is safe.
	for _, sh := range g.statics {
		_ = sh.Close()
	}
	g.statics = g.statics[:0]
	for _, x := range extras {
		if x.static != nil {
			g.statics = append(g.statics, x.static)
		}
	}
	for name, p := range g.pools {
		if next[name] == nil {
			p.close() // in-flight requests still hold their backends
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

// settingsFromConfig maps one validated pool config to runtime settings.
func settingsFromConfig(pc *config.Pool) (poolSettings, error) {
	s := poolSettings{
		strategy:  pc.Strategy,
		balOpts:   balance.Options{VirtualNodes: pc.VirtualNodes, BoundedLoad: pc.BoundedLoad},
		slowStart: pc.SlowStart,
		proxy: proxy.Options{
			ConnectTimeout:        pc.Timeouts.Connect,
			ResponseHeaderTimeout: pc.Timeouts.ResponseHeader,
			IdleConnTimeout:       pc.Timeouts.IdleConn,
			MaxIdleConns:          pc.MaxIdleConnsPerBackend,
			H2C:                   pc.Protocol == config.ProtocolH2C,
		},
	}
	switch pc.HostHeader {
	case "", config.HostPreserve:
		s.proxy.HostMode = proxy.HostPreserve
	case config.HostBackend:
		s.proxy.HostMode = proxy.HostBackend
	default:
		s.proxy.HostMode, s.proxy.HostValue = proxy.HostLiteral, pc.HostHeader
	}
	if pc.Strategy == config.IPHash || pc.Strategy == config.ConsistentHash {
		s.hashKey = pc.HashKey
		if s.hashKey == "" {
			s.hashKey = "ip"
		}
	}
	if cb := pc.CircuitBreaker; cb != nil {
		s.breaker = &resilience.BreakerConfig{FailureRatio: cb.FailureRatio, MinRequests: cb.MinRequests,
			Window: cb.Window, CoolDown: cb.CoolDown, HalfOpenProbes: cb.HalfOpenProbes}
	}
	if c := pc.ConcurrencyPerBackend; c != nil {
		s.perBackend = &config.Concurrency{Max: c.Max, QueueSize: c.QueueSize, QueueTimeout: c.QueueTimeout}
	}
	if pc.Sticky != nil {
		s.sticky = &stickySettings{cookie: pc.Sticky.Cookie, secret: pc.Sticky.Secret, ttl: pc.Sticky.TTL}
	}
	if hc := pc.HealthCheck; hc != nil {
		cc := &health.CheckConfig{
			Path: hc.Path, Interval: hc.Interval, Timeout: hc.Timeout,
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold,
		}
		for _, r := range hc.ExpectedStatus {
			cc.ExpectedStatus = append(cc.ExpectedStatus, health.StatusRange{Min: r.Min, Max: r.Max})
		}
		s.health = cc
	}
	if oc := pc.Outlier; oc != nil {
		s.outlier = &health.OutlierConfig{
			ConsecutiveFailures: oc.ConsecutiveFailures, BaseEjection: oc.BaseEjection,
			MaxEjection: oc.MaxEjection, MaxEjectionPercent: oc.MaxEjectionPercent,
		}
	}
	s.discovered = pc.Dynamic()
	for _, b := range pc.Backends {
		s.backends = append(s.backends, upstream.Spec{ID: b.ID, Address: b.Address, Weight: b.Weight})
	}
	return s, nil
}

// getCertificate serves the certificates of the configuration in force, so
// a reload (SIGHUP or a changed file) renews them for new handshakes.
func (g *Gateway) getCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := g.tlsStore.Load()
	if s == nil {
		return nil, fmt.Errorf("no certificates configured")
	}
	return s.GetCertificate(h)
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
	g.admin.stopSampler()
	for _, p := range g.pools {
		p.close()
	}
	if g.logCloser != nil {
		_ = g.logCloser.Close()
		g.logCloser = nil
	}
}

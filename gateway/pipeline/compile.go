package pipeline

import (
	"fmt"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/cache"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/cors"
	"github.com/drawbridge-dev/drawbridge/gateway/headers"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/redirect"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
)

// Compiler builds routes' stages from their configuration. It keeps the
// stateful ones (rate-limit buckets, failure counts, caches) across
// reloads while a route's settings for them stay the same, so a reload
// neither refills every bucket nor empties the cache. A reload compiles
// every route, then commits or aborts; calls must not overlap.
type Compiler struct {
	clk        clock.Clock
	live, next kept
}

// kept is the stateful stages of one configuration, by route name.
type kept struct {
	limits   map[string]*keptLimit
	failures map[string]*keptFailures
	caches   map[string]*keptCache
}

type keptLimit struct {
	cfg     config.RateLimit
	limiter *ratelimit.Limiter
	key     ratelimit.KeyFunc
}

type keptFailures struct {
	cfg     config.AuthFailures
	limiter *ratelimit.Limiter
}

type keptCache struct {
	cfg   config.Cache
	cache *cache.Cache
}

// NewCompiler returns a compiler with no live state.
func NewCompiler(clk clock.Clock) *Compiler {
	c := &Compiler{clk: clk}
	c.Abort()
	return c
}

// Commit makes the state of the routes compiled since the last Commit or
// Abort the live one.
func (c *Compiler) Commit() {
	c.live = c.next
	c.Abort()
}

// Abort forgets the routes compiled since the last Commit.
func (c *Compiler) Abort() {
	c.next = kept{limits: map[string]*keptLimit{}, failures: map[string]*keptFailures{}, caches: map[string]*keptCache{}}
}

// Route builds rc's stages (validated by config). The caller owns the
// static root it opens (Route.Static) once this returns without error.
func (c *Compiler) Route(rc *config.Route) (r Route, err error) {
	r.Access = AccessConfig{Methods: rc.AllowMethods, AllowCIDRs: rc.AllowCIDRs, DenyCIDRs: rc.DenyCIDRs}
	r.IdentityHeader = "X-Auth-Subject"
	r.Timeout = rc.Timeouts.Overall
	if a := rc.Auth; a != nil {
		if err := c.auth(rc.Name, a, &r); err != nil {
			return r, err
		}
	}
	if st := rc.Static; st != nil {
		if r.Static, err = static.New(*st); err != nil {
			return r, fmt.Errorf("route %q: static: %w", rc.Name, err)
		}
		defer func() {
			if err != nil {
				_ = r.Static.Close()
			}
		}()
	}
	if rd := rc.Redirect; rd != nil {
		groups := -1
		if rc.RewriteRegex != nil {
			groups = rc.RewriteRegex.Groups()
		}
		if r.Redirect, err = redirect.New(*rd, groups); err != nil {
			return r, fmt.Errorf("route %q: %w", rc.Name, err)
		}
	}
	if cc := rc.Cache; cc != nil {
		k := c.live.caches[rc.Name]
		if k == nil || k.cfg != *cc {
			k = &keptCache{cfg: *cc, cache: cache.New(*cc, c.clk)}
		}
		c.next.caches[rc.Name], r.Cache = k, k.cache
	}
	if cc := rc.Compress; cc != nil {
		r.Compress = compress.New(*cc)
	}
	if rl := rc.RateLimit; rl != nil {
		if err := c.rateLimit(rc.Name, rl, &r); err != nil {
			return r, err
		}
	}
	if hc := rc.Headers; hc != nil {
		r.RequestHeaders = headers.Compile(hc.Request, rc.Name, false)
		r.ResponseHeaders = headers.Compile(hc.Response, rc.Name, true)
	}
	if cc := rc.CORS; cc != nil {
		r.CORS = cors.New(*cc)
	}
	if cc := rc.Concurrency; cc != nil {
		r.Bulkhead = resilience.NewBulkhead(cc.Max, cc.QueueSize, cc.QueueTimeout, c.clk)
	}
	return r, nil
}

// auth builds a route's authenticator and its failure limit.
func (c *Compiler) auth(name string, a *config.Auth, r *Route) error {
	au, err := auth.New(*a, c.clk)
	if err != nil {
		return fmt.Errorf("route %q: auth: %w", name, err)
	}
	r.Auth, r.IdentityHeader = au, au.ForwardHeader()
	f := a.MaxFailures
	if f == nil {
		return nil
	}
	k := c.live.failures[name]
	if k == nil || k.cfg != *f {
		l, err := ratelimit.New(ratelimit.Config{Rate: f.Rate, Burst: f.Burst}, c.clk, ratelimit.Named("auth_failures"))
		if err != nil {
			return fmt.Errorf("route %q: auth.max_failures: %w", name, err)
		}
		k = &keptFailures{cfg: *f, limiter: l}
	}
	c.next.failures[name], r.FailureLimit = k, k.limiter
	return nil
}

// rateLimit builds a route's rate limit.
func (c *Compiler) rateLimit(name string, rl *config.RateLimit, r *Route) error {
	k := c.live.limits[name]
	if k == nil || k.cfg != *rl {
		lc := *rl
		lc.DeriveDefaults() // a route built in Go was not derived by config
		l, err := ratelimit.New(lc, c.clk, ratelimit.Named(name))
		if err != nil {
			return fmt.Errorf("route %q: rate_limit: %w", name, err)
		}
		key, err := ratelimit.ParseKey(rl.Key)
		if err != nil {
			return fmt.Errorf("route %q: rate_limit.key: %w", name, err)
		}
		k = &keptLimit{cfg: *rl, limiter: l, key: key}
	}
	c.next.limits[name] = k
	r.RateLimit, r.RateKey, r.ByIdentity = k.limiter, k.key, rl.Key == "identity"
	return nil
}

package pipeline

import (
	"net/http"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/cache"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/cors"
	"github.com/drawbridge-dev/drawbridge/gateway/headers"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/redirect"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
)

// Route is what a route's chain is built from; a nil part is a stage the
// route does not have.
type Route struct {
	Access AccessConfig
	// FailureLimit counts failed authentications per client address.
	FailureLimit *ratelimit.Limiter
	RateLimit    *ratelimit.Limiter
	RateKey      ratelimit.KeyFunc
	// ByIdentity: RateKey keys by the authenticated subject.
	ByIdentity bool
	Auth       *auth.Authenticator
	// IdentityHeader is the header auth forwards the subject in; without
	// auth a client's own is removed.
	IdentityHeader string
	Bulkhead       *resilience.Bulkhead
	Timeout        time.Duration // whole request, retries included; 0 none
	Compress       *compress.Compressor
	Cache          *cache.Cache
	// Static serves files instead of forwarding; Target, when set, is the
	// route's prefix rewrite, applied to the path the files are found by.
	Static *static.Handler
	Target func(*http.Request) string
	// The route's header rules and CORS policy; nil: none.
	RequestHeaders, ResponseHeaders *headers.Compiled
	CORS                            *cors.Policy
	// Redirect answers instead of forwarding, to a target made from
	// Checked's rewritten path. Checked, set on routes with a regex
	// rewrite or a redirect, refuses an unsafe rewrite before the forward.
	Redirect *redirect.Redirect
	Checked  CheckedTarget
}

// Build compiles a route's chain. The order, outermost first, is the one
// place it is written down:
//
//	response hdrs the route's response header rules, applied to every
//	              response, the gateway's own answers included
//	access        405 method not allowed, 403 client address (on a route
//	              with cors, the address lists only; then cors, then
//	              the method allowlist)
//	cors          preflights answered 204; CORS headers on the others
//	              (before auth: a preflight carries no credentials)
//	failure limit 429 an address that failed authentication too often
//	rate limit    429 (keyed by address; keyed by identity it only guards
//	              here and takes its token after auth)
//	auth          401/403; or, without auth, the identity header removed
//	rate limit    429 keyed by identity
//	request hdrs  the route's request header rules ({subject} known)
//	bulkhead      503 route at capacity
//	deadline      the route's overall timeout
//	count         status and size of what the content stages write
//	path rewrite  for files, the prefix rewrite applied to the path
//	compress      gzip
//	cache         hits answered here
//	rewrite check 500 a regex rewrite that made an unsafe path
//	static | forward | redirect
//	              (the forward picks a split route's pool by weight and
//	              sends a mirror route's copy, without waiting for it)
//
// The count, path rewrite, compress and cache stages exist only on routes
// that compress, cache or serve files; the header and cors stages only on
// routes with such rules; the rewrite check only on routes with a regex
// rewrite (a redirect route checks in its own stage).
func Build(rc Route, forward Handler) (Handler, error) {
	h := forward
	if rc.Static != nil {
		h = NewStatic(rc.Static)
	}
	if rc.Redirect != nil {
		h = NewRedirect(rc.Redirect, rc.Checked)
	} else if rc.Checked != nil {
		h = NewRewriteCheck(rc.Checked, h)
	}
	if rc.Cache != nil {
		h = NewCache(rc.Cache, h)
	}
	if rc.Compress != nil {
		h = NewCompress(rc.Compress, h)
	}
	if rc.Static != nil && rc.Target != nil {
		h = NewPathRewrite(rc.Target, h)
	}
	if rc.Static != nil || rc.Cache != nil || rc.Compress != nil {
		h = NewCount(h)
	}
	if rc.Timeout > 0 {
		h = NewDeadline(rc.Timeout, h)
	}
	if rc.Bulkhead != nil {
		h = NewBulkhead(rc.Bulkhead, h)
	}
	if rc.RequestHeaders != nil {
		h = NewRequestHeaders(rc.RequestHeaders, h)
	}
	if rc.RateLimit != nil && (rc.ByIdentity || rc.Auth == nil) {
		h = NewRateLimit(rc.RateLimit, rc.RateKey, h)
	}
	if rc.Auth != nil {
		h = NewAuth(rc.Auth, h)
		if rc.RateLimit != nil && rc.ByIdentity {
			h = NewRateLimitGuard(rc.RateLimit, rc.RateKey, h)
		} else if rc.RateLimit != nil {
			h = NewRateLimit(rc.RateLimit, rc.RateKey, h)
		}
		if rc.FailureLimit != nil {
			h = NewFailureLimit(rc.FailureLimit, h)
		}
	} else if rc.IdentityHeader != "" {
		h = NewNoIdentity(rc.IdentityHeader, h)
	}
	var err error
	if rc.CORS == nil {
		h, err = NewAccess(rc.Access, h)
	} else {
		// A preflight is an OPTIONS the method allowlist need not list, but
		// the address lists refuse it like any other request.
		methods := rc.Access
		methods.AllowCIDRs, methods.DenyCIDRs = nil, nil
		if h, err = NewAccess(methods, h); err == nil {
			h, err = NewAccess(AccessConfig{AllowCIDRs: rc.Access.AllowCIDRs, DenyCIDRs: rc.Access.DenyCIDRs}, NewCORS(rc.CORS, h))
		}
	}
	if err != nil {
		return nil, err
	}
	if rc.ResponseHeaders != nil {
		h = NewResponseHeaders(rc.ResponseHeaders, h)
	}
	return h, nil
}

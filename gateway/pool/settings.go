package pool

import (
	"slices"
	"strconv"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/proxy"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
)

// settingsFromConfig maps one validated pool config to runtime settings.
func settingsFromConfig(pc *config.Pool) poolSettings {
	s := poolSettings{
		strategy:  pc.Strategy,
		balOpts:   balance.Options{VirtualNodes: pc.VirtualNodes, BoundedLoad: pc.BoundedLoad},
		slowStart: pc.SlowStart,
		proxy: proxy.Options{
			ConnectTimeout:        pc.Timeouts.Connect,
			ResponseHeaderTimeout: pc.Timeouts.ResponseHeader,
			IdleConnTimeout:       pc.Timeouts.IdleConn,
			MaxIdleConns:          pc.MaxIdleConnsPerBackend,
			H2C:                   pc.Protocol == config.ProtocolH2C || pc.Protocol == config.ProtocolH2,
		},
	}
	if pc.Protocol == config.ProtocolHTTPS || pc.Protocol == config.ProtocolH2 {
		s.proxy.TLS = pc.TLS.ClientConfig() // built (files read) when the config was loaded
	}
	switch pc.HostHeader {
	case "", config.HostPreserve:
		s.proxy.HostMode = proxy.HostPreserve
	case config.HostBackend:
		s.proxy.HostMode = proxy.HostBackend
	default:
		s.proxy.HostMode, s.proxy.HostValue = proxy.HostLiteral, pc.HostHeader
	}
	if strategy, _ := balance.Lookup(pc.Strategy); strategy.Hashed {
		s.hashKey = pc.HashKey
		if s.hashKey == "" {
			s.hashKey = "ip"
		}
	}
	s.breaker = pc.CircuitBreaker // the config is read-only once loaded
	s.perBackend = pc.ConcurrencyPerBackend
	if pc.Sticky != nil {
		s.sticky = &stickySettings{cookie: pc.Sticky.Cookie, secret: pc.Sticky.Secret, ttl: pc.Sticky.TTL}
	}
	s.health, s.outlier = pc.HealthCheck, pc.Outlier // read-only once loaded
	s.discovered = pc.Dynamic()
	s.backends = slices.Clone(pc.Backends)
	return s
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
		case resilience.RetryConnectError:
			p.kinds[proxy.ErrConnect] = true
		case resilience.RetryReset:
			p.kinds[proxy.ErrProtocol] = true
		case resilience.RetryTimeout:
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

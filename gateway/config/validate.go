package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
)

// check fills the defaults that depend on other fields, then validates.
// The errors carry keys only; Parse adds the file and lines.
func (c *Config) check() Errors { return c.checkAt(nil) }

// checkAt is check with where locating a key (FILE:LINE) for messages
// that name a second place in the file; nil for configs built in Go.
func (c *Config) checkAt(where func(key string) string) Errors {
	c.derive()
	return append(c.validate(), c.listenerClashes(where)...)
}

// listener is one address the config binds.
type listener struct{ key, addr string }

// listenerClashes reports listeners of one config that bind the same port
// on overlapping addresses: the second could never start. A wildcard host
// ("", "::", "[::]") overlaps every address of its port and "0.0.0.0"
// every IPv4 one, so ":80" clashes with "127.0.0.1:80". Port 0 (any free
// port) never clashes; invalid addresses are reported by listenAddr.
func (c *Config) listenerClashes(where func(key string) string) Errors {
	ls := []listener{{"listen", c.Listen}}
	if c.Admin.Enabled {
		ls = append(ls, listener{"admin.listen", c.Admin.Listen})
	}
	if c.TLS != nil {
		ls = append(ls, listener{"tls.listen", c.TLS.Listen})
	}
	for i := range c.L4 {
		ls = append(ls, listener{fmt.Sprintf("l4[%d].listen", i), c.L4[i].Listen})
	}
	var v validator
	for j := 1; j < len(ls); j++ {
		for i := range j {
			if port, ok := overlap(ls[i].addr, ls[j].addr); ok {
				at := ""
				if where != nil {
					at = " at " + where(ls[i].key)
				}
				v.add(ls[j].key, "%q clashes with %s %q%s: both bind port %s", ls[j].addr, ls[i].key, ls[i].addr, at, port)
				break // one report per listener
			}
		}
	}
	return v.errs
}

// overlap reports whether two listen addresses bind the same port on
// overlapping addresses, and the port.
func overlap(a, b string) (string, bool) {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return "", false
	}
	if n, err := strconv.Atoi(pa); err != nil || n == 0 {
		return "", false
	}
	wild := func(h string) bool { return h == "" || h == "::" }
	v4 := func(h string) bool { ip, err := netip.ParseAddr(h); return err == nil && ip.Unmap().Is4() }
	switch {
	case wild(ha) || wild(hb):
		return pa, true
	case ha == "0.0.0.0":
		return pa, hb == ha || v4(hb)
	case hb == "0.0.0.0":
		return pa, v4(ha)
	}
	ia, errA := netip.ParseAddr(ha)
	ib, errB := netip.ParseAddr(hb)
	if errA == nil && errB == nil {
		return pa, ia.Unmap() == ib.Unmap()
	}
	return pa, strings.EqualFold(ha, hb) // host names: the same name binds the same addresses
}

// derive fills defaults that depend on other fields and normalises values
// for the matchers. It is idempotent, so a checked config re-validates.
func (c *Config) derive() {
	for i := range c.Routes {
		c.Routes[i].Match.Host = strings.ToLower(c.Routes[i].Match.Host)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		strategy, _ := balance.Lookup(p.Strategy)
		if p.HashKey == "" && strategy.Hashed {
			p.HashKey = "ip"
		}
		// 0 cannot be told apart from unset here; it means the default.
		if p.VirtualNodes == 0 && strategy.Ring {
			p.VirtualNodes = balance.DefaultVirtualNodes
		}
		for j := range p.Backends {
			if b := &p.Backends[j]; b.ID == "" {
				b.ID = b.Address
			}
		}
	}
	if f := c.Failover; f != nil {
		if f.Node == "" {
			f.Node, _ = os.Hostname()
		}
		switch f.Mode {
		case FailoverLocal:
			if f.Lease.Type == "" {
				f.Lease.Type = LeaseFile
			}
			if f.Lease.TTL == 0 {
				f.Lease.TTL = 3 * time.Second
			}
		case FailoverAWS:
			if f.Lease.Type == "" {
				f.Lease.Type = LeaseDynamoDB
			}
			if f.Lease.TTL == 0 {
				f.Lease.TTL = 15 * time.Second
			}
		}
		if f.Lease.Type == LeaseDynamoDB && f.Lease.Key == "" {
			f.Lease.Key = "drawbridge-gateway"
		}
	}
	for i := range c.L4 {
		for j := range c.L4[i].Backends {
			if b := &c.L4[i].Backends[j]; b.ID == "" {
				b.ID = b.Address
			}
		}
	}
}

type validator struct{ errs Errors }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate() Errors {
	var v validator
	v.listenAddr("listen", c.Listen)
	if c.Admin.Enabled {
		v.listenAddr("admin.listen", c.Admin.Listen)
	}
	v.nonNegative("shutdown_timeout", c.ShutdownTimeout)
	v.between("max_concurrent", c.MaxConcurrent, 0, math.MaxInt32)
	v.between("server.max_uri_bytes", c.Server.MaxURIBytes, 64, 1<<20)
	if c.Server.MaxBodyBytes < 0 {
		v.add("server.max_body_bytes", "must not be negative")
	}
	if c.Server.MinBodyRate < 0 {
		v.add("server.min_body_rate", "must not be negative")
	}
	v.positive("server.body_grace", c.Server.BodyGrace)
	if t := c.TLS; t != nil {
		v.listenAddr("tls.listen", t.Listen)
		if len(t.Certificates) == 0 {
			v.add("tls.certificates", "at least one certificate is required")
		}
		for i, cert := range t.Certificates {
			k := fmt.Sprintf("tls.certificates[%d]", i)
			if cert.CertFile == "" {
				v.add(k+".cert_file", "required")
			}
			if cert.KeyFile == "" {
				v.add(k+".key_file", "required")
			}
		}
		if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
			v.add("tls.min_version", "want \"1.2\" or \"1.3\", got %q", t.MinVersion)
		}
		v.positive("tls.handshake_timeout", t.HandshakeTimeout)
	}
	l4names := map[string]string{}
	for i := range c.L4 {
		v.l4(fmt.Sprintf("l4[%d]", i), &c.L4[i], l4names)
	}
	switch c.Server.EncodedSlashes {
	case "keep", "decode", "reject":
	default:
		v.add("server.encoded_slashes", "want keep, decode or reject, got %q", c.Server.EncodedSlashes)
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "invalid CIDR %q", p)
		}
	}
	switch c.Server.UnderscoresInHeaders {
	case UnderscoresDrop, UnderscoresAllow:
	default:
		v.add("server.underscores_in_headers", "want drop or allow, got %q", c.Server.UnderscoresInHeaders)
	}
	if c.AccessLog.Enabled && c.AccessLog.Path == "" {
		v.add("access_log.path", "required when access_log is enabled")
	}
	switch c.AccessLog.Query {
	case QueryRedact, QueryFull, QueryOmit:
	default:
		v.add("access_log.query", "want redact, full or omit, got %q", c.AccessLog.Query)
	}
	for i, p := range c.AccessLog.RedactParams {
		if strings.TrimSpace(p) == "" {
			v.add(fmt.Sprintf("access_log.redact_params[%d]", i), "empty parameter name")
		}
	}
	v.positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	v.positive("server.idle_timeout", c.Server.IdleTimeout)
	v.between("server.max_header_bytes", c.Server.MaxHeaderBytes, 1, math.MaxInt32)
	v.between("server.max_headers", c.Server.MaxHeaders, 1, math.MaxInt32)

	pools := make(map[string]bool, len(c.Pools))
	for _, p := range c.Pools {
		pools[p.Name] = true
	}
	if len(c.Routes) == 0 {
		v.add("routes", "at least one route is required")
	}
	names := make(map[string]string) // route name -> key of its first use
	for i := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		v.route(key, &c.Routes[i], pools)
		v.unique(key+".name", c.Routes[i].Name, names, key)
	}
	if len(c.Pools) == 0 {
		v.add("pools", "at least one pool is required")
	}
	names = make(map[string]string)
	for i := range c.Pools {
		key := fmt.Sprintf("pools[%d]", i)
		v.pool(key, &c.Pools[i])
		v.unique(key+".name", c.Pools[i].Name, names, key)
	}
	if f := c.Failover; f != nil {
		v.failover(f)
	}
	for _, p := range telemetry.Check(&c.Tracing, c.Log.Level) {
		v.add(p.Key, "%s", p.Msg)
	}
	return v.errs
}

// failover checks the failover section; settings of the mode not chosen
// are ignored, so an operator can keep both written down.
func (v *validator) failover(f *Failover) {
	switch f.Mode {
	case FailoverNone:
		return
	case FailoverLocal, FailoverAWS:
	default:
		v.add("failover.mode", "want none, local or aws, got %q", f.Mode)
		return
	}
	if f.Node == "" {
		v.add("failover.node", "required (the host name is unknown)")
	}
	l := f.Lease
	switch l.Type {
	case LeaseFile:
		if l.Path == "" {
			v.add("failover.lease.path", "required with lease type file")
		}
	case LeaseDynamoDB:
		if l.Table == "" {
			v.add("failover.lease.table", "required with lease type dynamodb")
		}
	default:
		v.add("failover.lease.type", "want file or dynamodb, got %q", l.Type)
	}
	// Below 300ms the renewal period (ttl/3) is within scheduling noise.
	if l.TTL < 300*time.Millisecond {
		v.add("failover.lease.ttl", "must be at least 300ms, got %v", l.TTL)
	}
	if f.Mode == FailoverLocal {
		if f.Node == Auto {
			v.add("failover.node", "auto (the instance id from IMDS) needs mode aws")
		}
		if _, err := netip.ParsePrefix(f.VIP.Address); err != nil {
			v.add("failover.vip.address", "want an address with prefix length, e.g. 10.0.0.100/24: %v", err)
		}
		if f.VIP.Interface == "" {
			v.add("failover.vip.interface", "required in local mode")
		}
	} else {
		if !strings.HasPrefix(f.EIP.AllocationID, "eipalloc-") {
			v.add("failover.eip.allocation_id", "want eipalloc-..., got %q", f.EIP.AllocationID)
		}
		if !strings.HasPrefix(f.EIP.InstanceID, "i-") && f.EIP.InstanceID != Auto {
			v.add("failover.eip.instance_id", "want i-... or auto (from IMDS), got %q", f.EIP.InstanceID)
		}
	}
}

func (v *validator) discovery(key string, d *Discovery) {
	switch d.Type {
	case DiscoveryStatic:
	case DiscoveryFile:
		if d.File == "" {
			v.add(key+".file", "required with type file")
		}
	case DiscoveryASG:
		if d.ASG == "" {
			v.add(key+".asg", "required with type asg")
		}
		if d.Port != 0 { // 0: each instance's drawbridge:port tag
			v.between(key+".port", d.Port, 1, 65535)
		}
	default:
		v.add(key+".type", "want static, file or asg, got %q", d.Type)
	}
	v.positive(key+".interval", d.Interval)
	if !(d.Jitter >= 0 && d.Jitter < 1) {
		v.add(key+".jitter", "must be in [0, 1), got %v", d.Jitter)
	}
}

func (v *validator) route(key string, r *Route, pools map[string]bool) {
	v.name(key+".name", r.Name)
	m := &r.Match
	if m.Host != "" {
		v.hostPattern(key+".match.host", m.Host)
	}
	v.path(key+".match.path_prefix", m.PathPrefix, false)
	if strings.Contains(m.PathPrefix, ";") {
		v.add(key+".match.path_prefix", "%q would never match: routing ignores segment parameters (\";...\")", m.PathPrefix)
	}
	seen := make(map[string]bool)
	for i, method := range m.Methods {
		k := fmt.Sprintf("%s.match.methods[%d]", key, i)
		switch {
		case !httpguts.ValidHeaderFieldName(method):
			v.add(k, "invalid method %q", method)
		case method != strings.ToUpper(method):
			v.add(k, "method %q must be upper-case (%s)", method, strings.ToUpper(method))
		case seen[method]:
			v.add(k, "duplicate method %q", method)
		}
		seen[method] = true
	}
	names := make(map[string]string) // canonical name -> name as written
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		k := key + ".match.headers." + name
		value := m.Headers[name]
		lower := strings.ToLower(name)
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			v.add(k, "invalid header name %q", name)
		case names[lower] != "":
			v.add(k, "header %q is also matched as %q (names are case-insensitive)", name, names[lower])
		case value == "":
			v.add(k, "value must not be empty")
		case strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
			v.add(k, "value %q contains control characters", value)
		}
		names[lower] = name
	}
	if r.RewritePrefix != "" {
		v.path(key+".rewrite_prefix", r.RewritePrefix, false)
	}
	seenUp := make(map[string]bool)
	for i, p := range r.Upgrade {
		k := fmt.Sprintf("%s.upgrade[%d]", key, i)
		lower := strings.ToLower(p)
		switch {
		case !httpguts.ValidHeaderFieldName(p):
			v.add(k, "invalid protocol name %q (a token, e.g. websocket)", p)
		case lower == "h2c":
			v.add(k, "h2c is never relayed: an upgraded HTTP/2 connection would bypass routing and access rules (RFC 9113 §3.1)")
		case seenUp[lower]:
			v.add(k, "duplicate protocol %q", p)
		}
		seenUp[lower] = true
	}
	for i, m := range r.AllowMethods {
		if !httpguts.ValidHeaderFieldName(m) || m != strings.ToUpper(m) {
			v.add(fmt.Sprintf("%s.allow_methods[%d]", key, i), "invalid method %q (upper-case HTTP method)", m)
		}
	}
	for i, c := range r.AllowCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.add(fmt.Sprintf("%s.allow_cidrs[%d]", key, i), "invalid CIDR %q", c)
		}
	}
	for i, c := range r.DenyCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.add(fmt.Sprintf("%s.deny_cidrs[%d]", key, i), "invalid CIDR %q", c)
		}
	}
	if a := r.Auth; a != nil {
		v.auth(key+".auth", a)
	}
	if rl := r.RateLimit; rl != nil {
		k := key + ".rate_limit"
		if !(rl.Rate > 0) || math.IsInf(rl.Rate, 0) {
			v.add(k+".rate", "must be a positive number of requests per second, got %v", rl.Rate)
		}
		v.between(k+".burst", rl.Burst, 0, math.MaxInt32)
		if src, name, _ := strings.Cut(rl.Key, ":"); !(rl.Key == "ip" || rl.Key == "identity" || rl.Key == "route" || src == "header" && httpguts.ValidHeaderFieldName(name)) {
			v.add(k+".key", "want ip, identity, route or header:NAME, got %q", rl.Key)
		}
		v.between(k+".max_keys", rl.MaxKeys, 1, 100_000_000)
		v.nonNegative(k+".idle_ttl", rl.IdleTTL)
	}
	if rt := r.Retry; rt != nil {
		v.retry(key+".retry", rt)
	}
	v.nonNegative(key+".timeouts.overall", r.Timeouts.Overall)
	v.nonNegative(key+".timeouts.per_try", r.Timeouts.PerTry)
	if o, p := r.Timeouts.Overall, r.Timeouts.PerTry; o > 0 && p > o {
		v.add(key+".timeouts.per_try", "must not exceed timeouts.overall (%v)", o)
	}
	if c := r.Concurrency; c != nil {
		v.concurrency(key+".concurrency", c)
	}
	if st := r.Static; st != nil {
		if r.Pool != "" {
			v.add(key+".static", "a route serves either a pool or static files, not both")
		}
		if st.Root == "" {
			v.add(key+".static.root", "required")
		}
		if r.Retry != nil {
			v.add(key+".retry", "not used with static files")
		}
	} else {
		switch {
		case r.Pool == "":
			v.add(key+".pool", "required (or static)")
		case !pools[r.Pool]:
			v.add(key+".pool", "unknown pool %q", r.Pool)
		}
	}
	if c := r.Cache; c != nil {
		if c.MaxBytes < 1024 {
			v.add(key+".cache.max_bytes", "must be at least 1024, got %d", c.MaxBytes)
		}
		if c.MaxObjectBytes < 0 || c.MaxObjectBytes > c.MaxBytes {
			v.add(key+".cache.max_object_bytes", "must be between 0 and max_bytes (%d)", c.MaxBytes)
		}
		v.nonNegative(key+".cache.default_ttl", c.DefaultTTL)
		if c.KeyByIdentity && r.Auth == nil {
			v.add(key+".cache.key_by_identity", "needs auth on the route: the key is the authenticated subject")
		}
	}
	if c := r.Compress; c != nil {
		v.between(key+".compress.level", c.Level, 0, 9)
		v.between(key+".compress.min_bytes", c.MinBytes, 0, math.MaxInt32)
	}
}

func (v *validator) pool(key string, p *Pool) {
	v.name(key+".name", p.Name)
	strategy, err := balance.Lookup(p.Strategy)
	if err != nil {
		v.add(key+".strategy", "%v", err)
	}
	switch {
	case !strategy.Hashed && p.HashKey != "":
		v.add(key+".hash_key", "only valid with strategy %s", strategiesWhere(func(i balance.Info) bool { return i.Hashed }))
	case strategy.Hashed:
		if _, _, err := SplitHashKey(p.HashKey); err != nil {
			v.add(key+".hash_key", "%v", err)
		}
	}
	if !strategy.Ring {
		ring := strategiesWhere(func(i balance.Info) bool { return i.Ring })
		if p.VirtualNodes != 0 {
			v.add(key+".virtual_nodes", "only valid with strategy %s", ring)
		}
		if p.BoundedLoad != 0 {
			v.add(key+".bounded_load", "only valid with strategy %s", ring)
		}
	} else {
		v.between(key+".virtual_nodes", p.VirtualNodes, 1, 10000)
		// Written so that NaN fails too.
		if b := p.BoundedLoad; b != 0 && !(b > 1 && !math.IsInf(b, 1)) {
			v.add(key+".bounded_load", "must be 0 (off) or a number greater than 1, got %v", b)
		}
	}
	if s := p.Sticky; s != nil {
		if !httpguts.ValidHeaderFieldName(s.Cookie) {
			v.add(key+".sticky.cookie", "invalid cookie name %q", s.Cookie)
		}
		// Never echo the secret.
		if len(s.Secret) < 16 {
			v.add(key+".sticky.secret", "must be at least 16 bytes, got %d", len(s.Secret))
		}
		v.positive(key+".sticky.ttl", s.TTL)
	}
	if p.Protocol != ProtocolHTTP1 && p.Protocol != ProtocolH2C {
		v.add(key+".protocol", "unknown protocol %q; want http1 or h2c", p.Protocol)
	}
	if h := p.HostHeader; h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		v.add(key+".host_header", "want preserve, backend or a host name, got %q", h)
	}

	if d := p.Discovery; d != nil {
		v.discovery(key+".discovery", d)
	}
	if len(p.Backends) == 0 && !p.Dynamic() {
		v.add(key+".backends", "at least one backend is required")
	}
	ids := make(map[string]string) // id -> key of its first use
	for i := range p.Backends {
		b := &p.Backends[i]
		k := fmt.Sprintf("%s.backends[%d]", key, i)
		v.backendAddr(k+".address", b.Address)
		v.between(k+".weight", b.Weight, 1, 1000)
		if first, dup := ids[b.ID]; dup {
			v.add(k+".id", "duplicate backend id %q (same as %s; set id to tell them apart)", b.ID, first)
		} else {
			ids[b.ID] = k
		}
	}

	if h := p.HealthCheck; h != nil {
		k := key + ".health_check"
		v.path(k+".path", h.Path, true)
		v.positive(k+".interval", h.Interval)
		v.positive(k+".timeout", h.Timeout)
		if h.Timeout >= h.Interval && h.Interval > 0 {
			v.add(k+".timeout", "must be less than interval (%v)", h.Interval)
		}
		if err := h.ExpectedStatus.validate(); err != nil {
			v.add(k+".expected_status", "%v", err)
		}
		v.between(k+".healthy_threshold", h.HealthyThreshold, 1, 1000)
		v.between(k+".unhealthy_threshold", h.UnhealthyThreshold, 1, 1000)
		v.between(k+".panic_threshold", h.PanicThreshold, 0, 100)
	}
	if o := p.Outlier; o != nil {
		k := key + ".outlier"
		v.between(k+".consecutive_failures", o.ConsecutiveFailures, 1, 1000)
		v.positive(k+".base_ejection", o.BaseEjection)
		if o.MaxEjection < o.BaseEjection {
			v.add(k+".max_ejection", "must be at least base_ejection (%v)", o.BaseEjection)
		}
		v.between(k+".max_ejection_percent", o.MaxEjectionPercent, 1, 100)
	}
	if cb := p.CircuitBreaker; cb != nil {
		k := key + ".circuit_breaker"
		if !(cb.FailureRatio > 0 && cb.FailureRatio <= 1) {
			v.add(k+".failure_ratio", "must be in (0, 1], got %v", cb.FailureRatio)
		}
		v.between(k+".min_requests", cb.MinRequests, 1, math.MaxInt32)
		v.positive(k+".window", cb.Window)
		v.positive(k+".cool_down", cb.CoolDown)
		v.between(k+".half_open_probes", cb.HalfOpenProbes, 1, 1000)
	}
	if c := p.ConcurrencyPerBackend; c != nil {
		v.concurrency(key+".concurrency_per_backend", c)
	}
	v.nonNegative(key+".slow_start", p.SlowStart)
	v.positive(key+".timeouts.connect", p.Timeouts.Connect)
	v.positive(key+".timeouts.response_header", p.Timeouts.ResponseHeader)
	v.positive(key+".timeouts.idle_conn", p.Timeouts.IdleConn)
	v.between(key+".max_idle_conns_per_backend", p.MaxIdleConnsPerBackend, 1, math.MaxInt32)
}

func (v *validator) retry(key string, r *Retry) {
	v.between(key+".max_retries", r.MaxRetries, 0, 10)
	for i, cond := range r.RetryOn {
		k := fmt.Sprintf("%s.retry_on[%d]", key, i)
		switch cond {
		case RetryConnectError, RetryReset, RetryTimeout:
			continue
		}
		if code, err := strconv.Atoi(cond); err != nil || code < 400 || code > 599 {
			v.add(k, "want connect_error, reset, timeout or a 4xx/5xx status code, got %q", cond)
		}
	}
	for i, m := range r.Methods {
		if !httpguts.ValidHeaderFieldName(m) || m != strings.ToUpper(m) {
			v.add(fmt.Sprintf("%s.methods[%d]", key, i), "invalid method %q (upper-case HTTP method)", m)
		}
	}
	v.positive(key+".backoff_base", r.BackoffBase)
	if r.BackoffMax < r.BackoffBase {
		v.add(key+".backoff_max", "must be at least backoff_base (%v)", r.BackoffBase)
	}
	v.nonNegative(key+".retry_after_max", r.RetryAfterMax)
	if !(r.BudgetRatio >= 0 && r.BudgetRatio <= 1) {
		v.add(key+".budget_ratio", "must be in [0, 1], got %v", r.BudgetRatio)
	}
	v.between(key+".budget_min", r.BudgetMin, 0, math.MaxInt32)
	if r.MaxBodyBytes < 0 {
		v.add(key+".max_body_bytes", "must not be negative")
	}
}

func (v *validator) auth(key string, a *Auth) {
	if a.APIKeys == nil && a.JWT == nil && a.Basic == nil {
		v.add(key, "needs at least one of api_keys, jwt, basic")
	}
	if k := a.APIKeys; k != nil {
		if len(k.Keys) == 0 && k.File == "" {
			v.add(key+".api_keys", "needs keys or file")
		}
		for _, name := range slices.Sorted(maps.Keys(k.Keys)) {
			if h := k.Keys[name]; len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
				v.add(key+".api_keys.keys."+name, "want the hex SHA-256 of the key (64 hex digits; echo -n KEY | sha256sum), not the key itself")
			}
		}
		if k.Header != "" && !httpguts.ValidHeaderFieldName(k.Header) {
			v.add(key+".api_keys.header", "invalid header name %q", k.Header)
		}
	}
	if j := a.JWT; j != nil {
		if len(j.Algorithms) == 0 {
			v.add(key+".jwt.algorithms", "required: HS256, RS256 and/or ES256")
		}
		for i, alg := range j.Algorithms {
			if alg != "HS256" && alg != "RS256" && alg != "ES256" {
				v.add(fmt.Sprintf("%s.jwt.algorithms[%d]", key, i), "want HS256, RS256 or ES256, got %q", alg)
			}
		}
		if j.Secret == "" && j.KeyFile == "" && j.JWKSFile == "" {
			v.add(key+".jwt", "needs secret, key_file or jwks_file")
		}
	}
	if b := a.Basic; b != nil && len(b.Users) == 0 && b.File == "" {
		v.add(key+".basic", "needs users or file")
	}
	if f := a.MaxFailures; f != nil {
		if !(f.Rate > 0) || math.IsInf(f.Rate, 0) {
			v.add(key+".max_failures.rate", "must be a positive number of failures per second, got %v", f.Rate)
		}
		v.between(key+".max_failures.burst", f.Burst, 1, math.MaxInt32)
	}
	if a.ForwardHeader != "" && !httpguts.ValidHeaderFieldName(a.ForwardHeader) {
		v.add(key+".forward_header", "invalid header name %q", a.ForwardHeader)
	}
}

func (v *validator) l4(key string, l *L4, names map[string]string) {
	v.name(key+".name", l.Name)
	v.unique(key+".name", l.Name, names, key)
	v.listenAddr(key+".listen", l.Listen)
	switch strategy, err := balance.Lookup(l.Strategy); {
	case err != nil:
		v.add(key+".strategy", "%v", err)
	case !strategy.PerConnection:
		v.add(key+".strategy", "%s does not apply to TCP (connect times measure the network); use %s", l.Strategy, balance.LeastConnections)
	}
	if len(l.Backends) == 0 {
		v.add(key+".backends", "at least one backend is required")
	}
	for i := range l.Backends {
		b := &l.Backends[i]
		k := fmt.Sprintf("%s.backends[%d]", key, i)
		v.backendAddr(k+".address", b.Address)
		v.between(k+".weight", b.Weight, 1, 1000)
	}
	v.positive(key+".connect_timeout", l.ConnectTimeout)
	v.between(key+".connect_retries", l.ConnectRetries, 0, 100)
	v.nonNegative(key+".idle_timeout", l.IdleTimeout)
	v.between(key+".max_connections", l.MaxConnections, 0, math.MaxInt32)
	v.nonNegative(key+".drain_timeout", l.DrainTimeout)
	if h := l.HealthCheck; h != nil {
		v.positive(key+".health_check.interval", h.Interval)
		v.positive(key+".health_check.timeout", h.Timeout)
		v.between(key+".health_check.healthy_threshold", h.HealthyThreshold, 1, 1000)
		v.between(key+".health_check.unhealthy_threshold", h.UnhealthyThreshold, 1, 1000)
	}
}

func (v *validator) concurrency(key string, c *Concurrency) {
	v.between(key+".max", c.Max, 1, math.MaxInt32)
	v.between(key+".queue_size", c.QueueSize, 0, math.MaxInt32)
	v.positive(key+".queue_timeout", c.QueueTimeout)
}

// SplitHashKey splits a pool's hash_key into its source ("header",
// "cookie", "query", "path" or "ip") and name ("" for path and ip).
func SplitHashKey(s string) (source, name string, err error) {
	source, name, named := strings.Cut(s, ":")
	switch source {
	case "path", "ip":
		if !named {
			return source, "", nil
		}
	case "header", "cookie":
		if httpguts.ValidHeaderFieldName(name) {
			return source, name, nil
		}
	case "query":
		if name != "" {
			return source, name, nil
		}
	}
	return "", "", fmt.Errorf("invalid hash key %q; want header:NAME, cookie:NAME, query:NAME, path or ip", s)
}

func (v *validator) unique(key, name string, seen map[string]string, at string) {
	if name == "" {
		return // already reported as required
	}
	if first, dup := seen[name]; dup {
		v.add(key, "duplicate name %q (same as %s)", name, first)
		return
	}
	seen[name] = at
}

// name checks a route or pool name. They appear in logs, metrics labels
// and status URLs, so keep them to a safe alphabet.
func (v *validator) name(key, name string) {
	switch {
	case name == "":
		v.add(key, "required")
	case strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}):
		v.add(key, `invalid name %q: use letters, digits, "-", "_" and "."`, name)
	}
}

// path checks a URL path prefix; health check paths may carry a query.
func (v *validator) path(key, path string, query bool) {
	if !strings.HasPrefix(path, "/") {
		v.add(key, `must start with "/", got %q`, path)
		return
	}
	bad := func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' || (r == '?' && !query) }
	if i := strings.IndexFunc(path, bad); i >= 0 {
		v.add(key, "invalid character %q in path %q", path[i], path)
	}
}

// hostPattern checks a route host: a host name, optionally with a leading
// "*." wildcard. Requests' ports are ignored when matching, so none here.
func (v *validator) hostPattern(key, host string) {
	name := strings.TrimPrefix(host, "*.")
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || strings.ContainsFunc(label, func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
		}) {
			v.add(key, `invalid host %q; want a name like "api.example.com" or "*.example.com", without port`, host)
			return
		}
	}
}

// listenAddr checks a listener address; port 0 picks a free port.
func (v *validator) listenAddr(key, addr string) {
	if addr == "" {
		v.add(key, "required")
	} else if _, port, err := net.SplitHostPort(addr); err != nil {
		v.add(key, "invalid address %q: %s", addr, addrError(err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(key, "invalid port %q in %q; want 0-65535", port, addr)
	}
}

func (v *validator) backendAddr(key, addr string) {
	if addr == "" {
		v.add(key, "required")
	} else if host, port, err := net.SplitHostPort(addr); err != nil {
		v.add(key, "invalid address %q: %s", addr, addrError(err))
	} else if host == "" {
		v.add(key, "invalid address %q: host is required", addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(key, "invalid port %q in %q; want 1-65535", port, addr)
	}
}

// addrError drops net's repetition of the address from its message.
func addrError(err error) string {
	if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be positive, got %v", d)
	}
}

func (v *validator) nonNegative(key string, d time.Duration) {
	if d < 0 {
		v.add(key, "must not be negative, got %v", d)
	}
}

func (v *validator) between(key string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(key, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// strategiesWhere words the strategies keep selects for a message:
// "a", "a or b", "a, b or c".
func strategiesWhere(keep func(balance.Info) bool) string {
	names := balance.StrategiesWhere(keep)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

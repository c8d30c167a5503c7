package config

import (
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
	"github.com/drawbridge-dev/drawbridge/gateway/split"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// check fills the defaults that depend on other fields, then validates.
// The errors carry keys only; Parse adds the file and lines.
func (c *Config) check() Errors { return c.checkAt(nil, nil) }

// checkAt is check with where locating a key (FILE:LINE) for messages
// that name a second place in the file, and written telling the keys
// written in it; both nil for configs built in Go.
func (c *Config) checkAt(where func(key string) string, written func(key string) bool) Errors {
	c.derive()
	errs := append(c.validate(), c.listenerClashes(where)...)
	if written != nil {
		errs = append(errs, c.misplaced(written)...)
	}
	return errs
}

// misplaced reports keys written for a kind other than their block's
// (a discovery provider's key under another provider).
func (c *Config) misplaced(written func(key string) bool) Errors {
	var v validator
	for i := range c.Pools {
		if d := c.Pools[i].Discovery; d != nil {
			key := fmt.Sprintf("pools[%d].discovery", i)
			v.In(key, d.Misplaced(func(k string) bool { return written(yamlconf.Under(key, k)) }))
		}
	}
	return v.Errs
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
				v.Add(ls[j].key, "%q clashes with %s %q%s: both bind port %s", ls[j].addr, ls[i].key, ls[i].addr, at, port)
				break // one report per listener
			}
		}
	}
	return v.Errs
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
		if rl := c.Routes[i].RateLimit; rl != nil {
			rl.DeriveDefaults()
		}
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

// validator collects problems by key; the blocks feature packages own
// validate themselves and are added under their key (Check.In).
type validator struct{ yamlconf.Check }

func (c *Config) validate() Errors {
	var v validator
	v.listenAddr("listen", c.Listen)
	if c.Admin.Enabled {
		v.listenAddr("admin.listen", c.Admin.Listen)
	}
	v.NonNegative("shutdown_timeout", c.ShutdownTimeout)
	v.Between("max_concurrent", c.MaxConcurrent, 0, math.MaxInt32)
	v.Between("server.max_uri_bytes", c.Server.MaxURIBytes, 64, 1<<20)
	if c.Server.MaxBodyBytes < 0 {
		v.Add("server.max_body_bytes", "must not be negative")
	}
	if c.Server.MinBodyRate < 0 {
		v.Add("server.min_body_rate", "must not be negative")
	}
	v.Positive("server.body_grace", c.Server.BodyGrace)
	if t := c.TLS; t != nil {
		v.listenAddr("tls.listen", t.Listen)
		if len(t.Certificates) == 0 && !t.ACME.On() {
			v.Add("tls.certificates", "at least one certificate is required (or tls.acme)")
		}
		if t.ACME != nil {
			v.In("tls.acme", t.ACME.Validate())
		}
		for i, cert := range t.Certificates {
			k := fmt.Sprintf("tls.certificates[%d]", i)
			if cert.CertFile == "" {
				v.Add(k+".cert_file", "required")
			}
			if cert.KeyFile == "" {
				v.Add(k+".key_file", "required")
			}
		}
		if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
			v.Add("tls.min_version", "want \"1.2\" or \"1.3\", got %q", t.MinVersion)
		}
		v.Positive("tls.handshake_timeout", t.HandshakeTimeout)
	}
	l4names := map[string]string{}
	for i := range c.L4 {
		v.l4(fmt.Sprintf("l4[%d]", i), &c.L4[i], l4names)
	}
	switch c.Server.EncodedSlashes {
	case "keep", "decode", "reject":
	default:
		v.Add("server.encoded_slashes", "want keep, decode or reject, got %q", c.Server.EncodedSlashes)
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.Add(fmt.Sprintf("server.trusted_proxies[%d]", i), "invalid CIDR %q", p)
		}
	}
	switch c.Server.UnderscoresInHeaders {
	case UnderscoresDrop, UnderscoresAllow:
	default:
		v.Add("server.underscores_in_headers", "want drop or allow, got %q", c.Server.UnderscoresInHeaders)
	}
	switch c.Server.Engine {
	case EngineNetHTTP, EngineH1:
	default:
		v.Add("server.engine", "want net/http or h1, got %q", c.Server.Engine)
	}
	v.In("access_log", c.AccessLog.Validate())
	v.Positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	v.Positive("server.idle_timeout", c.Server.IdleTimeout)
	v.Between("server.max_header_bytes", c.Server.MaxHeaderBytes, 1, math.MaxInt32)
	v.Between("server.max_headers", c.Server.MaxHeaders, 1, math.MaxInt32)

	pools := make(map[string]bool, len(c.Pools))
	for _, p := range c.Pools {
		pools[p.Name] = true
	}
	if len(c.Routes) == 0 {
		v.Add("routes", "at least one route is required")
	}
	names := make(map[string]string) // route name -> key of its first use
	for i := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		v.route(key, &c.Routes[i], pools)
		v.unique(key+".name", c.Routes[i].Name, names, key)
	}
	if len(c.Pools) == 0 {
		v.Add("pools", "at least one pool is required")
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
		v.Add(p.Key, "%s", p.Msg)
	}
	return v.Errs
}

// failover checks the failover section; settings of the mode not chosen
// are ignored, so an operator can keep both written down.
func (v *validator) failover(f *Failover) {
	switch f.Mode {
	case FailoverNone:
		return
	case FailoverLocal, FailoverAWS:
	default:
		v.Add("failover.mode", "want none, local or aws, got %q", f.Mode)
		return
	}
	if f.Node == "" {
		v.Add("failover.node", "required (the host name is unknown)")
	}
	l := f.Lease
	switch l.Type {
	case LeaseFile:
		if l.Path == "" {
			v.Add("failover.lease.path", "required with lease type file")
		}
	case LeaseDynamoDB:
		if l.Table == "" {
			v.Add("failover.lease.table", "required with lease type dynamodb")
		}
	default:
		v.Add("failover.lease.type", "want file or dynamodb, got %q", l.Type)
	}
	// Below 300ms the renewal period (ttl/3) is within scheduling noise.
	if l.TTL < 300*time.Millisecond {
		v.Add("failover.lease.ttl", "must be at least 300ms, got %v", l.TTL)
	}
	if f.Mode == FailoverLocal {
		if f.Node == Auto {
			v.Add("failover.node", "auto (the instance id from IMDS) needs mode aws")
		}
		if _, err := netip.ParsePrefix(f.VIP.Address); err != nil {
			v.Add("failover.vip.address", "want an address with prefix length, e.g. 10.0.0.100/24: %v", err)
		}
		if f.VIP.Interface == "" {
			v.Add("failover.vip.interface", "required in local mode")
		}
	} else {
		if !strings.HasPrefix(f.EIP.AllocationID, "eipalloc-") {
			v.Add("failover.eip.allocation_id", "want eipalloc-..., got %q", f.EIP.AllocationID)
		}
		if !strings.HasPrefix(f.EIP.InstanceID, "i-") && f.EIP.InstanceID != Auto {
			v.Add("failover.eip.instance_id", "want i-... or auto (from IMDS), got %q", f.EIP.InstanceID)
		}
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
		v.Add(key+".match.path_prefix", "%q would never match: routing ignores segment parameters (\";...\")", m.PathPrefix)
	}
	seen := make(map[string]bool)
	for i, method := range m.Methods {
		k := fmt.Sprintf("%s.match.methods[%d]", key, i)
		switch {
		case !httpguts.ValidHeaderFieldName(method):
			v.Add(k, "invalid method %q", method)
		case method != strings.ToUpper(method):
			v.Add(k, "method %q must be upper-case (%s)", method, strings.ToUpper(method))
		case seen[method]:
			v.Add(k, "duplicate method %q", method)
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
			v.Add(k, "invalid header name %q", name)
		case names[lower] != "":
			v.Add(k, "header %q is also matched as %q (names are case-insensitive)", name, names[lower])
		case value == "":
			v.Add(k, "value must not be empty")
		case strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
			v.Add(k, "value %q contains control characters", value)
		}
		names[lower] = name
	}
	if r.RewritePrefix != "" {
		v.path(key+".rewrite_prefix", r.RewritePrefix, false)
	}
	groups := -1
	if rr := r.RewriteRegex; rr != nil {
		v.In(key+".rewrite_regex", rr.Validate())
		if r.RewritePrefix != "" || r.StripPrefix {
			v.Add(key+".rewrite_regex", "not with rewrite_prefix or strip_prefix: a route rewrites its path one way")
		}
		groups = max(rr.Groups(), 0)
	}
	seenUp := make(map[string]bool)
	for i, p := range r.Upgrade {
		k := fmt.Sprintf("%s.upgrade[%d]", key, i)
		lower := strings.ToLower(p)
		switch {
		case !httpguts.ValidHeaderFieldName(p):
			v.Add(k, "invalid protocol name %q (a token, e.g. websocket)", p)
		case lower == "h2c":
			v.Add(k, "h2c is never relayed: an upgraded HTTP/2 connection would bypass routing and access rules (RFC 9113 §3.1)")
		case seenUp[lower]:
			v.Add(k, "duplicate protocol %q", p)
		}
		seenUp[lower] = true
	}
	for i, m := range r.AllowMethods {
		if !httpguts.ValidHeaderFieldName(m) || m != strings.ToUpper(m) {
			v.Add(fmt.Sprintf("%s.allow_methods[%d]", key, i), "invalid method %q (upper-case HTTP method)", m)
		}
	}
	for i, c := range r.AllowCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.Add(fmt.Sprintf("%s.allow_cidrs[%d]", key, i), "invalid CIDR %q", c)
		}
	}
	for i, c := range r.DenyCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.Add(fmt.Sprintf("%s.deny_cidrs[%d]", key, i), "invalid CIDR %q", c)
		}
	}
	if a := r.Auth; a != nil {
		v.In(key+".auth", a.Validate())
	}
	if rl := r.RateLimit; rl != nil {
		v.In(key+".rate_limit", rl.Validate("requests"))
	}
	if rt := r.Retry; rt != nil {
		v.In(key+".retry", rt.Validate())
	}
	v.NonNegative(key+".timeouts.overall", r.Timeouts.Overall)
	v.NonNegative(key+".timeouts.per_try", r.Timeouts.PerTry)
	if o, p := r.Timeouts.Overall, r.Timeouts.PerTry; o > 0 && p > o {
		v.Add(key+".timeouts.per_try", "must not exceed timeouts.overall (%v)", o)
	}
	if c := r.Concurrency; c != nil {
		v.In(key+".concurrency", c.Validate())
	}
	if len(r.Split) > 0 {
		if r.Pool != "" || r.Static != nil || r.Redirect != nil {
			v.Add(key+".split", "a route has one of pool, split, static or redirect")
		}
		v.In(key+".split", split.Validate(r.Split, func(p string) bool { return pools[p] }))
	}
	if s := r.SplitSticky; s != nil {
		if len(r.Split) == 0 {
			v.Add(key+".split_sticky", "needs split")
		}
		v.In(key+".split_sticky", s.Validate())
	}
	if m := r.Mirror; m != nil {
		if r.Static != nil || r.Redirect != nil {
			v.Add(key+".mirror", "not used with static or redirect")
		}
		v.In(key+".mirror", m.Validate(func(p string) bool { return pools[p] }))
	}
	if rd := r.Redirect; rd != nil {
		switch {
		case r.Pool != "":
			v.Add(key+".redirect", "a route has one of pool, static or redirect")
		case r.Static != nil:
			v.Add(key+".redirect", "a route has one of pool, static or redirect")
		}
		v.In(key+".redirect", rd.Validate(groups))
		if r.Retry != nil {
			v.Add(key+".retry", "not used with redirect")
		}
		if r.Cache != nil {
			v.Add(key+".cache", "not used with redirect")
		}
		if r.Compress != nil {
			v.Add(key+".compress", "not used with redirect")
		}
	}
	if st := r.Static; st != nil {
		if r.Pool != "" {
			v.Add(key+".static", "a route serves either a pool or static files, not both")
		}
		v.In(key+".static", st.Validate())
		if r.Retry != nil {
			v.Add(key+".retry", "not used with static files")
		}
	} else if r.Redirect == nil && len(r.Split) == 0 {
		switch {
		case r.Pool == "":
			v.Add(key+".pool", "required (or split, static, or redirect)")
		case !pools[r.Pool]:
			v.Add(key+".pool", "unknown pool %q", r.Pool)
		}
	}
	if c := r.Cache; c != nil {
		v.In(key+".cache", c.Validate())
		if c.KeyByIdentity && r.Auth == nil {
			v.Add(key+".cache.key_by_identity", "needs auth on the route: the key is the authenticated subject")
		}
	}
	if c := r.Compress; c != nil {
		v.In(key+".compress", c.Validate())
	}
	if hc := r.Headers; hc != nil {
		identity := []string{"X-Auth-Subject"} // the header every route guards (see auth)
		if r.Auth != nil && r.Auth.ForwardHeader != "" {
			identity = append(identity, r.Auth.ForwardHeader)
		}
		v.In(key+".headers", hc.Validate(identity...))
	}
	if c := r.CORS; c != nil {
		v.In(key+".cors", c.Validate())
		for i, m := range c.AllowMethods {
			if len(r.AllowMethods) > 0 && !slices.Contains(r.AllowMethods, m) {
				v.Add(fmt.Sprintf("%s.cors.allow_methods[%d]", key, i), "%s is not in the route's allow_methods: browsers would be told to send what gets 405", m)
			}
		}
	}
}

func (v *validator) pool(key string, p *Pool) {
	v.name(key+".name", p.Name)
	strategy, err := balance.Lookup(p.Strategy)
	if err != nil {
		v.Add(key+".strategy", "%v", err)
	}
	switch {
	case !strategy.Hashed && p.HashKey != "":
		v.Add(key+".hash_key", "only valid with strategy %s", strategiesWhere(func(i balance.Info) bool { return i.Hashed }))
	case strategy.Hashed:
		if _, _, err := SplitHashKey(p.HashKey); err != nil {
			v.Add(key+".hash_key", "%v", err)
		}
	}
	if !strategy.Ring {
		ring := strategiesWhere(func(i balance.Info) bool { return i.Ring })
		if p.VirtualNodes != 0 {
			v.Add(key+".virtual_nodes", "only valid with strategy %s", ring)
		}
		if p.BoundedLoad != 0 {
			v.Add(key+".bounded_load", "only valid with strategy %s", ring)
		}
	} else {
		v.Between(key+".virtual_nodes", p.VirtualNodes, 1, 10000)
		// Written so that NaN fails too.
		if b := p.BoundedLoad; b != 0 && !(b > 1 && !math.IsInf(b, 1)) {
			v.Add(key+".bounded_load", "must be 0 (off) or a number greater than 1, got %v", b)
		}
	}
	if s := p.Sticky; s != nil {
		if !httpguts.ValidHeaderFieldName(s.Cookie) {
			v.Add(key+".sticky.cookie", "invalid cookie name %q", s.Cookie)
		}
		// Never echo the secret.
		if len(s.Secret) < 16 {
			v.Add(key+".sticky.secret", "must be at least 16 bytes, got %d", len(s.Secret))
		}
		v.Positive(key+".sticky.ttl", s.TTL)
	}
	switch p.Protocol {
	case ProtocolHTTP1, ProtocolH2C:
		if p.TLS != nil {
			v.Add(key+".tls", "needs protocol https or h2, got %q", p.Protocol)
		}
	case ProtocolHTTPS, ProtocolH2:
		if p.TLS == nil { // https without a block: every default
			p.TLS = new(tlsterm.Upstream)
			p.TLS.SetDefaults()
		}
		v.In(key+".tls", p.TLS.Validate())
	default:
		v.Add(key+".protocol", "unknown protocol %q; want http1, h2c, https or h2", p.Protocol)
	}
	if h := p.HostHeader; h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		v.Add(key+".host_header", "want preserve, backend or a host name, got %q", h)
	}

	if d := p.Discovery; d != nil {
		v.In(key+".discovery", d.Validate())
	}
	if len(p.Backends) == 0 && !p.Dynamic() {
		v.Add(key+".backends", "at least one backend is required")
	}
	ids := make(map[string]string) // id -> key of its first use
	for i := range p.Backends {
		b := &p.Backends[i]
		k := fmt.Sprintf("%s.backends[%d]", key, i)
		v.backendAddr(k+".address", b.Address)
		v.Between(k+".weight", b.Weight, 1, 1000)
		if first, dup := ids[b.ID]; dup {
			v.Add(k+".id", "duplicate backend id %q (same as %s; set id to tell them apart)", b.ID, first)
		} else {
			ids[b.ID] = k
		}
	}

	if h := p.HealthCheck; h != nil {
		v.In(key+".health_check", h.Validate())
	}
	if o := p.Outlier; o != nil {
		v.In(key+".outlier", o.Validate())
	}
	if cb := p.CircuitBreaker; cb != nil {
		v.In(key+".circuit_breaker", cb.Validate())
	}
	if c := p.ConcurrencyPerBackend; c != nil {
		v.In(key+".concurrency_per_backend", c.Validate())
	}
	v.NonNegative(key+".slow_start", p.SlowStart)
	v.Positive(key+".timeouts.connect", p.Timeouts.Connect)
	v.Positive(key+".timeouts.response_header", p.Timeouts.ResponseHeader)
	v.Positive(key+".timeouts.idle_conn", p.Timeouts.IdleConn)
	v.Between(key+".max_idle_conns_per_backend", p.MaxIdleConnsPerBackend, 1, math.MaxInt32)
}

// l4 checks what the file adds to a listener the l4 package validates:
// its name and address are required, and the name unique.
func (v *validator) l4(key string, l *L4, names map[string]string) {
	v.name(key+".name", l.Name)
	v.unique(key+".name", l.Name, names, key)
	v.listenAddr(key+".listen", l.Listen)
	if len(l.Backends) == 0 {
		v.Add(key+".backends", "at least one backend is required")
	}
	v.In(key, l.Validate())
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
		v.Add(key, "duplicate name %q (same as %s)", name, first)
		return
	}
	seen[name] = at
}

// name checks a route or pool name. They appear in logs, metrics labels
// and status URLs, so keep them to a safe alphabet.
func (v *validator) name(key, name string) {
	switch {
	case name == "":
		v.Add(key, "required")
	case strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}):
		v.Add(key, `invalid name %q: use letters, digits, "-", "_" and "."`, name)
	}
}

// path checks a URL path prefix; health check paths may carry a query.
func (v *validator) path(key, path string, query bool) {
	if !strings.HasPrefix(path, "/") {
		v.Add(key, `must start with "/", got %q`, path)
		return
	}
	bad := func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' || (r == '?' && !query) }
	if i := strings.IndexFunc(path, bad); i >= 0 {
		v.Add(key, "invalid character %q in path %q", path[i], path)
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
			v.Add(key, `invalid host %q; want a name like "api.example.com" or "*.example.com", without port`, host)
			return
		}
	}
}

// listenAddr checks a listener address; port 0 picks a free port.
func (v *validator) listenAddr(key, addr string) {
	if addr == "" {
		v.Add(key, "required")
	} else if _, port, err := net.SplitHostPort(addr); err != nil {
		v.Add(key, "invalid address %q: %s", addr, backend.AddrError(err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.Add(key, "invalid port %q in %q; want 0-65535", port, addr)
	}
}

func (v *validator) backendAddr(key, addr string) {
	if err := backend.CheckAddress(addr); err != nil {
		v.Add(key, "%v", err)
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

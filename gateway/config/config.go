// Package config loads the gateway's YAML configuration into one immutable
// value: strictly decoded (unknown keys and wrong types are errors), with
// defaults applied and every value validated, so the rest of the gateway can
// trust it without re-checking. Every error names FILE:LINE and the dotted
// key path. examples/gateway.yaml documents every key and its default.
//
// The package is pure data: it opens the file it is given, the files and
// environment variables its ${file:PATH} and ${VAR} references name (see
// package yamlconf), and those named by "env:" secrets, nothing else.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/accesslog"
	"github.com/drawbridge-dev/drawbridge/gateway/acme"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/cache"
	"github.com/drawbridge-dev/drawbridge/gateway/compress"
	"github.com/drawbridge-dev/drawbridge/gateway/cors"
	"github.com/drawbridge-dev/drawbridge/gateway/headers"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"github.com/drawbridge-dev/drawbridge/gateway/mirror"
	"github.com/drawbridge-dev/drawbridge/gateway/ratelimit"
	"github.com/drawbridge-dev/drawbridge/gateway/redirect"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/route"
	"github.com/drawbridge-dev/drawbridge/gateway/split"
	"github.com/drawbridge-dev/drawbridge/gateway/static"
	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config is the whole gateway configuration. After Load, Parse or Default
// returns it, treat it as read-only: it is shared without locks.
type Config struct {
	Listen          string        `yaml:"listen"`           // client listener, HTTP/1.1 and h2c; default ":8080"
	Admin           Admin         `yaml:"admin"`            // metrics and status listener
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // drain time on SIGTERM; default 30s; 0 closes at once
	AccessLog       AccessLog     `yaml:"access_log"`       //
	Server          Server        `yaml:"server"`           // client-side HTTP server limits
	MaxConcurrent   int           `yaml:"max_concurrent"`   // load shedding: requests served at once before 503; 0 = no limit
	TLS             *TLS          `yaml:"tls"`              // HTTPS listener; nil = none
	L4              []L4          `yaml:"l4"`               // TCP listeners
	Routes          []Route       `yaml:"routes"`           // matched in order, first match wins; at least one
	Pools           []Pool        `yaml:"pools"`            // at least one; names unique
	Failover        *Failover     `yaml:"failover"`         // active-passive high availability; nil = single node
	Tracing         Tracing       `yaml:"tracing"`          // OpenTelemetry spans over OTLP; off by default
	Log             Log           `yaml:"log"`              // the operational log (not the access log)

	substFiles []string // read by ${file:} references; see SubstitutedFiles
}

// SubstitutedFiles returns the files the loaded file's ${file:PATH}
// references read, so that the server can reload when one changes.
func (c *Config) SubstitutedFiles() []string { return c.substFiles }

// The blocks a feature package owns: their types, defaults and validation
// live there (the package's runtime reads the same value); the names here
// keep this package's callers readable.
type (
	// A route's blocks.
	Static      = static.Config
	Cache       = cache.Config
	Compress    = compress.Config
	Headers     = headers.Config
	CORS        = cors.Config
	RateLimit   = ratelimit.Config
	Retry       = resilience.RetryConfig
	Concurrency = resilience.BulkheadConfig // also a pool's concurrency_per_backend

	Redirect     = redirect.Config
	SplitTarget  = split.Target
	SplitSticky  = split.Sticky
	Mirror       = mirror.Config
	RewriteRegex = route.RegexConfig

	// The auth block and its parts.
	Auth         = auth.Config
	AuthFailures = auth.FailureLimit
	APIKeys      = auth.APIKeyConfig
	JWT          = auth.JWTConfig
	Basic        = auth.BasicConfig

	// A pool's blocks.
	CircuitBreaker = resilience.BreakerConfig
	HealthCheck    = health.CheckConfig
	Outlier        = health.OutlierConfig
	StatusRange    = health.StatusRange
	StatusRanges   = health.StatusRanges

	// A TCP listener and its health check.
	L4       = l4.Config
	L4Health = l4.HealthConfig
)

// Retry conditions besides status codes.
const (
	RetryConnectError = resilience.RetryConnectError
	RetryReset        = resilience.RetryReset
	RetryTimeout      = resilience.RetryTimeout
)

// Tracing is the tracing block, shared with the autoscaler's file.
type Tracing = telemetry.Config

// Log is the operational log. --log-level and DRAWBRIDGE_LOG_LEVEL, when
// set, take precedence over level.
type Log struct {
	Level string `yaml:"level"` // debug | info | warn | error; default info
}

// Failover makes two gateways one active-passive pair: the active holds a
// lease (with a fencing token) and the shared address.
type Failover struct {
	Mode     string        `yaml:"mode"`     // none | local (file lease, VIP) | aws (DynamoDB lease, Elastic IP); default none
	Node     string        `yaml:"node"`     // this gateway's name, the lease holder id; default the host name; "auto" (aws mode): the instance id from IMDS
	Lease    FailoverLease `yaml:"lease"`    //
	VIP      VIP           `yaml:"vip"`      // local mode: the virtual IP moved with ip addr + gratuitous ARP
	EIP      EIP           `yaml:"eip"`      // aws mode: the Elastic IP associated with the active
	Region   string        `yaml:"region"`   // aws mode; default the SDK chain (AWS_REGION, profile)
	Endpoint string        `yaml:"endpoint"` // aws mode: endpoint override for emulators, e.g. http://localhost:4566
}

// FailoverLease is the lease the active gateway holds.
type FailoverLease struct {
	Type  string        `yaml:"type"`  // file | dynamodb; default file (local), dynamodb (aws)
	Path  string        `yaml:"path"`  // file: a path both gateways reach; relative to this file
	Table string        `yaml:"table"` // dynamodb: table with string partition key "pk"
	Key   string        `yaml:"key"`   // dynamodb: the item's pk; default "drawbridge-gateway"
	TTL   time.Duration `yaml:"ttl"`   // default 3s (local), 15s (aws); renewed every ttl/3
}

// VIP is a virtual IP address on an interface.
type VIP struct {
	Address   string `yaml:"address"`   // CIDR form, e.g. 10.77.0.100/24
	Interface string `yaml:"interface"` // e.g. eth0
}

// EIP is an Elastic IP and the instance it moves to.
type EIP struct {
	AllocationID string `yaml:"allocation_id"` // eipalloc-...
	InstanceID   string `yaml:"instance_id"`   // this gateway's instance, i-...; "auto" asks IMDSv2 at start, so both gateways share one file
}

// Auto is the value of failover.node and failover.eip.instance_id that
// means "ask the instance metadata service at start".
const Auto = "auto"

// Failover modes and lease types.
const (
	FailoverNone  = "none"
	FailoverLocal = "local"
	FailoverAWS   = "aws"
	LeaseFile     = "file"
	LeaseDynamoDB = "dynamodb"
)

// Discovery is a pool's discovery block; internal/discovery owns it and
// its registry of providers.
type Discovery = discovery.Config

// Discovery types.
const (
	DiscoveryStatic = discovery.TypeStatic
	DiscoveryFile   = discovery.TypeFile
	DiscoveryASG    = discovery.TypeASG
)

func (f *Failover) SetDefaults() { f.Mode = FailoverNone }

// Dynamic reports whether the pool's membership comes from discovery
// rather than its backends list.
func (p *Pool) Dynamic() bool { return p.Discovery != nil && p.Discovery.Dynamic() }

// Admin is the admin listener (metrics, status). It is disabled with
// enabled: false rather than a magic listen value, matching access_log.
// TLS is the HTTPS listener: certificates chosen by SNI, reloaded with the
// configuration (SIGHUP or a change to the config or certificate files).
type TLS struct {
	Listen           string        `yaml:"listen"`            // default ":8443"
	Certificates     []Certificate `yaml:"certificates"`      // at least one unless acme is on; the first is the default for unknown SNI
	ACME             *acme.Config  `yaml:"acme"`              // certificates obtained and renewed from an ACME CA; for its domains they win over certificates, which serve until one is obtained
	MinVersion       string        `yaml:"min_version"`       // "1.2" (default) or "1.3"
	RedirectHTTP     bool          `yaml:"redirect_http"`     // the plain listener answers 308 to https
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"` // default 10s
}

// Certificate is a PEM certificate chain and its key.
type Certificate struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

func (t *TLS) SetDefaults() {
	t.Listen = ":8443"
	t.MinVersion = "1.2"
	t.HandshakeTimeout = 10 * time.Second
}

type Admin struct {
	Enabled bool   `yaml:"enabled"` // default true
	Listen  string `yaml:"listen"`  // default "127.0.0.1:9090"
}

// AccessLog configures the per-request log.
type AccessLog = accesslog.Config

// Access-log query modes.
const (
	QueryRedact = accesslog.QueryRedact
	QueryFull   = accesslog.QueryFull
	QueryOmit   = accesslog.QueryOmit
)

// DefaultRedactParams are the query parameters whose values the access
// log redacts unless told otherwise.
func DefaultRedactParams() []string { return accesslog.DefaultRedactParams() }

// Server holds the client-facing http.Server limits.
type Server struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // default 10s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // default 120s
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`    // default 64 KiB; larger heads get 431
	MaxHeaders        int           `yaml:"max_headers"`         // header fields in a request head, Host included; default 100; more get 431
	MaxURIBytes       int           `yaml:"max_uri_bytes"`       // default 8192; longer request targets get 414
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`      // default 0 (no limit); larger bodies get 413
	MinBodyRate       int64         `yaml:"min_body_rate"`       // bytes/s a request body must keep up after body_grace; default 1024; 0 = off
	BodyGrace         time.Duration `yaml:"body_grace"`          // default 10s
	EncodedSlashes    string        `yaml:"encoded_slashes"`     // %2F in paths: keep (route on the decoded path, forward as sent) | decode | reject (400); default keep
	// UnderscoresInHeaders: drop (default) removes request headers whose
	// name contains "_", as nginx's underscores_in_headers off does: CGI,
	// WSGI and PHP backends read X_Auth_Subject as X-Auth-Subject. allow
	// forwards them, except underscore spellings of the headers the
	// gateway asserts itself (identity, X-Forwarded-*).
	UnderscoresInHeaders string `yaml:"underscores_in_headers"` // drop | allow; default drop
	// TrustedProxies are the peers (CIDRs) whose X-Forwarded-*, Forwarded
	// and X-Real-IP the gateway extends; from anyone else they are
	// replaced, so a client cannot assert its own address or scheme (as
	// Traefik's forwardedHeaders and Caddy's trusted_proxies default).
	TrustedProxies []string `yaml:"trusted_proxies"` // default [] (no peer is trusted)
	// Engine serves HTTP/1.1 on the plain listener: net/http, or h1 (the
	// gateway's own server loop, package gateway/h1: no buffer per idle
	// connection, fewer allocations). HTTP/2, TLS and admin stay on net/http.
	Engine string `yaml:"engine"` // net/http | h1; default net/http
}

// Values of server.engine.
const (
	EngineNetHTTP = "net/http"
	EngineH1      = "h1"
)

// Values of server.underscores_in_headers.
const (
	UnderscoresDrop  = "drop"
	UnderscoresAllow = "allow"
)

// Route sends matching requests to a pool.
type Route struct {
	Name          string    `yaml:"name"`           // required, unique; letters, digits, "-", "_", "."
	Match         Match     `yaml:"match"`          //
	StripPrefix   bool      `yaml:"strip_prefix"`   // remove Match.PathPrefix before forwarding
	RewritePrefix string    `yaml:"rewrite_prefix"` // replace Match.PathPrefix with this (implies strip); "" or starts with "/"
	Pool          string    `yaml:"pool"`           // names a pool; required unless split, static or redirect is set
	Static        *Static   `yaml:"static"`         // serve files from a directory instead of a pool
	Cache         *Cache    `yaml:"cache"`          // response cache for GET/HEAD; nil = none
	Compress      *Compress `yaml:"compress"`       // gzip responses for clients that accept it; nil = none
	Headers       *Headers  `yaml:"headers"`        // set, add and remove request and response headers; nil = none
	CORS          *CORS     `yaml:"cors"`           // answer preflights, add CORS headers; nil = none

	// A route may rewrite its path with a regexp instead of a prefix, and
	// answer with a redirect instead of a pool or files.
	RewriteRegex *RewriteRegex `yaml:"rewrite_regex"` // nil = none; not with strip_prefix or rewrite_prefix
	Redirect     *Redirect     `yaml:"redirect"`      // nil = none; not with pool, static, retry, cache or compress

	// A route may spread its requests across pools by weight instead of
	// forwarding to one.
	Split       []SplitTarget `yaml:"split"`        // [{pool, weight}], two or more; instead of pool
	SplitSticky *SplitSticky  `yaml:"split_sticky"` // nil = each request picks at random; needs split
	// Mirror copies a share of the requests to a shadow pool, answers discarded.
	Mirror *Mirror `yaml:"mirror"` // nil = none; not with static or redirect

	// Upgrade lists the protocols a client may switch to on this route
	// (Upgrade header, HTTP/1.1); others are not relayed and the request
	// is served as a plain one. h2c is never relayed (RFC 9113 §3.1).
	Upgrade []string `yaml:"upgrade"` // default [websocket]; [] disables upgrades

	AllowMethods []string `yaml:"allow_methods"` // methods this route serves; others get 405; empty = any
	AllowCIDRs   []string `yaml:"allow_cidrs"`   // client addresses allowed; empty = any; others get 403
	DenyCIDRs    []string `yaml:"deny_cidrs"`    // client addresses refused with 403 (checked after allow_cidrs)

	Auth      *Auth      `yaml:"auth"`       // nil = no authentication
	RateLimit *RateLimit `yaml:"rate_limit"` // nil = no limit

	Retry       *Retry        `yaml:"retry"`       // nil = no retries
	Timeouts    RouteTimeouts `yaml:"timeouts"`    //
	Concurrency *Concurrency  `yaml:"concurrency"` // bulkhead for the route; nil = no limit
}

// RouteTimeouts bound a request across all its tries.
type RouteTimeouts struct {
	Overall time.Duration `yaml:"overall"` // whole request incl. retries; 0 = none; 504 when exceeded
	PerTry  time.Duration `yaml:"per_try"` // response header time of one try; 0 = the pool's timeouts.response_header
}

// Match is what a request must have for its route to apply; every set
// field must match.
type Match struct {
	Host       string            `yaml:"host"`        // exact or "*.example.com"; stored lower-case; "" matches any
	PathPrefix string            `yaml:"path_prefix"` // default "/"; starts with "/"
	Methods    []string          `yaml:"methods"`     // upper-case HTTP methods; empty matches any
	Headers    map[string]string `yaml:"headers"`     // header name -> exact, non-empty value
}

// Pool is a set of interchangeable backends and how to balance across them.
type Pool struct {
	Name         string  `yaml:"name"`          // required, unique; letters, digits, "-", "_", "."
	Strategy     string  `yaml:"strategy"`      // a name balance.Strategies lists; default balance.RoundRobin
	HashKey      string  `yaml:"hash_key"`      // ip_hash/consistent_hash only: header:NAME | cookie:NAME | query:NAME | path | ip; default "ip"
	VirtualNodes int     `yaml:"virtual_nodes"` // consistent_hash only: ring points per backend, 1..10000; default (or 0) 160
	BoundedLoad  float64 `yaml:"bounded_load"`  // consistent_hash only: 0 = off, else > 1.0 (e.g. 1.25)
	Sticky       *Sticky `yaml:"sticky"`        // nil = no session affinity

	Protocol   string            `yaml:"protocol"`    // toward backends: "http1" (default), "h2c", "https" (HTTP/1.1 over TLS) or "h2" (HTTP/2 over TLS)
	HostHeader string            `yaml:"host_header"` // "preserve" (default, client's Host), "backend" (its address) or a literal host
	TLS        *tlsterm.Upstream `yaml:"tls"`         // protocols https and h2 only; nil there = system roots, SNI the backend host

	Backends    []Backend    `yaml:"backends"`     // at least one, unless discovery provides them (then: the membership until its first answer)
	Discovery   *Discovery   `yaml:"discovery"`    // nil = the backends list
	HealthCheck *HealthCheck `yaml:"health_check"` // nil = no active checks
	Outlier     *Outlier     `yaml:"outlier"`      // nil = no passive ejection

	CircuitBreaker         *CircuitBreaker `yaml:"circuit_breaker"`            // per backend; nil = off
	ConcurrencyPerBackend  *Concurrency    `yaml:"concurrency_per_backend"`    // bulkhead per backend; nil = no limit
	SlowStart              time.Duration   `yaml:"slow_start"`                 // weight ramp for new/recovered backends; default 0 (off)
	Timeouts               Timeouts        `yaml:"timeouts"`                   //
	MaxIdleConnsPerBackend int             `yaml:"max_idle_conns_per_backend"` // default 64; >= 1
}

// Sticky pins a client to a backend with a signed cookie.
type Sticky struct {
	Cookie string `yaml:"cookie"` // default "drawbridge_sticky"
	// Secret signs the cookie; >= 16 bytes. "env:VARNAME" is replaced by
	// that environment variable at load time so the file need not hold it.
	Secret string        `yaml:"secret"`
	TTL    time.Duration `yaml:"ttl"` // cookie lifetime; default 1h
}

// Backend is one static upstream server: the membership's own Spec, which
// pools, L4 listeners and discovery all share.
type Backend = upstream.Spec

// Timeouts bound the gateway's work toward backends.
type Timeouts struct {
	Connect        time.Duration `yaml:"connect"`         // default 2s
	ResponseHeader time.Duration `yaml:"response_header"` // default 30s; 504 when exceeded
	IdleConn       time.Duration `yaml:"idle_conn"`       // default 90s
}

// Values of pools[].protocol and the fixed values of pools[].host_header.
const (
	ProtocolHTTP1 = "http1"
	ProtocolH2C   = "h2c"
	ProtocolHTTPS = "https"
	ProtocolH2    = "h2"

	HostPreserve = "preserve"
	HostBackend  = "backend"
)

// Defaults. Each type fills its own defaults before its YAML keys are
// decoded over them, so an absent key gets the default while a key that
// is present, even as 0 or "", is validated as written. Defaults that depend
// on other fields (hash_key, virtual_nodes, backend id) are filled after
// decoding, in derive.

func (c *Config) SetDefaults() {
	c.Listen = ":8080"
	c.Admin = Admin{Enabled: true, Listen: "127.0.0.1:9090"}
	c.ShutdownTimeout = 30 * time.Second
	c.AccessLog = AccessLog{Enabled: true, Path: "stdout", Query: QueryRedact, RedactParams: DefaultRedactParams()}
	c.Tracing.SetDefaults()
	c.Log.Level = "info"
	c.Server = Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // Envoy 60 KiB, nginx 8-32 KiB, HAProxy 16 KiB
		MaxHeaders:        100,      // Envoy's default
		MaxURIBytes:       8192,
		MinBodyRate:       1024,
		BodyGrace:         10 * time.Second,
		EncodedSlashes:    "keep",

		UnderscoresInHeaders: UnderscoresDrop,
		Engine:               EngineNetHTTP,
	}
}

func (r *Route) SetDefaults() {
	r.Match.PathPrefix = "/"
	r.Upgrade = []string{"websocket"}
}

func (p *Pool) SetDefaults() {
	p.Strategy = balance.RoundRobin
	p.Protocol = ProtocolHTTP1
	p.HostHeader = HostPreserve
	p.Timeouts = Timeouts{
		Connect:        2 * time.Second,
		ResponseHeader: 30 * time.Second,
		IdleConn:       90 * time.Second,
	}
	p.MaxIdleConnsPerBackend = 64
}

func (s *Sticky) SetDefaults() {
	s.Cookie = "drawbridge_sticky"
	s.TTL = time.Hour
}

// Load reads and parses the configuration file at path. Errors reading
// the file are returned as they are; see Parse for the rest.
func Load(path string) (*Config, error) { return yamlconf.Load(path, Parse) }

// Parse parses a configuration; filename only labels errors. On failure
// the error is an *Error, or an Errors listing every problem found.
func Parse(filename string, data []byte) (*Config, error) {
	return yamlconf.Parse(filename, data, func(c *Config, lines *yamlconf.Lines) yamlconf.Errors {
		c.substFiles = lines.Files()
		c.resolvePaths(filepath.Dir(filename))
		errs := c.resolveSecrets()
		at := func(key string) string { return fmt.Sprintf("%s:%d", filename, lines.Line(key)) }
		return append(errs, c.checkAt(at, lines.Written)...)
	})
}

// Default returns the configuration of the quick `gateway proxy` command:
// every other setting at its default, and one route "/" to one pool named
// "default" of the given backend addresses, validated like a loaded file.
func Default(backends []string) (*Config, error) {
	c := new(Config)
	c.SetDefaults()
	r := Route{Name: "default", Pool: "default"}
	r.SetDefaults()
	p := Pool{Name: "default"}
	p.SetDefaults()
	for _, addr := range backends {
		b := Backend{Address: addr}
		b.SetDefaults()
		p.Backends = append(p.Backends, b)
	}
	c.Routes, c.Pools = []Route{r}, []Pool{p}
	if err := c.check().Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// resolvePaths makes relative certificate paths relative to the config
// file's directory, so a config works whatever the working directory.
func (c *Config) resolvePaths(dir string) {
	var paths []*string
	if c.TLS != nil {
		for i := range c.TLS.Certificates {
			cert := &c.TLS.Certificates[i]
			paths = append(paths, &cert.CertFile, &cert.KeyFile)
		}
		if a := c.TLS.ACME; a != nil {
			paths = append(paths, &a.CAFile, &a.Storage)
		}
	}
	authPaths := func(keys *APIKeys, jwt *JWT, basic *Basic) {
		if keys != nil {
			paths = append(paths, &keys.File)
		}
		if jwt != nil {
			paths = append(paths, &jwt.KeyFile, &jwt.JWKSFile)
		}
		if basic != nil {
			paths = append(paths, &basic.File)
		}
	}
	for i := range c.Routes {
		if st := c.Routes[i].Static; st != nil {
			paths = append(paths, &st.Root)
		}
		if a := c.Routes[i].Auth; a != nil {
			authPaths(a.APIKeys, a.JWT, a.Basic)
		}
	}
	for i := range c.L4 {
		if m := c.L4[i].MQTT; m != nil && m.Auth != nil {
			authPaths(nil, m.Auth.JWT, m.Auth.Basic)
		}
	}
	for i := range c.Pools {
		if d := c.Pools[i].Discovery; d != nil {
			paths = append(paths, &d.File)
		}
		if t := c.Pools[i].TLS; t != nil {
			paths = append(paths, &t.CAFile, &t.CertFile, &t.KeyFile)
		}
	}
	if f := c.Failover; f != nil {
		paths = append(paths, &f.Lease.Path)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// resolveSecrets replaces "env:VARNAME" sticky secrets with the variable's
// value. It runs once, before check, so that re-validating a loaded
// config never re-interprets a secret that happens to start with "env:".
func (c *Config) resolveSecrets() Errors {
	var errs Errors
	for i := range c.Pools {
		s := c.Pools[i].Sticky
		if s == nil {
			continue
		}
		name, ok := strings.CutPrefix(s.Secret, "env:")
		if !ok {
			continue
		}
		v, set := os.LookupEnv(name)
		if !set || name == "" {
			errs = append(errs, &Error{
				Key: fmt.Sprintf("pools[%d].sticky.secret", i),
				Msg: fmt.Sprintf("environment variable %q is not set", name),
			})
			continue
		}
		s.Secret = v
	}
	return errs
}

// Validate checks a configuration built or changed in code (the quick
// `gateway proxy` command adjusts Default's result from its flags). Errors
// name the key; there is no file or line to name.
func (c *Config) Validate() error { return c.check().Err() }

// DefaultHealthCheck is a health_check section with every key at its default.
func DefaultHealthCheck() HealthCheck {
	var h HealthCheck
	h.SetDefaults()
	return h
}

// Error and Errors are the located configuration errors of package yamlconf:
// FILE:LINE: key: message.
type (
	Error  = yamlconf.Error
	Errors = yamlconf.Errors
)

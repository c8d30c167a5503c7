// Package config loads the gateway's YAML configuration into one immutable
// value: strictly decoded (unknown keys and wrong types are errors), with
// defaults applied and every value validated, so the rest of the gateway can
// trust it without re-checking. Every error names FILE:LINE and the dotted
// key path. examples/gateway.yaml documents every key and its default.
//
// The package is pure data: it opens the one file it is given and reads
// environment variables named by "env:" secrets, nothing else.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
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
}

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

// Discovery keeps a pool's membership in step with a source of truth.
type Discovery struct {
	Type     string        `yaml:"type"`     // static (the backends list) | file | asg; default static
	File     string        `yaml:"file"`     // file: YAML or JSON list of "host:port" or {address, id, weight}; relative to this file
	ASG      string        `yaml:"asg"`      // asg: Auto Scaling group name; InService instances' private IPs
	Port     int           `yaml:"port"`     // asg: the backends' port; 0 = each instance's drawbridge:port tag
	Interval time.Duration `yaml:"interval"` // asg: poll period; file: re-read period besides change events; default 15s
	Jitter   float64       `yaml:"jitter"`   // 0..1: each wait is interval +- this fraction, random; default 0.1
	Region   string        `yaml:"region"`   // asg; default the SDK chain
	Endpoint string        `yaml:"endpoint"` // asg: endpoint override for emulators
}

// Discovery types.
const (
	DiscoveryStatic = "static"
	DiscoveryFile   = "file"
	DiscoveryASG    = "asg"
)

func (d *Discovery) SetDefaults() {
	d.Type = DiscoveryStatic
	d.Interval = 15 * time.Second
	d.Jitter = 0.1
}

func (f *Failover) SetDefaults() { f.Mode = FailoverNone }

// Dynamic reports whether the pool's membership comes from discovery
// rather than its backends list.
func (p *Pool) Dynamic() bool { return p.Discovery != nil && p.Discovery.Type != DiscoveryStatic }

// Admin is the admin listener (metrics, status). It is disabled with
// enabled: false rather than a magic listen value, matching access_log.
// TLS is the HTTPS listener: certificates chosen by SNI, reloaded with the
// configuration (SIGHUP or a change to the config or certificate files).
type TLS struct {
	Listen           string        `yaml:"listen"`            // default ":8443"
	Certificates     []Certificate `yaml:"certificates"`      // at least one; the first is the default for unknown SNI
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
type AccessLog struct {
	Enabled bool   `yaml:"enabled"` // default true
	Path    string `yaml:"path"`    // "stdout" (default), "stderr" or a file path
	// Query is how a request's query string is logged: redact (default)
	// logs it with the values of redact_params replaced by REDACTED; full
	// logs it as sent (credentials in URLs then reach the log); omit
	// leaves it out.
	Query string `yaml:"query"`
	// RedactParams are the query parameters whose values are redacted,
	// matched by name without regard to case; a list given here replaces
	// the default one.
	RedactParams []string `yaml:"redact_params"`
}

// Access-log query modes.
const (
	QueryRedact = "redact"
	QueryFull   = "full"
	QueryOmit   = "omit"
)

// DefaultRedactParams are the query parameters that commonly carry
// credentials (OAuth codes and tokens, API keys, signed-URL signatures,
// session ids).
func DefaultRedactParams() []string {
	return []string{"token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "key",
		"password", "passwd", "secret", "client_secret", "signature", "sig", "x-amz-signature",
		"x-amz-credential", "x-amz-security-token", "code", "auth", "authorization", "session", "sessionid", "jwt"}
}

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
}

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
	Pool          string    `yaml:"pool"`           // names a pool; required unless static is set
	Static        *Static   `yaml:"static"`         // serve files from a directory instead of a pool
	Cache         *Cache    `yaml:"cache"`          // response cache for GET/HEAD; nil = none
	Compress      *Compress `yaml:"compress"`       // gzip responses for clients that accept it; nil = none

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

// Static serves a directory.
type Static struct {
	Root          string   `yaml:"root"`          // required; relative to this file
	Index         []string `yaml:"index"`         // default [index.html]
	Precompressed bool     `yaml:"precompressed"` // serve FILE.br / FILE.gz when the client accepts them
	Browse        bool     `yaml:"browse"`        // list directories without an index file; default false
}

// Cache is a shared HTTP cache (RFC 9111) in front of the route.
type Cache struct {
	MaxBytes       int64         `yaml:"max_bytes"`        // default 64 MiB
	MaxObjectBytes int64         `yaml:"max_object_bytes"` // larger responses pass through uncached; default max_bytes/10
	DefaultTTL     time.Duration `yaml:"default_ttl"`      // freshness for responses without explicit freshness; default 0 (not cached)
	KeyByIdentity  bool          `yaml:"key_by_identity"`  // the authenticated subject is part of the key; needs auth; default false
}

// Compress gzips compressible responses.
type Compress struct {
	Level    int      `yaml:"level"`     // 1..9; default 0 (gzip's default)
	MinBytes int      `yaml:"min_bytes"` // smaller responses are sent as is; default 1024
	Types    []string `yaml:"types"`     // media types (text/* allowed); default text/*, JSON, JavaScript, XML, SVG
}

func (c *Cache) SetDefaults() { c.MaxBytes = 64 << 20 }

// L4 is a TCP listener balancing connections over backends.
type L4 struct {
	Name           string        `yaml:"name"`            // required, unique
	Listen         string        `yaml:"listen"`          // required
	Strategy       string        `yaml:"strategy"`        // as pools, but not least_response_time; default round_robin
	Backends       []Backend     `yaml:"backends"`        // at least one
	ConnectTimeout time.Duration `yaml:"connect_timeout"` // default 2s
	ConnectRetries int           `yaml:"connect_retries"` // other backends tried when a connect fails; default 2
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // close connections idle both ways this long; default 0 (never)
	MaxConnections int           `yaml:"max_connections"` // default 0 (no limit)
	DrainTimeout   time.Duration `yaml:"drain_timeout"`   // on removal or shutdown, open connections get this long; default 30s
	ProxyProtocol  bool          `yaml:"proxy_protocol"`  // send a PROXY v1 header so backends see the client address
	HealthCheck    *L4Health     `yaml:"health_check"`    // TCP connect checks; nil = none
}

// L4Health is a TCP connect check with hysteresis.
type L4Health struct {
	Interval           time.Duration `yaml:"interval"`            // default 5s
	Timeout            time.Duration `yaml:"timeout"`             // default 2s
	HealthyThreshold   int           `yaml:"healthy_threshold"`   // default 2
	UnhealthyThreshold int           `yaml:"unhealthy_threshold"` // default 3
}

func (l *L4) SetDefaults() {
	l.Strategy = balance.RoundRobin
	l.ConnectTimeout = 2 * time.Second
	l.ConnectRetries = 2
	l.DrainTimeout = 30 * time.Second
}

func (h *L4Health) SetDefaults() {
	h.Interval = 5 * time.Second
	h.Timeout = 2 * time.Second
	h.HealthyThreshold = 2
	h.UnhealthyThreshold = 3
}

// Auth authenticates a route's requests; at least one method is required.
type Auth struct {
	APIKeys          *APIKeys `yaml:"api_keys"`          //
	JWT              *JWT     `yaml:"jwt"`               //
	Basic            *Basic   `yaml:"basic"`             //
	AllowSubjects    []string `yaml:"allow_subjects"`    // authenticated subjects outside this list get 403; empty = any
	ForwardHeader    string   `yaml:"forward_header"`    // the identity is sent to the backend in this header; default X-Auth-Subject
	StripCredentials bool     `yaml:"strip_credentials"` // remove the credentials before forwarding; default false
	Realm            string   `yaml:"realm"`             // realm in WWW-Authenticate; default "drawbridge"
	// MaxFailures limits failed authentications per client address: past
	// it, requests get 429 before any credential is checked. nil = no limit.
	MaxFailures *AuthFailures `yaml:"max_failures"`
}

// AuthFailures is a token bucket of failed authentications per client
// address (IPv6 per /64): each 401 takes a token.
type AuthFailures struct {
	Rate  float64 `yaml:"rate"`  // failures forgiven per second; required
	Burst int     `yaml:"burst"` // failures allowed in a row; default 10
}

func (f *AuthFailures) SetDefaults() { f.Burst = 10 }

// APIKeys are stored as hex SHA-256 hashes, never in clear.
type APIKeys struct {
	Header string            `yaml:"header"` // default X-API-Key
	Bearer bool              `yaml:"bearer"` // also accept "Authorization: Bearer <key>"
	Keys   map[string]string `yaml:"keys"`   // name (the subject) -> hex SHA-256 of the key
	File   string            `yaml:"file"`   // lines "name hex-sha256"; relative to this file
}

// JWT verifies bearer tokens.
type JWT struct {
	Algorithms []string      `yaml:"algorithms"` // HS256, RS256, ES256
	Secret     string        `yaml:"secret"`     // HS256; "env:NAME" reads $NAME
	KeyFile    string        `yaml:"key_file"`   // PEM public keys (RS256, ES256); relative to this file
	JWKSFile   string        `yaml:"jwks_file"`  // JSON Web Key Set; relative to this file
	Issuer     string        `yaml:"issuer"`     // required iss when set
	Audience   []string      `yaml:"audience"`   // aud must contain one of these when set
	Skew       time.Duration `yaml:"skew"`       // leeway for exp/nbf; default 60s
}

// Basic is HTTP Basic auth with bcrypt hashes.
type Basic struct {
	Users map[string]string `yaml:"users"` // user -> bcrypt hash
	File  string            `yaml:"file"`  // htpasswd lines "user:$2y$..."; relative to this file
}

// RateLimit is a token bucket per key for a route.
type RateLimit struct {
	Rate    float64       `yaml:"rate"`     // tokens per second; required
	Burst   int           `yaml:"burst"`    // bucket size; default max(1, rate)
	Key     string        `yaml:"key"`      // ip | header:NAME | identity | route; default ip
	MaxKeys int           `yaml:"max_keys"` // buckets kept at most (LRU); default 100000
	IdleTTL time.Duration `yaml:"idle_ttl"` // forget a key idle this long; default max(burst/rate, 1m)
}

func (a *Auth) SetDefaults()      { a.ForwardHeader = "X-Auth-Subject"; a.Realm = "drawbridge" }
func (r *RateLimit) SetDefaults() { r.Key = "ip"; r.MaxKeys = 100000 }

// Retry says when a failed try is retried on another backend.
type Retry struct {
	MaxRetries    int           `yaml:"max_retries"`     // retries after the first try; default 2
	RetryOn       []string      `yaml:"retry_on"`        // connect_error, reset, timeout and status codes; default [connect_error, reset, timeout, "502", "503", "504"]
	Methods       []string      `yaml:"methods"`         // methods that may be retried; default the idempotent ones
	BackoffBase   time.Duration `yaml:"backoff_base"`    // first back-off ceiling (full jitter); default 25ms
	BackoffMax    time.Duration `yaml:"backoff_max"`     // back-off ceiling cap; default 250ms
	RetryAfterMax time.Duration `yaml:"retry_after_max"` // honour a backend's Retry-After up to this; longer ends retrying; default 1s
	BudgetRatio   float64       `yaml:"budget_ratio"`    // retries in flight <= ratio x active requests + budget_min (connect-error retries are free); default 0.2
	BudgetMin     int           `yaml:"budget_min"`      // the floor added to the ratio; default 3
	MaxBodyBytes  int64         `yaml:"max_body_bytes"`  // request bodies up to this are buffered for replay; larger ones are not retried; default 65536
}

// RouteTimeouts bound a request across all its tries.
type RouteTimeouts struct {
	Overall time.Duration `yaml:"overall"` // whole request incl. retries; 0 = none; 504 when exceeded
	PerTry  time.Duration `yaml:"per_try"` // response header time of one try; 0 = the pool's timeouts.response_header
}

// Concurrency is a bulkhead: a cap on requests at once with a bounded wait.
type Concurrency struct {
	Max          int           `yaml:"max"`           // requests at once; required, >= 1
	QueueSize    int           `yaml:"queue_size"`    // waiters beyond max; default 0 (answer 503 at once)
	QueueTimeout time.Duration `yaml:"queue_timeout"` // how long a waiter waits; default 1s
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

	Protocol   string `yaml:"protocol"`    // toward backends: "http1" (default) or "h2c"
	HostHeader string `yaml:"host_header"` // "preserve" (default, client's Host), "backend" (its address) or a literal host

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

// Backend is one static upstream server.
type Backend struct {
	Address string `yaml:"address"` // host:port, port 1..65535; required
	Weight  int    `yaml:"weight"`  // 1..1000; default 1
	ID      string `yaml:"id"`      // unique in the pool; default Address
}

// HealthCheck configures active HTTP health checks.
type HealthCheck struct {
	Path               string        `yaml:"path"`                // default "/healthz"
	Interval           time.Duration `yaml:"interval"`            // default 5s
	Timeout            time.Duration `yaml:"timeout"`             // default 1s; < Interval
	ExpectedStatus     StatusRanges  `yaml:"expected_status"`     // e.g. "200" or "200-299,304"; default "200-399"
	HealthyThreshold   int           `yaml:"healthy_threshold"`   // passes to become healthy; default 2
	UnhealthyThreshold int           `yaml:"unhealthy_threshold"` // failures to become unhealthy; default 3
	// PanicThreshold (percent, 0..100; 0 off): below this share of
	// backends passing checks, the checks keep no backend out (Envoy's
	// healthy_panic_threshold), so a checker that cannot get through does
	// not take the whole pool down. Default 50, as Envoy's.
	PanicThreshold int `yaml:"panic_threshold"`
}

// Outlier configures passive ejection of backends that keep failing.
type Outlier struct {
	ConsecutiveFailures int           `yaml:"consecutive_failures"` // default 5
	BaseEjection        time.Duration `yaml:"base_ejection"`        // first ejection; default 30s
	MaxEjection         time.Duration `yaml:"max_ejection"`         // cap on repeated ejections; default 5m; >= BaseEjection
	MaxEjectionPercent  int           `yaml:"max_ejection_percent"` // 1..100; default 50
}

// Timeouts bound the gateway's work toward backends.
// CircuitBreaker opens per backend on a failure ratio over a rolling
// window; open backends are skipped by every strategy.
type CircuitBreaker struct {
	FailureRatio   float64       `yaml:"failure_ratio"`    // default 0.5
	MinRequests    int           `yaml:"min_requests"`     // in the window before it may open; default 20
	Window         time.Duration `yaml:"window"`           // default 10s
	CoolDown       time.Duration `yaml:"cool_down"`        // open -> half-open; default 30s
	HalfOpenProbes int           `yaml:"half_open_probes"` // default 3
}

type Timeouts struct {
	Connect        time.Duration `yaml:"connect"`         // default 2s
	ResponseHeader time.Duration `yaml:"response_header"` // default 30s; 504 when exceeded
	IdleConn       time.Duration `yaml:"idle_conn"`       // default 90s
}

// Values of pools[].protocol and the fixed values of pools[].host_header.
const (
	ProtocolHTTP1 = "http1"
	ProtocolH2C   = "h2c"

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

func (r *Retry) SetDefaults() {
	r.MaxRetries = 2
	r.RetryOn = []string{RetryConnectError, RetryReset, RetryTimeout, "502", "503", "504"}
	r.BackoffBase = 25 * time.Millisecond
	r.BackoffMax = 250 * time.Millisecond
	r.RetryAfterMax = time.Second
	r.BudgetRatio = 0.2
	r.BudgetMin = 3
	r.MaxBodyBytes = 64 << 10
}

// Retry conditions besides status codes.
const (
	RetryConnectError = "connect_error"
	RetryReset        = "reset"
	RetryTimeout      = "timeout"
)

func (c *Concurrency) SetDefaults() { c.QueueTimeout = time.Second }

func (b *CircuitBreaker) SetDefaults() {
	b.FailureRatio = 0.5
	b.MinRequests = 20
	b.Window = 10 * time.Second
	b.CoolDown = 30 * time.Second
	b.HalfOpenProbes = 3
}

func (s *Sticky) SetDefaults() {
	s.Cookie = "drawbridge_sticky"
	s.TTL = time.Hour
}

func (b *Backend) SetDefaults() { b.Weight = 1 }

func (h *HealthCheck) SetDefaults() {
	h.Path = "/healthz"
	h.Interval = 5 * time.Second
	h.Timeout = time.Second
	h.ExpectedStatus = StatusRanges{{200, 399}}
	h.HealthyThreshold = 2
	h.UnhealthyThreshold = 3
	h.PanicThreshold = 50
}

func (o *Outlier) SetDefaults() {
	o.ConsecutiveFailures = 5
	o.BaseEjection = 30 * time.Second
	o.MaxEjection = 5 * time.Minute
	o.MaxEjectionPercent = 50
}

// Load reads and parses the configuration file at path. Errors reading
// the file are returned as they are; see Parse for the rest.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses a configuration; filename only labels errors. On failure
// the error is an *Error, or an Errors listing every problem found.
func Parse(filename string, data []byte) (*Config, error) {
	c := new(Config)
	lines, err := yamlconf.Decode(filename, data, c)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(filename))
	errs := c.resolveSecrets()
	errs = append(errs, c.checkAt(func(key string) string { return fmt.Sprintf("%s:%d", filename, lines.Line(key)) })...)
	if err := lines.Locate(errs); err != nil {
		return nil, err
	}
	return c, nil
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
	}
	for i := range c.Routes {
		if st := c.Routes[i].Static; st != nil {
			paths = append(paths, &st.Root)
		}
		if a := c.Routes[i].Auth; a != nil {
			if a.APIKeys != nil {
				paths = append(paths, &a.APIKeys.File)
			}
			if a.JWT != nil {
				paths = append(paths, &a.JWT.KeyFile, &a.JWT.JWKSFile)
			}
			if a.Basic != nil {
				paths = append(paths, &a.Basic.File)
			}
		}
	}
	for i := range c.Pools {
		if d := c.Pools[i].Discovery; d != nil {
			paths = append(paths, &d.File)
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

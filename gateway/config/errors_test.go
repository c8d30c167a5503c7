package config

import (
	"errors"
	"strings"
	"testing"
)

// errorCases are configurations that must fail, each with the complete
// error text it must produce. A leading newline in yaml is dropped, so the
// first line of the literal is line 1.
var errorCases = []struct {
	name, yaml, want string
}{
	// Document level.
	{"empty file", "", "t.yaml:1: empty configuration"},
	{"only comments", "# nothing here\n", "t.yaml:1: empty configuration"},
	{"null document", "~\n", "t.yaml:1: empty configuration"},
	{"two documents", `
listen: ":1"
---
listen: ":2"
`, "t.yaml:2: multiple YAML documents; the configuration must be one"},
	{"syntax error", `
listen: ":1"
routes
`, "t.yaml:2: could not find expected ':'"},
	{"top level list", "- listen\n", "t.yaml:1: expected a mapping, got a list"},

	// Unknown keys, at several depths.
	{"unknown top-level key", "listn: \":1\"\n", "t.yaml:1: listn: unknown key"},
	{"unknown key in struct", `
admin:
  enabled: true
  lisen: ":1"
`, "t.yaml:3: admin.lisen: unknown key"},
	{"unknown route key", `
routes:
  - name: r
    matcch: {}
`, "t.yaml:3: routes[0].matcch: unknown key"},
	{"unknown match key", `
routes:
  - name: r
    match:
      path: /x
`, "t.yaml:4: routes[0].match.path: unknown key"},
	{"unknown health check key", `
pools:
  - name: a
  - name: b
    health_check:
      intervl: 5s
`, "t.yaml:5: pools[1].health_check.intervl: unknown key"},
	{"unknown backend key", `
pools:
  - name: p
    backends:
      - address: 127.0.0.1:1
      - adress: 127.0.0.1:2
`, "t.yaml:5: pools[0].backends[1].adress: unknown key"},
	{"duplicate key", `
listen: ":1"
listen: ":2"
`, "t.yaml:2: listen: duplicate key (first at line 1)"},
	{"non-string key", "[a]: 1\n", "t.yaml:1: keys must be strings"},

	// Wrong types.
	{"string for integer", `
server:
  max_header_bytes: lots
`, `t.yaml:2: server.max_header_bytes: expected an integer, got "lots"`},
	{"fraction for integer", `
pools:
  - backends:
      - weight: 1.5
`, `t.yaml:3: pools[0].backends[0].weight: expected an integer, got "1.5"`},
	{"invalid duration", `
pools:
  - name: a
  - name: b
    health_check:
      interval: 5
`, `t.yaml:5: pools[1].health_check.interval: expected a duration like "5s" or "1m30s", got "5"`},
	{"string for bool", `
access_log:
  enabled: maybe
`, `t.yaml:2: access_log.enabled: expected true or false, got "maybe"`},
	{"string for number", `
pools:
  - bounded_load: high
`, `t.yaml:2: pools[0].bounded_load: expected a number, got "high"`},
	{"list for string", "listen: [\":1\"]\n", "t.yaml:1: listen: expected a string, got a list"},
	{"scalar for list", "routes: all\n", `t.yaml:1: routes: expected a list, got "all"`},
	{"scalar for struct", "admin: off\n", `t.yaml:1: admin: expected a mapping, got "off"`},
	{"scalar for map", `
routes:
  - match:
      headers: X-Env
`, `t.yaml:3: routes[0].match.headers: expected a mapping, got "X-Env"`},
	{"invalid status list", `
pools:
  - health_check:
      expected_status: ok
`, `t.yaml:3: pools[0].health_check.expected_status: invalid status list "ok": want codes and ranges like "200-299,304"`},
	{"status out of range", `
pools:
  - health_check:
      expected_status: "200,600"
`, "t.yaml:3: pools[0].health_check.expected_status: status 600 is outside 100-599"},
	{"status range backwards", `
pools:
  - health_check:
      expected_status: "299-200"
`, "t.yaml:3: pools[0].health_check.expected_status: status range 299-200 is backwards"},
	{"several decode errors sorted", `
listen: 1
admn: {}
server: []
`, `t.yaml:2: admn: unknown key
t.yaml:3: server: expected a mapping, got a list`},

	// Merge keys and aliases.
	{"merge of a scalar", `
admin:
  <<: yes
`, "t.yaml:2: admin: merge key (<<) needs a mapping or a list of mappings"},
	{"merge cycle", `
admin: &a
  <<: *a
`, "t.yaml:1: admin: merge key includes itself"},
	{"unknown key through merge", `
x-backend: &be {address: "127.0.0.1:1", wieght: 2}
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends:
      - <<: *be
`, "t.yaml:1: pools[0].backends[0].wieght: unknown key"},
	{"unknown extension key below top level", `
admin:
  x-note: hi
`, "t.yaml:2: admin.x-note: unknown key"},

	// Top-level settings.
	{"listen without port", `
listen: "8080"
` + minimal, `t.yaml:1: listen: invalid address "8080": missing port in address`},
	{"listen port too large", `
listen: ":70000"
` + minimal, `t.yaml:1: listen: invalid port "70000" in ":70000"; want 0-65535`},
	{"listen named port", `
listen: ":http"
` + minimal, `t.yaml:1: listen: invalid port "http" in ":http"; want 0-65535`},
	{"admin listen", `
admin:
  listen: localhost
` + minimal, `t.yaml:2: admin.listen: invalid address "localhost": missing port in address`},
	{"negative shutdown timeout", `
shutdown_timeout: -1s
` + minimal, "t.yaml:1: shutdown_timeout: must not be negative, got -1s"},
	{"access log without path", `
access_log:
  path: ""
` + minimal, "t.yaml:2: access_log.path: required when access_log is enabled"},
	{"zero read header timeout", `
server:
  read_header_timeout: 0s
` + minimal, "t.yaml:2: server.read_header_timeout: must be positive, got 0s"},
	{"negative idle timeout", `
server:
  idle_timeout: -5s
` + minimal, "t.yaml:2: server.idle_timeout: must be positive, got -5s"},
	{"underscores in headers", `
server:
  underscores_in_headers: keep
` + minimal, `t.yaml:2: server.underscores_in_headers: want drop or allow, got "keep"`},
	{"unknown engine", `
server:
  engine: fasthttp
` + minimal, `t.yaml:2: server.engine: want net/http or h1, got "fasthttp"`},
	{"bad trusted proxy", `server:
  trusted_proxies: [10.0.0.0/8, nonsense]
` + minimal, `t.yaml:2: server.trusted_proxies[1]: invalid CIDR "nonsense"`},
	{"zero max header bytes", `
server:
  max_header_bytes: 0
` + minimal, "t.yaml:2: server.max_header_bytes: must be between 1 and 2147483647, got 0"},
	{"zero max headers", `
server:
  max_headers: 0
` + minimal, "t.yaml:2: server.max_headers: must be between 1 and 2147483647, got 0"},
	{"string for max headers", `
server:
  max_headers: many
`, `t.yaml:2: server.max_headers: expected an integer, got "many"`},

	// Routes.
	{"path prefix with parameters", `
routes:
  - name: r
    pool: p
    match: {path_prefix: "/admin;x"}
` + pool, `t.yaml:4: routes[0].match.path_prefix: "/admin;x" would never match: routing ignores segment parameters (";...")`},
	{"upgrade to h2c", `
routes:
  - name: r
    pool: p
    upgrade: [websocket, h2c]
` + pool, "t.yaml:4: routes[0].upgrade[1]: h2c is never relayed: an upgraded HTTP/2 connection would bypass routing and access rules (RFC 9113 §3.1)"},
	{"upgrade not a token", `
routes:
  - name: r
    pool: p
    upgrade: ["websocket/13"]
` + pool, `t.yaml:4: routes[0].upgrade[0]: invalid protocol name "websocket/13" (a token, e.g. websocket)`},
	{"upgrade listed twice", `
routes:
  - name: r
    pool: p
    upgrade: [websocket, WebSocket]
` + pool, `t.yaml:4: routes[0].upgrade[1]: duplicate protocol "WebSocket"`},
	{"no routes key", `
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
`, "t.yaml:1: routes: at least one route is required"},
	{"empty routes", `
routes: []
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
`, "t.yaml:1: routes: at least one route is required"},
	{"route without name", `
routes:
  - pool: p
` + pool, "t.yaml:2: routes[0].name: required"},
	{"route name with space", `
routes:
  - name: my route
    pool: p
` + pool, `t.yaml:2: routes[0].name: invalid name "my route": use letters, digits, "-", "_" and "."`},
	{"duplicate route name", `
routes:
  - name: r
    pool: p
  - name: r
    pool: p
` + pool, "t.yaml:4: routes[1].name: duplicate name \"r\" (same as routes[0])"},
	{"host with port", `
routes:
  - name: r
    pool: p
    match:
      host: example.com:8080
` + pool, `t.yaml:5: routes[0].match.host: invalid host "example.com:8080"; want a name like "api.example.com" or "*.example.com", without port`},
	{"host with inner wildcard", `
routes:
  - name: r
    pool: p
    match:
      host: "api.*.com"
` + pool, `t.yaml:5: routes[0].match.host: invalid host "api.*.com"; want a name like "api.example.com" or "*.example.com", without port`},
	{"host empty label", `
routes:
  - name: r
    pool: p
    match:
      host: "api..com"
` + pool, `t.yaml:5: routes[0].match.host: invalid host "api..com"; want a name like "api.example.com" or "*.example.com", without port`},
	{"path prefix without slash", `
routes:
  - name: r
    pool: p
    match:
      path_prefix: v1
` + pool, `t.yaml:5: routes[0].match.path_prefix: must start with "/", got "v1"`},
	{"path prefix with query", `
routes:
  - name: r
    pool: p
    match:
      path_prefix: /v1?x=1
` + pool, `t.yaml:5: routes[0].match.path_prefix: invalid character '?' in path "/v1?x=1"`},
	{"lower-case method", `
routes:
  - name: r
    pool: p
    match:
      methods: [GET, post]
` + pool, `t.yaml:5: routes[0].match.methods[1]: method "post" must be upper-case (POST)`},
	{"invalid method", `
routes:
  - name: r
    pool: p
    match:
      methods: ["GET POST"]
` + pool, `t.yaml:5: routes[0].match.methods[0]: invalid method "GET POST"`},
	{"duplicate method", `
routes:
  - name: r
    pool: p
    match:
      methods:
        - GET
        - GET
` + pool, `t.yaml:7: routes[0].match.methods[1]: duplicate method "GET"`},
	{"invalid header name", `
routes:
  - name: r
    pool: p
    match:
      headers:
        "X Env": canary
` + pool, `t.yaml:6: routes[0].match.headers.X Env: invalid header name "X Env"`},
	{"empty header value", `
routes:
  - name: r
    pool: p
    match:
      headers:
        X-Env: ""
` + pool, "t.yaml:6: routes[0].match.headers.X-Env: value must not be empty"},
	{"header value with newline", `
routes:
  - name: r
    pool: p
    match:
      headers:
        X-Env: "a\nb"
` + pool, `t.yaml:6: routes[0].match.headers.X-Env: value "a\nb" contains control characters`},
	{"header matched twice", `
routes:
  - name: r
    pool: p
    match:
      headers:
        X-Env: a
        x-env: b
` + pool, `t.yaml:7: routes[0].match.headers.x-env: header "x-env" is also matched as "X-Env" (names are case-insensitive)`},
	{"rewrite prefix without slash", `
routes:
  - name: r
    pool: p
    rewrite_prefix: api
` + pool, `t.yaml:4: routes[0].rewrite_prefix: must start with "/", got "api"`},
	{"route without pool", `
routes:
  - name: r
` + pool, "t.yaml:2: routes[0].pool: required (or split, static, or redirect)"},
	{"split with pool", `
routes:
  - name: r
    pool: p
    split: [{pool: p, weight: 1}, {pool: q, weight: 0}]
` + pool, "t.yaml:4: routes[0].split: a route has one of pool, split, static or redirect\n" +
		"t.yaml:4: routes[0].split[1].pool: unknown pool \"q\"\n" +
		"t.yaml:4: routes[0].split[1].weight: must be 1..10000, got 0"},
	{"split of one pool", `
routes:
  - name: r
    split: [{pool: p, weight: 1}]
` + pool, "t.yaml:3: routes[0].split: needs at least two pools (a single pool is pool:)"},
	{"mirror to unknown pool", `
routes:
  - name: r
    pool: p
    mirror: {pool: q, percent: 0, max_in_flight: 0}
` + pool, "t.yaml:4: routes[0].mirror.pool: unknown pool \"q\"\n" +
		"t.yaml:4: routes[0].mirror.percent: must be over 0 and up to 100, got 0\n" +
		"t.yaml:4: routes[0].mirror.max_in_flight: must be at least 1"},
	{"split_sticky without split", `
routes:
  - name: r
    pool: p
    split_sticky: {header: X-User, client_ip: true}
` + pool, "t.yaml:4: routes[0].split_sticky: needs split\n" +
		"t.yaml:4: routes[0].split_sticky: set exactly one of header, cookie or client_ip"},
	{"route to unknown pool", `
routes:
  - name: r
    match: {path_prefix: /}
    pool: nope
` + pool, `t.yaml:4: routes[0].pool: unknown pool "nope"`},

	// Pools.
	{"no pools", `
routes:
  - name: r
    pool: p
`, `t.yaml:1: pools: at least one pool is required
t.yaml:3: routes[0].pool: unknown pool "p"`},
	{"pool without name", `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
  - backends: [{address: "127.0.0.1:1"}]
`, "t.yaml:5: pools[1].name: required"},
	{"duplicate pool name", `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
  - name: p
    backends: [{address: "127.0.0.1:1"}]
`, `t.yaml:5: pools[1].name: duplicate name "p" (same as pools[0])`},
	{"unknown strategy", withPool(`
    strategy: fastest
`), `t.yaml:6: pools[0].strategy: unknown strategy "fastest"; want one of round_robin, weighted_round_robin, least_connections, power_of_two, least_response_time, ip_hash, consistent_hash, random`},
	{"hash key without hashing", withPool(`
    hash_key: ip
`), "t.yaml:6: pools[0].hash_key: only valid with strategy ip_hash or consistent_hash"},
	{"hash key syntax", withPool(`
    strategy: ip_hash
    hash_key: "header:"
`), `t.yaml:7: pools[0].hash_key: invalid hash key "header:"; want header:NAME, cookie:NAME, query:NAME, path or ip`},
	{"hash key unknown source", withPool(`
    strategy: consistent_hash
    hash_key: "body"
`), `t.yaml:7: pools[0].hash_key: invalid hash key "body"; want header:NAME, cookie:NAME, query:NAME, path or ip`},
	{"hash key path with name", withPool(`
    strategy: consistent_hash
    hash_key: "path:x"
`), `t.yaml:7: pools[0].hash_key: invalid hash key "path:x"; want header:NAME, cookie:NAME, query:NAME, path or ip`},
	{"virtual nodes without consistent hash", withPool(`
    strategy: ip_hash
    virtual_nodes: 100
`), "t.yaml:7: pools[0].virtual_nodes: only valid with strategy consistent_hash"},
	{"too many virtual nodes", withPool(`
    strategy: consistent_hash
    virtual_nodes: 10001
`), "t.yaml:7: pools[0].virtual_nodes: must be between 1 and 10000, got 10001"},
	{"negative virtual nodes", withPool(`
    strategy: consistent_hash
    virtual_nodes: -1
`), "t.yaml:7: pools[0].virtual_nodes: must be between 1 and 10000, got -1"},
	{"bounded load without consistent hash", withPool(`
    bounded_load: 1.25
`), "t.yaml:6: pools[0].bounded_load: only valid with strategy consistent_hash"},
	{"bounded load too small", withPool(`
    strategy: consistent_hash
    bounded_load: 1
`), "t.yaml:7: pools[0].bounded_load: must be 0 (off) or a number greater than 1, got 1"},
	{"bounded load NaN", withPool(`
    strategy: consistent_hash
    bounded_load: .nan
`), "t.yaml:7: pools[0].bounded_load: must be 0 (off) or a number greater than 1, got NaN"},
	{"bounded load infinite", withPool(`
    strategy: consistent_hash
    bounded_load: .inf
`), "t.yaml:7: pools[0].bounded_load: must be 0 (off) or a number greater than 1, got +Inf"},
	{"sticky without secret", withPool(`
    sticky: {}
`), "t.yaml:6: pools[0].sticky.secret: must be at least 16 bytes, got 0"},
	{"sticky short secret", withPool(`
    sticky:
      secret: short
`), "t.yaml:7: pools[0].sticky.secret: must be at least 16 bytes, got 5"},
	{"sticky secret from unset variable", withPool(`
    sticky:
      secret: env:DRAWBRIDGE_TEST_UNSET
`), `t.yaml:7: pools[0].sticky.secret: environment variable "DRAWBRIDGE_TEST_UNSET" is not set`},
	{"sticky bad cookie name", withPool(`
    sticky:
      cookie: "my cookie"
      secret: 0123456789abcdef
`), `t.yaml:7: pools[0].sticky.cookie: invalid cookie name "my cookie"`},
	{"sticky zero ttl", withPool(`
    sticky:
      secret: 0123456789abcdef
      ttl: 0s
`), "t.yaml:8: pools[0].sticky.ttl: must be positive, got 0s"},
	{"unknown protocol", withPool(`
    protocol: h3
`), `t.yaml:6: pools[0].protocol: unknown protocol "h3"; want http1, h2c, https or h2`},
	{"backend tls without https", withPool(`
    tls: {server_name: api.internal}
`), `t.yaml:6: pools[0].tls: needs protocol https or h2, got "http1"`},
	{"backend tls cert without key", withPool(`
    protocol: https
    tls:
      cert_file: client.pem
`), `t.yaml:7: pools[0].tls.key_file: required with cert_file`},
	{"backend tls missing ca file", withPool(`
    protocol: https
    tls:
      ca_file: /nonexistent/ca.pem
`), `t.yaml:8: pools[0].tls.ca_file: open /nonexistent/ca.pem: no such file or directory`},
	{"backend tls min version", withPool(`
    protocol: https
    tls:
      min_version: "1.1"
`), `t.yaml:8: pools[0].tls.min_version: want "1.2" or "1.3", got "1.1"`},
	{"host header with space", withPool(`
    host_header: "a b"
`), `t.yaml:6: pools[0].host_header: want preserve, backend or a host name, got "a b"`},
	{"empty host header", withPool(`
    host_header: ""
`), `t.yaml:6: pools[0].host_header: want preserve, backend or a host name, got ""`},
	{"no backends", `
routes: [{name: r, pool: p}]
pools:
  - name: p
`, "t.yaml:3: pools[0].backends: at least one backend is required"},
	{"empty backends", `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends: []
`, "t.yaml:4: pools[0].backends: at least one backend is required"},
	{"backend without address", withPool(`
      - weight: 2
`), "t.yaml:6: pools[0].backends[1].address: required"},
	{"backend without port", withPool(`
      - address: 127.0.0.1
`), `t.yaml:6: pools[0].backends[1].address: invalid address "127.0.0.1": missing port in address`},
	{"backend without host", withPool(`
      - address: ":80"
`), `t.yaml:6: pools[0].backends[1].address: invalid address ":80": host is required`},
	{"backend port zero", withPool(`
      - address: "10.0.0.1:0"
`), `t.yaml:6: pools[0].backends[1].address: invalid port "0" in "10.0.0.1:0"; want 1-65535`},
	{"backend named port", withPool(`
      - address: "10.0.0.1:http"
`), `t.yaml:6: pools[0].backends[1].address: invalid port "http" in "10.0.0.1:http"; want 1-65535`},
	{"backend weight zero", withPool(`
      - address: 127.0.0.1:2
        weight: 0
`), "t.yaml:7: pools[0].backends[1].weight: must be between 1 and 1000, got 0"},
	{"backend weight too large", withPool(`
      - address: 127.0.0.1:2
        weight: 1001
`), "t.yaml:7: pools[0].backends[1].weight: must be between 1 and 1000, got 1001"},
	{"duplicate backend address", withPool(`
      - address: 127.0.0.1:1
`), `t.yaml:6: pools[0].backends[1].id: duplicate backend id "127.0.0.1:1" (same as pools[0].backends[0]; set id to tell them apart)`},
	{"duplicate backend id", withPool(`
      - address: 127.0.0.1:2
        id: 127.0.0.1:1
`), `t.yaml:7: pools[0].backends[1].id: duplicate backend id "127.0.0.1:1" (same as pools[0].backends[0]; set id to tell them apart)`},
	{"health check path without slash", withPool(`
    health_check:
      path: healthz
`), `t.yaml:7: pools[0].health_check.path: must start with "/", got "healthz"`},
	{"health check path with space", withPool(`
    health_check:
      path: /health z
`), `t.yaml:7: pools[0].health_check.path: invalid character ' ' in path "/health z"`},
	{"zero interval", withPool(`
    health_check:
      interval: 0s
`), "t.yaml:7: pools[0].health_check.interval: must be positive, got 0s"},
	{"zero health timeout", withPool(`
    health_check:
      timeout: 0s
`), "t.yaml:7: pools[0].health_check.timeout: must be positive, got 0s"},
	{"health timeout not below interval", withPool(`
    health_check:
      interval: 2s
      timeout: 2s
`), "t.yaml:8: pools[0].health_check.timeout: must be less than interval (2s)"},
	{"health timeout above default interval", withPool(`
    health_check:
      timeout: 10s
`), "t.yaml:7: pools[0].health_check.timeout: must be less than interval (5s)"},
	{"zero healthy threshold", withPool(`
    health_check:
      healthy_threshold: 0
`), "t.yaml:7: pools[0].health_check.healthy_threshold: must be between 1 and 1000, got 0"},
	{"zero unhealthy threshold", withPool(`
    health_check:
      unhealthy_threshold: 0
`), "t.yaml:7: pools[0].health_check.unhealthy_threshold: must be between 1 and 1000, got 0"},
	{"zero consecutive failures", withPool(`
    outlier:
      consecutive_failures: 0
`), "t.yaml:7: pools[0].outlier.consecutive_failures: must be between 1 and 1000, got 0"},
	{"zero base ejection", withPool(`
    outlier:
      base_ejection: 0s
`), "t.yaml:7: pools[0].outlier.base_ejection: must be positive, got 0s"},
	{"max ejection below base", withPool(`
    outlier:
      base_ejection: 1m
      max_ejection: 30s
`), "t.yaml:8: pools[0].outlier.max_ejection: must be at least base_ejection (1m0s)"},
	{"ejection percent above 100", withPool(`
    outlier:
      max_ejection_percent: 101
`), "t.yaml:7: pools[0].outlier.max_ejection_percent: must be between 1 and 100, got 101"},
	{"negative slow start", withPool(`
    slow_start: -1s
`), "t.yaml:6: pools[0].slow_start: must not be negative, got -1s"},
	{"zero connect timeout", withPool(`
    timeouts:
      connect: 0s
`), "t.yaml:7: pools[0].timeouts.connect: must be positive, got 0s"},
	{"zero response header timeout", withPool(`
    timeouts:
      response_header: 0s
`), "t.yaml:7: pools[0].timeouts.response_header: must be positive, got 0s"},
	{"zero idle conn timeout", withPool(`
    timeouts:
      idle_conn: 0s
`), "t.yaml:7: pools[0].timeouts.idle_conn: must be positive, got 0s"},
	{"zero idle conns", withPool(`
    max_idle_conns_per_backend: 0
`), "t.yaml:6: pools[0].max_idle_conns_per_backend: must be between 1 and 2147483647, got 0"},

	// Several semantic errors come back sorted by line, not by the order
	// they were checked in (listen is checked first).
	{"semantic errors sorted by line", `
routes:
  - name: r
    pool: nope
pools:
  - name: p
    backends: [{address: "127.0.0.1:1", weight: 0}]
listen: x
`, `t.yaml:3: routes[0].pool: unknown pool "nope"
t.yaml:6: pools[0].backends[0].weight: must be between 1 and 1000, got 0
t.yaml:7: listen: invalid address "x": missing port in address`},
}

// minimal is the smallest valid routes and pools, to append to top-level
// settings under test. pool is just its pools part.
const (
	pool = `pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
`
	minimal = "routes: [{name: r, pool: p}]\n" + pool
)

// withPool puts pool keys under test after a valid route and pool: the
// first key given is on line 6. Keys indented like a backend continue the
// backends list.
func withPool(keys string) string {
	return `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends:
      - address: 127.0.0.1:1` + keys
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(strings.TrimPrefix(tc.yaml, "\n")))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v; want error\n%s", c, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("errors.As(%T, *Error) = false", err)
			}
		})
	}
}

func TestErrorsSingleAndMany(t *testing.T) {
	_, err := Parse("t.yaml", []byte("listn: x\n"))
	if _, ok := err.(*Error); !ok {
		t.Errorf("one problem: got %T, want *Error", err)
	}
	_, err = Parse("t.yaml", []byte("listn: x\nadmn: y\n"))
	es, ok := err.(Errors)
	if !ok || len(es) != 2 {
		t.Fatalf("two problems: got %T %v, want Errors of 2", err, err)
	}
	if es[0].Line != 1 || es[1].Line != 2 || es[1].Key != "admn" {
		t.Errorf("Errors = %#v", es)
	}
}

// Alias expansion is bounded, so a small file cannot make Parse do
// quadratic or exponential work.
func TestAliasBlowUp(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &m [")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("GET")
	}
	b.WriteString("]\nroutes:\n")
	for range 3000 {
		b.WriteString("  - match: {methods: *m}\n")
	}
	_, err := Parse("t.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "document too large after expanding aliases") {
		t.Errorf("err = %v, want alias expansion limit", err)
	}
}

// Resilience settings (retries, timeouts, bulkheads, breakers).
var resilienceCases = []struct{ name, body, want string }{
	{"retry on unknown condition", "    retry: {retry_on: [connect_error, sometimes]}\n", "t.yaml:4: routes[0].retry.retry_on[1]: want connect_error, reset, timeout or a 4xx/5xx status code, got \"sometimes\""},
	{"retry on 2xx", "    retry: {retry_on: [\"200\"]}\n", "t.yaml:4: routes[0].retry.retry_on[0]: want connect_error, reset, timeout or a 4xx/5xx status code, got \"200\""},
	{"too many retries", "    retry: {max_retries: 50}\n", "t.yaml:4: routes[0].retry.max_retries: must be between 0 and 10, got 50"},
	{"backoff max below base", "    retry: {backoff_base: 1s, backoff_max: 10ms}\n", "t.yaml:4: routes[0].retry.backoff_max: must be at least backoff_base (1s)"},
	{"budget ratio", "    retry: {budget_ratio: 1.5}\n", "t.yaml:4: routes[0].retry.budget_ratio: must be in [0, 1], got 1.5"},
	{"lower-case retry method", "    retry: {methods: [get]}\n", "t.yaml:4: routes[0].retry.methods[0]: invalid method \"get\" (upper-case HTTP method)"},
	{"per try above overall", "    timeouts: {overall: 1s, per_try: 2s}\n", "t.yaml:4: routes[0].timeouts.per_try: must not exceed timeouts.overall (1s)"},
	{"route concurrency needs max", "    concurrency: {queue_size: 3}\n", "t.yaml:4: routes[0].concurrency.max: must be between 1 and 2147483647, got 0"},
}

// routeErrors parses each case's body as keys of a route and wants its
// exact error.
func routeErrors(t *testing.T, cases []struct{ name, body, want string }) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := "routes:\n  - name: r\n    pool: p\n" + tc.body + "pools:\n  - name: p\n    backends: [{address: \"127.0.0.1:1\"}]\n"
			_, err := Parse("t.yaml", []byte(doc))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestResilienceErrors(t *testing.T) {
	routeErrors(t, resilienceCases)
	for _, tc := range []struct{ body, want string }{
		{"    circuit_breaker: {failure_ratio: 0}\n", "t.yaml:4: pools[0].circuit_breaker.failure_ratio: must be in (0, 1], got 0"},
		{"    circuit_breaker: {cool_down: 0s}\n", "t.yaml:4: pools[0].circuit_breaker.cool_down: must be positive, got 0s"},
		{"    concurrency_per_backend: {max: 2, queue_timeout: 0s}\n", "t.yaml:4: pools[0].concurrency_per_backend.queue_timeout: must be positive, got 0s"},
	} {
		doc := "routes: [{name: r, pool: p}]\npools:\n  - name: p\n" + tc.body + "    backends: [{address: \"127.0.0.1:1\"}]\n"
		if _, err := Parse("t.yaml", []byte(doc)); err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
	if _, err := Parse("t.yaml", []byte("max_concurrent: -1\nroutes: [{name: r, pool: p}]\npools: [{name: p, backends: [{address: \"127.0.0.1:1\"}]}]\n")); err == nil || err.Error() != "t.yaml:1: max_concurrent: must be between 0 and 2147483647, got -1" {
		t.Errorf("max_concurrent: %v", err)
	}
}

// Cache and auth settings of a route.
var edgeCases = []struct{ name, body, want string }{
	{"auth failures without rate", "    auth:\n      api_keys: {keys: {a: " + strings.Repeat("0", 64) + "}}\n      max_failures: {burst: 5}\n", "t.yaml:6: routes[0].auth.max_failures.rate: must be a positive number of failures per second, got 0"},
	{"auth failures zero burst", "    auth:\n      api_keys: {keys: {a: " + strings.Repeat("0", 64) + "}}\n      max_failures: {rate: 1, burst: 0}\n", "t.yaml:6: routes[0].auth.max_failures.burst: must be between 1 and 2147483647, got 0"},
	{"cache keyed by identity without auth", "    cache: {key_by_identity: true}\n", "t.yaml:4: routes[0].cache.key_by_identity: needs auth on the route: the key is the authenticated subject"},
}

func TestEdgeErrors(t *testing.T) {
	routeErrors(t, edgeCases)
}

// The tracing and log blocks' errors name the key, with its line.
func TestTracingAndLogErrors(t *testing.T) {
	base := "routes:\n  - name: r\n    pool: p\npools:\n  - name: p\n    backends: [{address: \"127.0.0.1:1\"}]\n"
	for _, tc := range []struct{ name, body, want string }{
		{"endpoint without scheme", "tracing:\n  enabled: true\n  endpoint: collector:4318\n",
			`t.yaml:9: tracing.endpoint: want an http:// or https:// URL such as http://localhost:4318, got "collector:4318"`},
		{"unknown protocol", "tracing: {protocol: thrift}\n",
			`t.yaml:7: tracing.protocol: want http/protobuf or grpc, got "thrift"`},
		{"grpc endpoint with a path", "tracing: {protocol: grpc, endpoint: \"http://c:4317/v1/traces\"}\n",
			`t.yaml:7: tracing.endpoint: a grpc endpoint is a scheme, host and port, without a path: got "http://c:4317/v1/traces"`},
		{"ratio above 1", "tracing:\n  sample_ratio: 1.5\n",
			"t.yaml:8: tracing.sample_ratio: want a number from 0 to 1, got 1.5"},
		{"log level", "log: {level: verbose}\n",
			`t.yaml:7: log.level: want debug, info, warn or error, got "verbose"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(base+tc.body))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

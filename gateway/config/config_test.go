package config

import (
	"encoding"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
)

const examplePath = "../../examples/gateway.yaml"

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("t.yaml", []byte(strings.TrimPrefix(src, "\n")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// The defaults are spelled out here rather than taken from setDefaults, so
// that changing one is a visible decision.
func TestDefaultsApplied(t *testing.T) {
	c := mustParse(t, minimal)
	want := &Config{
		Listen:          ":8080",
		Admin:           Admin{Enabled: true, Listen: "127.0.0.1:9090"},
		ShutdownTimeout: 30 * time.Second,
		AccessLog: AccessLog{Enabled: true, Path: "stdout", Query: "redact", RedactParams: []string{"token", "access_token",
			"refresh_token", "id_token", "api_key", "apikey", "key", "password", "passwd", "secret", "client_secret",
			"signature", "sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "code", "auth",
			"authorization", "session", "sessionid", "jwt"}},
		Server: Server{
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxHeaders:        100,
			MaxURIBytes:       8192,
			MinBodyRate:       1024,
			BodyGrace:         10 * time.Second,
			EncodedSlashes:    "keep",

			UnderscoresInHeaders: "drop",
			Engine:               "net/http",
		},
		Routes: []Route{{Name: "r", Match: Match{PathPrefix: "/"}, Pool: "p", Upgrade: []string{"websocket"}}},
		Pools: []Pool{{
			Name:       "p",
			Strategy:   "round_robin",
			Protocol:   "http1",
			HostHeader: "preserve",
			Backends:   []Backend{{Address: "127.0.0.1:1", Weight: 1, ID: "127.0.0.1:1"}},
			Timeouts: Timeouts{
				Connect:        2 * time.Second,
				ResponseHeader: 30 * time.Second,
				IdleConn:       90 * time.Second,
			},
			MaxIdleConnsPerBackend: 64,
		}},
		Tracing: Tracing{Endpoint: "http://localhost:4318", Protocol: "http/protobuf", SampleRatio: 1, Timeout: 10 * time.Second},
		Log:     Log{Level: "info"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestOptionalSectionDefaults(t *testing.T) {
	c := mustParse(t, `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
    health_check: {}
    outlier: {}
    sticky: {secret: 0123456789abcdef}
  - name: ch
    strategy: consistent_hash
    backends: [{address: "127.0.0.1:1"}]
  - name: ip
    strategy: ip_hash
    backends: [{address: "127.0.0.1:1"}]
`)
	p := c.Pools[0]
	if want := (HealthCheck{
		Path:               "/healthz",
		Interval:           5 * time.Second,
		Timeout:            time.Second,
		ExpectedStatus:     StatusRanges{{200, 399}},
		HealthyThreshold:   2,
		UnhealthyThreshold: 3,
		PanicThreshold:     50,
	}); !reflect.DeepEqual(*p.HealthCheck, want) {
		t.Errorf("health_check = %+v, want %+v", *p.HealthCheck, want)
	}
	if want := (Outlier{
		ConsecutiveFailures: 5,
		BaseEjection:        30 * time.Second,
		MaxEjection:         5 * time.Minute,
		MaxEjectionPercent:  50,
	}); *p.Outlier != want {
		t.Errorf("outlier = %+v, want %+v", *p.Outlier, want)
	}
	if want := (Sticky{Cookie: "drawbridge_sticky", Secret: "0123456789abcdef", TTL: time.Hour}); *p.Sticky != want {
		t.Errorf("sticky = %+v, want %+v", *p.Sticky, want)
	}
	if p.HashKey != "" || p.VirtualNodes != 0 {
		t.Errorf("round_robin: hash_key %q, virtual_nodes %d; want unset", p.HashKey, p.VirtualNodes)
	}
	if ch := c.Pools[1]; ch.HashKey != "ip" || ch.VirtualNodes != 160 || ch.BoundedLoad != 0 {
		t.Errorf("consistent_hash: hash_key %q, virtual_nodes %d, bounded_load %v; want ip, 160, 0", ch.HashKey, ch.VirtualNodes, ch.BoundedLoad)
	}
	if ip := c.Pools[2]; ip.HashKey != "ip" || ip.VirtualNodes != 0 {
		t.Errorf("ip_hash: hash_key %q, virtual_nodes %d; want ip, 0", ip.HashKey, ip.VirtualNodes)
	}
}

// A present key is taken as written, even when it is a zero value; only
// absent and null keys get defaults.
func TestExplicitValues(t *testing.T) {
	c := mustParse(t, `
listen: ":0"
admin:
  enabled: false
  listen: ""
shutdown_timeout: 0s
access_log: {enabled: false, path: ""}
server:
  max_header_bytes:
routes:
  - name: R.1_x
    match:
      host: "*.Example.COM"
      methods: [GET, PURGE]
      headers: {x-env: canary}
    pool: p
pools:
  - name: p
    strategy: consistent_hash
    hash_key: "cookie:session"
    virtual_nodes: 1
    bounded_load: 1.5
    host_header: "api.internal:8443"
    health_check:
      expected_status: 204
    slow_start: 1m
    backends:
      - address: "[::1]:8080"
        weight: 1000
      - address: backend.internal:80
        id: second
`)
	if c.Listen != ":0" || c.Admin.Enabled || c.ShutdownTimeout != 0 || c.AccessLog.Enabled {
		t.Errorf("top level = %+v", c)
	}
	if c.Server.MaxHeaderBytes != 64<<10 {
		t.Errorf("null max_header_bytes = %d, want the default", c.Server.MaxHeaderBytes)
	}
	if got := c.Routes[0].Match.Host; got != "*.example.com" {
		t.Errorf("host = %q, want it lower-cased", got)
	}
	p := c.Pools[0]
	if p.VirtualNodes != 1 || p.BoundedLoad != 1.5 || p.HashKey != "cookie:session" || p.SlowStart != time.Minute {
		t.Errorf("pool = %+v", p)
	}
	if got := p.HealthCheck.ExpectedStatus; !reflect.DeepEqual(got, StatusRanges{{204, 204}}) {
		t.Errorf("expected_status = %v", got)
	}
	if got := p.Backends[1].ID; got != "second" {
		t.Errorf("backends[1].id = %q", got)
	}
}

func TestMergeKeys(t *testing.T) {
	c := mustParse(t, `
x-pool: &pool
  strategy: least_connections
  timeouts: {connect: 1s}
  health_check: {path: /ping}
x-fast: &fast
  strategy: random
  slow_start: 10s
routes: [{name: r, pool: a}]
pools:
  - <<: *pool
    name: a
    backends: [{address: "10.0.0.1:80"}]
  - <<: [*fast, *pool]
    name: b
    max_idle_conns_per_backend: 8
    backends: [{address: "10.0.0.2:80"}]
`)
	a, b := c.Pools[0], c.Pools[1]
	if a.Strategy != balance.LeastConnections || a.Timeouts.Connect != time.Second || a.HealthCheck.Path != "/ping" {
		t.Errorf("pool a = %+v", a)
	}
	// The merged mapping replaces timeouts as a whole; unset keys in it
	// still get their defaults.
	if a.Timeouts.ResponseHeader != 30*time.Second {
		t.Errorf("a.timeouts.response_header = %v, want the default", a.Timeouts.ResponseHeader)
	}
	// Earlier merges win over later ones.
	if b.Strategy != balance.Random || b.SlowStart != 10*time.Second || b.Timeouts.Connect != time.Second || b.MaxIdleConnsPerBackend != 8 {
		t.Errorf("pool b = %+v", b)
	}
	if a.HealthCheck == b.HealthCheck {
		t.Error("pools share one *HealthCheck; each alias use must decode to its own value")
	}
}

func TestEnvSecret(t *testing.T) {
	const src = `
routes: [{name: r, pool: p}]
pools:
  - name: p
    backends: [{address: "127.0.0.1:1"}]
    sticky:
      secret: env:DRAWBRIDGE_TEST_SECRET
`
	t.Setenv("DRAWBRIDGE_TEST_SECRET", "0123456789abcdef0123")
	c := mustParse(t, src)
	if got := c.Pools[0].Sticky.Secret; got != "0123456789abcdef0123" {
		t.Errorf("secret = %q, want the variable's value", got)
	}

	t.Setenv("DRAWBRIDGE_TEST_SECRET", "abc")
	_, err := Parse("t.yaml", []byte(strings.TrimPrefix(src, "\n")))
	if want := "t.yaml:6: pools[0].sticky.secret: must be at least 16 bytes, got 3"; err == nil || err.Error() != want {
		t.Errorf("short secret: err = %v, want %s", err, want)
	}
}

func TestDefault(t *testing.T) {
	c, err := Default([]string{"127.0.0.1:9001", "127.0.0.1:9002"})
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, `
routes: [{name: default, pool: default}]
pools:
  - name: default
    backends:
      - address: 127.0.0.1:9001
      - address: 127.0.0.1:9002
`)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	for _, tc := range []struct {
		backends []string
		want     string
	}{
		{nil, "pools[0].backends: at least one backend is required"},
		{[]string{"localhost"}, `pools[0].backends[0].address: invalid address "localhost": missing port in address`},
		{[]string{"a:1", "a:1"}, `pools[0].backends[1].id: duplicate backend id "a:1" (same as pools[0].backends[0]; set id to tell them apart)`},
	} {
		if _, err := Default(tc.backends); err == nil || err.Error() != tc.want {
			t.Errorf("Default(%q): err = %v, want %s", tc.backends, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	_, err := Load(examplePath)
	if err != nil {
		t.Fatalf("example: %v", err)
	}
}

func TestExample(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 6 || len(c.Pools) != 3 || len(c.L4) != 2 {
		t.Fatalf("example has %d routes, %d pools and %d L4 listeners, want 6, 3 and 2", len(c.Routes), len(c.Pools), len(c.L4))
	}
	if m := c.L4[1]; m.Mode != l4.ModeMQTT || m.MQTT == nil || m.MQTT.Auth == nil || m.MQTT.PublishRate == nil {
		t.Errorf("l4 mqtt-aware = %+v, want mode mqtt with auth and rates", m)
	}
	if p := c.Pools[2]; p.Protocol != ProtocolHTTPS || p.TLS.ClientConfig() == nil || len(p.TLS.ClientConfig().Certificates) != 1 {
		t.Errorf("pool internal-tls = %+v, want https with a loaded client certificate", p)
	}
	if site := c.Routes[0]; site.Static == nil || site.Pool != "" {
		t.Errorf("route site = %+v, want static files", site)
	}
	v1, v2 := c.Routes[1], c.Routes[2]
	if v1.Match.PathPrefix != "/v1" || !v1.StripPrefix || v1.Pool != "v1" {
		t.Errorf("route v1 = %+v", v1)
	}
	if v2.Match.PathPrefix != "/v2" || v2.Pool != "v2" {
		t.Errorf("route v2 = %+v", v2)
	}
	if rx := c.Routes[3].RewriteRegex; rx == nil || rx.Pattern != `^/api/v(\d+)/(.*)$` {
		t.Errorf("route api-legacy rewrite_regex = %+v", rx)
	}
	if rd := c.Routes[4].Redirect; rd == nil || rd.Status != 301 || c.Routes[4].Pool != "" {
		t.Errorf("route old-site redirect = %+v", rd)
	}
	p1, p2 := c.Pools[0], c.Pools[1]
	if p1.Sticky == nil || p1.HealthCheck == nil || p1.Outlier == nil || p1.SlowStart <= 0 {
		t.Errorf("pool v1 lacks sticky, health check, outlier or slow start: %+v", p1)
	}
	if p2.Strategy != balance.ConsistentHash || p2.BoundedLoad <= 1 || p2.HashKey != "header:X-User" {
		t.Errorf("pool v2 = %+v", p2)
	}
}

// The example is the reference for users, so every key the schema knows
// must be written out in it.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool)
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := join(prefix, n.Content[i].Value)
				have[k] = true
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(&doc, "")
	for _, k := range schemaKeys(reflect.TypeFor[Config](), "") {
		if !have[k] {
			t.Errorf("examples/gateway.yaml does not show %s", k)
		}
	}
}

// schemaKeys lists the key paths of t, list indexes left out.
func schemaKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue // not decoded: state the loader keeps, such as substFiles
		}
		k := join(prefix, f.Tag.Get("yaml"))
		keys = append(keys, k)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice && !reflect.PointerTo(ft).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, schemaKeys(ft, k)...)
		}
	}
	return keys
}

func TestStatusRanges(t *testing.T) {
	var s StatusRanges
	if err := s.UnmarshalText([]byte("200-299, 304")); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{199: false, 200: true, 299: true, 300: false, 304: true, 305: false} {
		if got := s.Contains(code); got != want {
			t.Errorf("Contains(%d) = %v, want %v", code, got, want)
		}
	}
	if got := s.String(); got != "200-299,304" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"", "abc", "200-", "-200", "99", "600", "300-200", "200,,300"} {
		if err := s.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestSplitHashKey(t *testing.T) {
	for _, tc := range []struct{ in, source, name string }{
		{"ip", "ip", ""},
		{"path", "path", ""},
		{"header:X-User", "header", "X-User"},
		{"cookie:session", "cookie", "session"},
		{"query:user id", "query", "user id"},
	} {
		source, name, err := SplitHashKey(tc.in)
		if err != nil || source != tc.source || name != tc.name {
			t.Errorf("SplitHashKey(%q) = %q, %q, %v; want %q, %q", tc.in, source, name, err, tc.source, tc.name)
		}
	}
	for _, bad := range []string{"", "ip:x", "path:", "header:", "header:X User", "cookie:", "query:", "body"} {
		if _, _, err := SplitHashKey(bad); err == nil {
			t.Errorf("SplitHashKey(%q) succeeded", bad)
		}
	}
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// Weighted shares hold end to end over real sockets.
func TestWeightedDistributionOverSockets(t *testing.T) {
	bs := startBackends(t, 3)
	cfg := parseConfig(t, fmt.Sprintf(`
access_log: {enabled: false}
admin: {enabled: false}
routes: [{name: all, pool: p}]
pools:
	- name: p
		strategy: weighted_round_robin
		backends:
			- {address: %s, weight: 1}
			- {address: %s, weight: 2}
			- {address: %s, weight: 5}
`, bs[0].Addr(), bs[1].Addr(), bs[2].Addr()))
	_, gw := startGateway(t, cfg, Options{})
	const n = 4000
	counts := map[string]int{}
	c := gw.Client()
	for i := 0; i < n; i++ {
		_, body, _ := get(t, c, gw.URL+"/")
		counts[strings.TrimSpace(body)]++
	}
	for id, w := range map[string]float64{"b0": 1, "b1": 2, "b2": 5} {
		share := float64(counts[id]) / n
		if want := w / 8; math.Abs(share-want) > 0.03 {
			t.Errorf("%s: share %.3f, want %.3f ± 0.03 (counts %v)", id, share, want, counts)
		}
	}
}

func TestConsistentHashKeepsKeysOnOneBackend(t *testing.T) {
	bs := startBackends(t, 4)
	_, gw := startGateway(t, parseConfig(t, poolConfig("strategy: consistent_hash\nhash_key: header:X-User", bs...)), Options{})
	c := gw.Client()
	for u := 0; u < 50; u++ {
		var first string
		for i := 0; i < 5; i++ {
			req, _ := http.NewRequest("GET", gw.URL+"/", nil)
			req.Header.Set("X-User", fmt.Sprint("user-", u))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if i == 0 {
				first = string(b)
			} else if string(b) != first {
				t.Fatalf("user-%d moved from %q to %q", u, first, b)
			}
		}
	}
}

func TestStickySessionPinsAndFailsOver(t *testing.T) {
	bs := startBackends(t, 3)
	g, gw := startGateway(t, parseConfig(t, poolConfig("sticky: {secret: 0123456789abcdef0123}", bs...)), Options{})
	c := gw.Client()
	resp, err := c.Get(gw.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "drawbridge_sticky" {
		t.Fatalf("want one sticky cookie, got %v", resp.Header["Set-Cookie"])
	}
	pinned := strings.TrimSpace(string(body))
	do := func() (string, []*http.Cookie) {
		req, _ := http.NewRequest("GET", gw.URL+"/", nil)
		req.AddCookie(cookies[0])
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.TrimSpace(string(b)), resp.Cookies()
	}
	for i := 0; i < 20; i++ {
		if got, _ := do(); got != pinned {
			t.Fatalf("request %d went to %s, pinned to %s", i, got, pinned)
		}
	}
	// The pinned backend goes unhealthy: fall back and re-pin elsewhere.
	for _, b := range g.Pool("p").Members() {
		if b.ID() == addrOf(bs, pinned) {
			b.SetFlag(1, true)
		}
	}
	got, newCookies := do()
	if got == pinned || len(newCookies) != 1 {
		t.Fatalf("with %s down got %s and cookies %v", pinned, got, newCookies)
	}
	// A tampered cookie is ignored, not an error.
	req, _ := http.NewRequest("GET", gw.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "drawbridge_sticky", Value: "forged." + cookies[0].Value})
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("tampered cookie: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func addrOf(bs []*testkit.HTTPBackend, id string) string {
	for _, b := range bs {
		if b.ID == id {
			return b.Addr()
		}
	}
	return ""
}

// A backend answering 5xx is ejected after consecutive failures, and comes
// back after the back-off (fake clock).
func TestOutlierEjectionEndToEnd(t *testing.T) {
	failing := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", 500)
	}))
	failing.ID = "bad"
	good := startBackends(t, 1)[0]
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	g, gw := startGateway(t, parseConfig(t, poolConfig(`outlier: {consecutive_failures: 3, base_ejection: 30s, max_ejection: 5m}`, failing, good)), Options{Clock: clk})
	c := gw.Client()
	fails := 0
	for i := 0; i < 20; i++ {
		code, _, _ := get(t, c, gw.URL+"/")
		if code == 500 {
			fails++
		}
	}
	if fails != 3 {
		t.Fatalf("the failing backend served %d requests; want exactly 3 before ejection", fails)
	}
	bad := g.Pool("p").Backend(failing.Addr())
	if !bad.HasFlag(2) {
		t.Fatal("backend not ejected")
	}
	clk.Advance(31 * time.Second)
	testkit.Eventually(t, "ejection lifted", func() bool { return !bad.HasFlag(2) })
}

// Active health checks take an unhealthy backend out and put it back.
func TestActiveHealthCheckEndToEnd(t *testing.T) {
	bs := startBackends(t, 2)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	g, gw := startGateway(t, parseConfig(t, poolConfig(`health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 2}`, bs...)), Options{Clock: clk})
	p := g.Pool("p")
	b0 := p.Backend(bs[0].Addr())
	bs[0].Demo.SetHealthy(false)
	for i := 0; !b0.HasFlag(1); i++ {
		if i == 10 {
			t.Fatal("b0 not marked unhealthy after 10 probe rounds")
		}
		probeRound(t, p, clk)
	}
	for i := 0; i < 10; i++ {
		if _, body, _ := get(t, gw.Client(), gw.URL+"/"); body != "b1\n" {
			t.Fatalf("unhealthy backend served: %q", body)
		}
	}
	bs[0].Demo.SetHealthy(true)
	for i := 0; b0.HasFlag(1); i++ {
		if i == 10 {
			t.Fatal("b0 not healthy again after 10 probe rounds")
		}
		probeRound(t, p, clk)
	}
}

// probeRound advances the fake clock one check interval and waits until
// every member's probe has completed. Advancing again while a probe's real
// HTTP exchange is in flight would fire its timeout on the fake clock and
// fail a healthy backend.
func probeRound(t *testing.T, p *Pool, clk *clock.Fake) {
	t.Helper()
	members, ck := p.Members(), p.HealthChecker()
	before := make([]uint64, len(members))
	for i, b := range members {
		st, _ := ck.Status(b)
		before[i] = st.Probes
	}
	clk.Advance(time.Second)
	testkit.Eventually(t, "a probe of every member", func() bool {
		for i, b := range members {
			if st, _ := ck.Status(b); st.Probes <= before[i] {
				return false
			}
		}
		return true
	})
}

func TestAdminMetricsAndStatus(t *testing.T) {
	bs := startBackends(t, 2)
	g, gw := startGateway(t, parseConfig(t, poolConfig("strategy: least_connections", bs...)), Options{})
	for i := 0; i < 10; i++ {
		get(t, gw.Client(), gw.URL+"/")
	}
	get(t, gw.Client(), gw.URL+"/") // one more
	admin := startHandlerBackend(t, g.AdminHandler())
	_, metrics, _ := get(t, http.DefaultClient, admin.URL()+"/metrics")
	for _, want := range []string{
		`drawbridge_requests_total{code="2xx",route="all"} 11`,
		`drawbridge_backend_requests_total{backend="` + bs[0].Addr() + `",code="2xx",pool="p"}`,
		`drawbridge_request_duration_seconds_bucket{route="all",le="+Inf"} 11`,
		`drawbridge_backend_up{backend="` + bs[1].Addr() + `",pool="p"} 1`,
		`drawbridge_balancer_picks_total{backend="` + bs[0].Addr() + `",pool="p",strategy="least_connections"}`,
		`drawbridge_backend_inflight_requests{`,
		`drawbridge_inflight_requests 0`,
		`drawbridge_config_reloads_total{result="success"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	code, body, _ := get(t, http.DefaultClient, admin.URL()+"/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status: %d %v", code, err)
	}
	if len(st.Pools) != 1 || st.Pools[0].Available != 2 || st.Pools[0].Strategy != "least_connections" || len(st.Routes) != 1 {
		t.Fatalf("status: %+v", st)
	}
	var total uint64
	for _, b := range st.Pools[0].Backends {
		total += b.Requests
	}
	if total != 11 {
		t.Fatalf("status counts %d requests, want 11", total)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _, _ := get(t, http.DefaultClient, admin.URL()+p); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	g.draining.Store(true)
	if code, _, _ := get(t, http.DefaultClient, admin.URL()+"/readyz"); code != 503 {
		t.Errorf("/readyz while draining: %d, want 503", code)
	}
}

func TestAccessLogIsJSON(t *testing.T) {
	bs := startBackends(t, 1)
	logs := &testkit.Buffer{}
	cfg := parseConfig(t, strings.Replace(poolConfig("", bs...), "access_log: {enabled: false}", "access_log: {enabled: true}", 1))
	_, gw := startGateway(t, cfg, Options{AccessLogWriter: logs})
	get(t, gw.Client(), gw.URL+"/some/path")
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line); err != nil {
		t.Fatalf("access log is not one JSON line: %q", logs.String())
	}
	if line["path"] != "/some/path" || line["status"] != float64(200) || line["route"] != "all" || line["backend"] != bs[0].Addr() || len(line["trace_id"].(string)) != 32 {
		t.Fatalf("access log line: %v", line)
	}
}

// Discovery pushes membership straight into a live pool: kept backends keep
// their identity and state; new ones ramp up in slow start.
func TestDiscoveryUpdatesMembershipInPlace(t *testing.T) {
	bs := startBackends(t, 3)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	g, gw := startGateway(t, parseConfig(t, poolConfig("slow_start: 30s", bs[0], bs[1])), Options{Clock: clk})
	p := g.Pool("p")
	var _ discovery.Sink = p
	before := p.Backend(bs[0].Addr())
	get(t, gw.Client(), gw.URL+"/")
	get(t, gw.Client(), gw.URL+"/") // round robin: one each

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	specs := discovery.Static{
		{ID: bs[0].Addr(), Address: bs[0].Addr(), Weight: 1},
		{ID: bs[2].Addr(), Address: bs[2].Addr(), Weight: 1},
	}
	go func() { _ = discovery.Watch(ctx, specs, p, nil) }()
	testkit.Eventually(t, "membership applied", func() bool { return p.Backend(bs[2].Addr()) != nil })

	if p.Backend(bs[0].Addr()) != before || before.Requests.Load() != 1 {
		t.Fatalf("kept backend lost its identity or its counters (requests %d)", before.Requests.Load())
	}
	if p.Backend(bs[1].Addr()) != nil {
		t.Fatal("removed backend still a member")
	}
	if f := p.Backend(bs[2].Addr()).SlowStartFactor(clk.Now().UnixNano()); f >= 1 {
		t.Fatalf("new backend not in slow start (factor %v)", f)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		_, body, _ := get(t, gw.Client(), gw.URL+"/")
		seen[strings.TrimSpace(body)] = true
	}
	if seen["b1"] || !seen["b0"] || !seen["b2"] {
		t.Fatalf("served by %v; want b0 and b2 only", seen)
	}
}

package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/routehistory"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// remoteListener makes every accepted connection report a non-loopback
// peer address, so that the admin API's loopback rule can be tested over
// real sockets without sending traffic off this machine.
type remoteListener struct{ net.Listener }

type remoteConn struct{ net.Conn }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c}, nil
}

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000} // TEST-NET-3
}

// startAdmin serves g's admin handler on loopback; remote makes its
// clients look non-loopback.
func startAdmin(t *testing.T, g *Gateway, remote bool) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(g.AdminHandler())
	if remote {
		s.Listener = remoteListener{s.Listener}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// post sends a POST to the admin API with extra headers ("Host" sets the
// Host header) and returns the status and body.
func post(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// servedBy sends n requests through the gateway and counts answers per
// backend id.
func servedBy(t *testing.T, gw *httptest.Server, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		code, body, _ := get(t, gw.Client(), gw.URL+"/")
		if code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
		out[strings.TrimSpace(body)]++
	}
	return out
}

func drainURL(admin, pool, backend, verb string) string {
	return fmt.Sprintf("%s/pools/%s/backends/%s/%s", admin, pool, backend, verb)
}

func backendState(t *testing.T, g *Gateway, id string) pool.BackendStatus {
	t.Helper()
	for _, p := range g.Status().Pools {
		for _, b := range p.Backends {
			if b.ID == id {
				return b
			}
		}
	}
	t.Fatalf("no backend %s in /status", id)
	return pool.BackendStatus{}
}

// namedPoolConfig is poolConfig with each backend's id set to the name
// its answers carry (b0, b1, ...).
func namedPoolConfig(t *testing.T, bs []*testkit.HTTPBackend) *config.Config {
	t.Helper()
	cfg := parseConfig(t, poolConfig("", bs...))
	for i := range cfg.Pools[0].Backends {
		cfg.Pools[0].Backends[i].ID = bs[i].ID
	}
	return cfg
}

func TestDrainStopsNewRequestsAndUndrainRestores(t *testing.T) {
	bs := startBackends(t, 2)
	cfg := namedPoolConfig(t, bs)
	g, gw := startGateway(t, cfg, Options{})
	admin := startAdmin(t, g, false)

	if got := servedBy(t, gw, 10); got["b0"] == 0 || got["b1"] == 0 {
		t.Fatalf("before drain: %v, want both backends", got)
	}
	code, body := post(t, drainURL(admin.URL, "p", "b1", "drain"), nil)
	if code != http.StatusOK || !strings.Contains(body, `"drained": true`) {
		t.Fatalf("drain: %d %s", code, body)
	}
	if got := servedBy(t, gw, 20); got["b1"] != 0 || got["b0"] != 20 {
		t.Fatalf("after drain: %v, want every request on b0", got)
	}
	if st := backendState(t, g, "b1"); !st.Drained || st.Available {
		t.Errorf("status of drained b1: %+v", st)
	}
	// Draining twice is harmless; the state is what was asked for.
	if code, _ := post(t, drainURL(admin.URL, "p", "b1", "drain"), nil); code != http.StatusOK {
		t.Errorf("second drain: %d", code)
	}

	// A reload that rebuilds b1 (new weight) keeps it drained.
	cfg2 := namedPoolConfig(t, bs)
	cfg2.Pools[0].Backends[1].Weight = 3
	if err := g.Apply(cfg2); err != nil {
		t.Fatal(err)
	}
	if got := servedBy(t, gw, 20); got["b1"] != 0 {
		t.Fatalf("after a reload that rebuilt b1: %v, want b1 still drained", got)
	}

	if code, body := post(t, drainURL(admin.URL, "p", "b1", "undrain"), nil); code != http.StatusOK || !strings.Contains(body, `"drained": false`) {
		t.Fatalf("undrain: %d %s", code, body)
	}
	if got := servedBy(t, gw, 20); got["b1"] == 0 {
		t.Fatalf("after undrain: %v, want b1 serving again", got)
	}

	for _, tc := range []struct{ pool, backend string }{{"nope", "b1"}, {"p", "nope"}} {
		if code, _ := post(t, drainURL(admin.URL, tc.pool, tc.backend, "drain"), nil); code != http.StatusNotFound {
			t.Errorf("drain %s/%s: %d, want 404", tc.pool, tc.backend, code)
		}
	}
	// State changes need POST.
	resp, err := http.Get(drainURL(admin.URL, "p", "b1", "drain"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET drain: %d, want 405", resp.StatusCode)
	}
	if backendState(t, g, "b1").Drained {
		t.Error("GET drained the backend")
	}
}

func TestDrainForgottenWhenBackendLeaves(t *testing.T) {
	bs := startBackends(t, 2)
	cfg := parseConfig(t, poolConfig("", bs...))
	g, gw := startGateway(t, cfg, Options{})
	admin := startAdmin(t, g, false)
	if code, body := post(t, drainURL(admin.URL, "p", bs[1].Addr(), "drain"), nil); code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	// b1 leaves, then comes back: it is a new backend and serves.
	if err := g.Apply(parseConfig(t, poolConfig("", bs[0]))); err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(parseConfig(t, poolConfig("", bs...))); err != nil {
		t.Fatal(err)
	}
	if st := backendState(t, g, bs[1].Addr()); st.Drained {
		t.Fatalf("re-added backend still drained: %+v", st)
	}
	testkit.Eventually(t, "the re-added backend to serve", func() bool { return servedBy(t, gw, 4)["b1"] > 0 })
}

func TestDrainAPIRefusesRemoteAndCrossSite(t *testing.T) {
	bs := startBackends(t, 2)
	const token = "s3cret-token"
	cfg := parseConfig(t, poolConfig("", bs...))
	id := bs[1].Addr()

	// No token configured: remote clients are refused whatever they send.
	g, _ := startGateway(t, cfg, Options{})
	remote := startAdmin(t, g, true)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer " + token}, {"Authorization": "Bearer "}} {
		if code, body := post(t, drainURL(remote.URL, "p", id, "drain"), hdr); code == http.StatusOK {
			t.Errorf("remote client with %v and no token configured: %d %s, want refused", hdr, code, body)
		}
	}
	if code, body := post(t, drainURL(remote.URL, "p", id, "drain"), nil); code != http.StatusForbidden || !strings.Contains(body, AdminTokenEnv) {
		t.Errorf("remote client, no token configured: %d %q, want 403 naming %s", code, body, AdminTokenEnv)
	}

	// A token configured: it admits remote clients, and only it.
	g2, _ := startGateway(t, cfg, Options{AdminToken: token})
	remote2, local2 := startAdmin(t, g2, true), startAdmin(t, g2, false)
	host := strings.TrimPrefix(local2.URL, "http://")
	cases := []struct {
		name string
		url  string
		hdr  map[string]string
		want int
	}{
		{"remote without token", remote2.URL, nil, http.StatusUnauthorized},
		{"remote with a wrong token", remote2.URL, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"remote with a basic credential", remote2.URL, map[string]string{"Authorization": "Basic " + token}, http.StatusUnauthorized},
		{"loopback with a wrong token", local2.URL, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		// DNS rebinding: a remote page's name resolved to 127.0.0.1.
		{"loopback named by a foreign Host", local2.URL, map[string]string{"Host": "attacker.example:" + strings.Split(host, ":")[1]}, http.StatusUnauthorized},
		{"cross-site browser request", local2.URL, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"}, http.StatusForbidden},
		{"same-site browser request", local2.URL, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://a.localhost"}, http.StatusForbidden},
		{"foreign Origin from an old browser", local2.URL, map[string]string{"Origin": "http://attacker.example"}, http.StatusForbidden},
		{"cross-site even with the token", remote2.URL, map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": "Bearer " + token}, http.StatusForbidden},
		{"remote with the token", remote2.URL, map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"loopback, no token", local2.URL, nil, http.StatusOK},
		{"loopback as localhost", local2.URL, map[string]string{"Host": "localhost:" + strings.Split(host, ":")[1]}, http.StatusOK},
		{"the dashboard's own request", local2.URL, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": local2.URL}, http.StatusOK},
	}
	for _, tc := range cases {
		// Reset, so that each admitted request is seen to change state.
		g2.Pool("p").SetDrained(id, false, "test")
		code, body := post(t, drainURL(tc.url, "p", id, "drain"), tc.hdr)
		if code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, strings.TrimSpace(body), tc.want)
		}
		if drained := backendState(t, g2, id).Drained; drained != (tc.want == http.StatusOK) {
			t.Errorf("%s: drained = %v after %d", tc.name, drained, code)
		}
	}
}

func TestAdminRootLeadsToDashboard(t *testing.T) {
	bs := startBackends(t, 1)
	g, gw := startGateway(t, parseConfig(t, poolConfig("", bs...)), Options{})
	admin := startAdmin(t, g, false)
	get(t, gw.Client(), gw.URL+"/")

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(admin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("GET /: %d Location %q, want 302 to /dashboard/", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, page, hdr := get(t, http.DefaultClient, admin.URL+"/")
	if code != http.StatusOK || !strings.Contains(page, `id="pools"`) {
		t.Fatalf("following /: %d, not the dashboard", code)
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("dashboard may be framed by other sites: CSP %q", hdr.Get("Content-Security-Policy"))
	}
	_, body, _ := get(t, http.DefaultClient, admin.URL+"/dashboard/api/state")
	var st dashboard.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode != "gateway" || len(st.Pools) != 1 || st.Pools[0].Name != "p" || len(st.Pools[0].Backends) != 1 ||
		len(st.Routes) != 1 || st.Routes[0].Pool != "p" || st.Reload == nil || st.Reload.Generation != 1 {
		t.Fatalf("state: %s", body)
	}
}

func TestRouteSamplerRatesErrorsAndLatency(t *testing.T) {
	fail := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	g, gw := startGateway(t, parseConfig(t, poolConfig("", fail)), Options{})
	t0 := time.Unix(1_000_000, 0)
	s := routehistory.New(g.metrics, func() []*Pool { return *g.poolList.Load() }, t0)
	s.Sample(t0.Add(time.Second)) // the baseline: nothing yet
	for i := 0; i < 10; i++ {
		path := "/"
		if i%5 == 0 {
			path = "/fail"
		}
		get(t, gw.Client(), gw.URL+path)
	}
	s.Sample(t0.Add(3 * time.Second))
	pts := s.RouteSeries()["all"]
	if len(pts) != 2 {
		t.Fatalf("points: %+v, want 2", pts)
	}
	if p := pts[0]; p.RPS != 0 || p.ErrorRate != 0 || p.P99MS != 0 {
		t.Errorf("idle interval: %+v", p)
	}
	p := pts[1]
	if p.RPS != 5 || p.ErrorRate != 0.2 || p.T != t0.Add(3*time.Second).UnixMilli() {
		t.Errorf("interval with 10 requests over 2 s, 2 failing: %+v, want 5 req/s and error rate 0.2", p)
	}
	if p.P50MS <= 0 || p.P99MS < p.P50MS || p.P99MS > 10_000 {
		t.Errorf("latency quantiles: p50 %v, p99 %v", p.P50MS, p.P99MS)
	}
	if rps := s.BackendRates()[[2]string{"p", fail.Addr()}]; rps != 5 {
		t.Errorf("backend rate %v, want 5", rps)
	}
	// The ring keeps five minutes.
	for i := 0; i < routehistory.Points+10; i++ {
		s.Sample(t0.Add(time.Duration(4+i) * time.Second))
	}
	if n := len(s.RouteSeries()["all"]); n != routehistory.Points {
		t.Errorf("%d points kept, want %d", n, routehistory.Points)
	}
}

func TestReloadStatusKeepsLastError(t *testing.T) {
	bs := startBackends(t, 1)
	rn, path, reload := runWithConfigFile(t, bs[0].Addr())
	if r := rn.g.ReloadStatus(); r.Attempts != 0 || r.LastResult != "" || r.Generation != 1 || r.File != path {
		t.Fatalf("before any reload: %+v", r)
	}

	// The watcher may not be up yet: SIGHUP's path reloads as well.
	writeConfig(t, path, runnerConfig(bs[0].Addr())+"\t\tbogus_key: 1\n")
	reload <- struct{}{}
	testkit.Eventually(t, "the refused reload to be recorded", func() bool { return rn.g.ReloadStatus().Failures >= 1 })
	r := rn.g.ReloadStatus()
	if r.LastResult != "failure" || !strings.Contains(r.LastError, "gateway.yaml:") || r.Generation != 1 || r.File != path {
		t.Fatalf("after a bad edit: %+v", r)
	}

	writeConfig(t, path, strings.Replace(runnerConfig(bs[0].Addr()), "shutdown_timeout: 5s", "shutdown_timeout: 6s", 1))
	testkit.Eventually(t, "the good reload to apply", func() bool { return rn.g.ReloadStatus().LastResult == "success" })
	r2 := rn.g.ReloadStatus()
	// The watcher is up by now (the refusal was handled by the loop that
	// starts it first); its events may coalesce or not: 2 or more.
	if r2.Generation < 2 || r2.LastError != r.LastError || r2.ErrorAt != r.ErrorAt || r2.LastAt.Before(r.LastAt) {
		t.Fatalf("after a good reload: %+v, want a new generation and the last error kept", r2)
	}

	// The dashboard and /status show it.
	_, body, _ := get(t, http.DefaultClient, "http://"+rn.admin+"/status")
	if !strings.Contains(body, `"last_result": "success"`) || !strings.Contains(body, "bogus_key") {
		t.Errorf("/status lacks the reload status: %s", body)
	}
}

func TestSamplerTicksWithTheClockAndStopsOnClose(t *testing.T) {
	bs := startBackends(t, 1)
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	g, err := New(parseConfig(t, poolConfig("", bs...)), Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	before := clk.Waiters()
	if before != 0 {
		t.Fatalf("%d timers before the admin handler; the test expects none", before)
	}
	g.AdminHandler()
	g.AdminHandler() // a second admin handler shares the one sampler
	if n := clk.Waiters(); n != before+1 {
		t.Fatalf("%d timers after AdminHandler, want %d: one sampler ticker", n, before+1)
	}
	for i := 1; i <= 3; i++ {
		clk.Advance(routehistory.Interval)
		testkit.Eventually(t, fmt.Sprintf("sample %d", i), func() bool { return len(g.admin.Sampler().RouteSeries()["all"]) == i })
	}
	g.Close()
	// Close stops every timer of the gateway (none but the sampler's here).
	testkit.Eventually(t, "the sampler's ticker stopped by Close", func() bool { return clk.Waiters() == 0 })
}

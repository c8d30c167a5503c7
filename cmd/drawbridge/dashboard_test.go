package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/demobackend"
	"github.com/drawbridge-dev/drawbridge/internal/chromium"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// These tests run the real binary's gateway and load its admin listener's
// dashboard in headless Chromium, as an operator would.

// TestMain removes the binary testkit.Drawbridge builds once per run.
func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// gatewayProcess is a running `drawbridge gateway ...` and the addresses
// it logged.
type gatewayProcess struct {
	addr, admin string
	mu          sync.Mutex
	log         strings.Builder
}

func (g *gatewayProcess) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// startGatewayProcess runs the binary with args and waits for its
// "gateway listening" and "dashboard" log lines. SIGTERM stops it at the
// end of the test.
func startGatewayProcess(t *testing.T, bin string, args ...string) *gatewayProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DRAWBRIDGE_ADMIN_TOKEN=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	gp := &gatewayProcess{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			gp.mu.Lock()
			gp.log.WriteString(line + "\n")
			gp.mu.Unlock()
			var rec struct{ Msg, Addr, Admin, URL string }
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "gateway listening":
				gp.mu.Lock()
				gp.addr, gp.admin = rec.Addr, rec.Admin
				gp.mu.Unlock()
			case "dashboard":
				once.Do(func() { close(ready) })
			}
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("gateway did not stop on SIGTERM:\n%s", gp.logs())
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("gateway exited: %v\n%s", err, gp.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("no dashboard line logged:\n%s", gp.logs())
	}
	gp.mu.Lock()
	defer gp.mu.Unlock()
	return gp
}

// dashState reads the dashboard's feed.
func dashState(t *testing.T, admin string) dashboard.State {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/dashboard/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st dashboard.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func routeTraffic(st dashboard.State, route string) bool {
	for _, r := range st.Routes {
		if r.Name == route {
			for _, p := range r.Series {
				if p.RPS > 0 {
					return true
				}
			}
		}
	}
	return false
}

func adminPost(t *testing.T, admin, path string) {
	t.Helper()
	resp, err := http.Post("http://"+admin+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
	}
}

var (
	domBackend = regexp.MustCompile(`<tr class="backend" data-id="([^"]+)"`)
	domPool    = regexp.MustCompile(`<div class="pool-name">([^ <]+) `)
	domRoute   = regexp.MustCompile(`<tr class="route" data-name="([^"]+)" data-points="([0-9]+)"`)
	domMode    = regexp.MustCompile(`id="mode">([a-z]+)<`)
	domUpdates = regexp.MustCompile(`<body data-updates="([0-9]+)"`)
)

func allMatches(re *regexp.Regexp, dom string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestGatewayProxyDashboardInBrowser: `drawbridge gateway proxy --admin`
// serves the dashboard at / of its admin listener, and headless Chromium
// renders the pool, its backend, the route's traffic, and a drain made
// through the admin API.
func TestGatewayProxyDashboardInBrowser(t *testing.T) {
	chromium.SkipIfMissing(t)
	bin := testkit.Drawbridge(t)
	backend := httptest.NewServer(demobackend.NewHandler(demobackend.Config{ID: "web-1"}))
	defer backend.Close()
	be := strings.TrimPrefix(backend.URL, "http://")
	gp := startGatewayProcess(t, bin, "gateway", "proxy", "--listen", "127.0.0.1:0", "--to", be, "--admin", "127.0.0.1:0")

	for i := 0; i < 20; i++ {
		resp, err := http.Get("http://" + gp.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	testkit.EventuallyWithin(t, 10*time.Second, "the route's traffic sampled", func() bool { return routeTraffic(dashState(t, gp.admin), "default") })

	dom := chromium.Run(t, "http://"+gp.admin+"/", "", 1280, 900)
	if m := domMode.FindStringSubmatch(dom); m == nil || m[1] != "gateway" {
		t.Errorf("mode shown: %v, want gateway", m)
	}
	if pools := allMatches(domPool, dom); len(pools) != 1 || pools[0] != "default" {
		t.Errorf("pools shown: %v, want [default]", pools)
	}
	if bs := allMatches(domBackend, dom); len(bs) != 1 || bs[0] != be {
		t.Errorf("backends shown: %v, want [%s]", bs, be)
	}
	if rs := allMatches(domRoute, dom); len(rs) != 1 || rs[0] != "default" {
		t.Errorf("routes shown: %v, want [default]", rs)
	}
	if m := domUpdates.FindStringSubmatch(dom); m == nil || m[1] == "0" {
		t.Errorf("page not rendered from the feed: %v", m)
	}
	if !strings.Contains(dom, `data-action="drain"`) || strings.Contains(dom, ">drained<") {
		t.Errorf("backend not shown as serving with a drain button")
	}

	drained := func() bool { return dashState(t, gp.admin).Pools[0].Backends[0].Drained }
	var page *chromium.Session
	if chromium.HaveDriver() {
		// The page's own button: its request must pass the admin API's
		// cross-origin and loopback guards as a browser sends it.
		page = chromium.NewSession(t)
		page.Navigate("http://" + gp.admin + "/")
		testkit.EventuallyWithin(t, 20*time.Second, "the drain button to drain the backend", func() bool {
			_ = page.Click(`button.act[data-action="drain"]`) // re-rendered each second: retried
			return drained()
		})
	} else {
		t.Log("chromedriver not installed: draining through the API, not the page's button")
		adminPost(t, gp.admin, "/pools/default/backends/"+be+"/drain")
	}
	dom = chromium.Run(t, "http://"+gp.admin+"/", "", 1280, 900)
	if !strings.Contains(dom, ">drained<") || !strings.Contains(dom, `data-action="undrain"`) {
		t.Errorf("drained backend not shown as drained with an undrain button")
	}
	resp, err := http.Get("http://" + gp.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request with the only backend drained: %d, want 503", resp.StatusCode)
	}

	if page != nil {
		testkit.EventuallyWithin(t, 20*time.Second, "the undrain button to restore the backend", func() bool {
			_ = page.Click(`button.act[data-action="undrain"]`)
			return !drained()
		})
		if resp, err := http.Get("http://" + gp.addr + "/"); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
			t.Errorf("request after undrain: %d, want 200", resp.StatusCode)
		}
	}
}

// apiBackend answers after a latency that varies with the request number
// and fails one request in twenty-five with 503.
func apiBackend(id string) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		// A backend's own think time, not synchronisation.
		time.Sleep(time.Duration(1+i%7*3) * time.Millisecond)
		if i%25 == 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%s\n", id)
	})
}

// TestGatewayRunDashboardInBrowser runs `drawbridge gateway run` from a
// config with two routes and two pools under steady traffic, drains a
// backend and makes a bad edit to the config: the page shows each route's
// traffic and errors, the drained backend and the refused reload's
// message. With DRAWBRIDGE_SCREENSHOT set, traffic runs 40 s and the
// screenshot is saved there (docs/dashboard-gateway.png).
func TestGatewayRunDashboardInBrowser(t *testing.T) {
	chromium.SkipIfMissing(t)
	bin := testkit.Drawbridge(t)
	var addrs []string
	for _, h := range []http.Handler{apiBackend("api-1"), apiBackend("api-2"),
		demobackend.NewHandler(demobackend.Config{ID: "web-1"}), demobackend.NewHandler(demobackend.Config{ID: "web-2"})} {
		s := httptest.NewServer(h)
		defer s.Close()
		addrs = append(addrs, strings.TrimPrefix(s.URL, "http://"))
	}
	dir := t.TempDir()
	path := testkit.WriteFile(t, dir, "gateway.yaml", fmt.Appendf(nil, `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
access_log: {enabled: false}
shutdown_timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    pool: api
  - name: web
    match: {path_prefix: /}
    pool: web
pools:
  - name: api
    strategy: least_connections
    backends:
      - {id: api-1, address: %s}
      - {id: api-2, address: %s}
  - name: web
    strategy: round_robin
    backends:
      - {id: web-1, address: %s}
      - {id: web-2, address: %s}
`, addrs[0], addrs[1], addrs[2], addrs[3]))
	gp := startGatewayProcess(t, bin, "gateway", "run", "--config", path)

	// Traffic runs until the page has been checked (at most two minutes).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for w, p := range []string{"/api/orders", "/api/users", "/", "/index.html"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(15+5*w) * time.Millisecond) // pacing, bounded by ctx
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if resp, err := http.Get("http://" + gp.addr + p); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	adminPost(t, gp.admin, "/pools/web/backends/web-2/drain")
	// A bad edit: refused with FILE:LINE, the running config keeps serving.
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, dir, "gateway.yaml", append(good, "bogus_key: 1\n"...))
	testkit.EventuallyWithin(t, 15*time.Second, "the refused reload", func() bool {
		r := dashState(t, gp.admin).Reload
		return r != nil && r.Failures > 0
	})
	testkit.EventuallyWithin(t, 10*time.Second, "both routes' traffic sampled", func() bool {
		st := dashState(t, gp.admin)
		return routeTraffic(st, "api") && routeTraffic(st, "web")
	})
	// The api backends fail one request in 25: the api route's 5xx share
	// shows once each has served 25.
	testkit.EventuallyWithin(t, 30*time.Second, "the api route's 5xx sampled", func() bool {
		for _, r := range dashState(t, gp.admin).Routes {
			for _, p := range r.Series {
				if r.Name == "api" && p.ErrorRate > 0 {
					return true
				}
			}
		}
		return false
	})
	shot := os.Getenv("DRAWBRIDGE_SCREENSHOT")
	if shot != "" {
		// Forty seconds of history make a readable picture.
		testkit.EventuallyWithin(t, time.Minute, "40 s of samples", func() bool {
			for _, r := range dashState(t, gp.admin).Routes {
				if len(r.Series) < 40 {
					return false
				}
			}
			return true
		})
	}

	dom := chromium.Run(t, "http://"+gp.admin+"/", "", 1280, 900)
	if rs := allMatches(domRoute, dom); len(rs) != 2 || rs[0] != "api" || rs[1] != "web" {
		t.Errorf("routes shown: %v, want [api web]", rs)
	}
	if bs := allMatches(domBackend, dom); strings.Join(bs, " ") != "api-1 api-2 web-1 web-2" {
		t.Errorf("backends shown: %v", bs)
	}
	if !strings.Contains(dom, ">drained<") {
		t.Error("web-2 not shown as drained")
	}
	if m := regexp.MustCompile(`<pre id="reload-error">([^<]*)</pre>`).FindStringSubmatch(dom); m == nil ||
		!strings.Contains(m[1], "gateway.yaml:") || !strings.Contains(m[1], "bogus_key") {
		t.Errorf("refused reload's message not shown: %v", m)
	}
	if !strings.Contains(dom, `class="spark-err" points="`) {
		t.Error("no error-rate sparkline")
	}
	for _, r := range dashState(t, gp.admin).Routes {
		for _, p := range r.Series {
			if r.Name == "web" && p.ErrorRate != 0 {
				t.Errorf("web route: 5xx share %v at %d, its backends never fail", p.ErrorRate, p.T)
			}
		}
	}
	if shot != "" {
		chromium.Run(t, "http://"+gp.admin+"/", shot, 1280, 900)
		t.Logf("screenshot: %s", shot)
	}
}

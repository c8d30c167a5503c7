package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// Reloading the configuration while clients hammer the gateway must not
// fail a single request: membership changes apply in place and removed
// backends finish what they have in flight.
func TestReloadUnderLoadFailsNoRequest(t *testing.T) {
	bs := startBackends(t, 3)
	cfgFor := func(strategy string, members ...*testkit.HTTPBackend) string {
		return poolConfig("strategy: "+strategy, members...)
	}
	g, gw := startGateway(t, parseConfig(t, cfgFor("round_robin", bs[0], bs[1])), Options{})

	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	l := startLoad(ctx, gw.URL+"/", 8, 100000)
	sets := [][]*testkit.HTTPBackend{{bs[1], bs[2]}, {bs[0], bs[2]}, {bs[0], bs[1], bs[2]}, {bs[2]}, {bs[0], bs[1]}}
	strategies := []string{"least_connections", "random", "round_robin", "power_of_two", "weighted_round_robin"}
	for i := 0; i < 30; i++ {
		// Let some traffic through between reloads.
		target := l.ok.Load() + 50
		testkit.Eventually(t, "traffic between reloads", func() bool { return l.ok.Load() >= target })
		cfg := parseConfig(t, cfgFor(strategies[i%len(strategies)], sets[i%len(sets)]...))
		if err := g.Apply(cfg); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	stopLoad()
	l.wait()
	t.Logf("reloads: 30, requests ok: %d, failed: %d", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("%d requests failed during reloads; first: %v", l.failed.Load(), l.firstErr.Load())
	}
}

// startSlowBackend serves one request that answers body only once release
// is closed; started is closed when that request arrives.
func startSlowBackend(t *testing.T, body string) (be *testkit.HTTPBackend, started, release chan struct{}) {
	started, release = make(chan struct{}), make(chan struct{})
	be = startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = w.Write([]byte(body))
	}))
	return be, started, release
}

// A backend removed while a request is in flight on it finishes that
// request; it takes no new ones.
func TestRemovedBackendDrainsInFlight(t *testing.T) {
	slow, started, release := startSlowBackend(t, "slow done")
	fast := startBackends(t, 1)[0]
	g, gw := startGateway(t, parseConfig(t, poolConfig("", slow)), Options{})

	result := getAsync(gw.Client(), gw.URL+"/")
	<-started
	if err := g.Apply(parseConfig(t, poolConfig("", fast))); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, gw.Client(), gw.URL+"/"); code != 200 || body != "b0\n" {
		t.Fatalf("new request went to %d %q, want the remaining backend", code, body)
	}
	close(release)
	if got := <-result; got != "200 slow done" {
		t.Fatalf("in-flight request on the removed backend: %q", got)
	}
}

type running struct {
	addr, admin, https string
	g                  *Gateway
	cancel             context.CancelFunc
	done               chan error
	log                *testkit.Buffer
}

func runGateway(t *testing.T, path string, reload chan struct{}) *running {
	t.Helper()
	logs := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &running{cancel: cancel, done: make(chan error, 1), log: logs}
	ready := make(chan struct{})
	r := &Runner{ConfigPath: path, Reload: reload, Options: Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))},
		Ready: func(l Listeners, g *Gateway) {
			rn.addr, rn.g = l.HTTP.String(), g
			if l.Admin != nil {
				rn.admin = l.Admin.String()
			}
			if l.HTTPS != nil {
				rn.https = l.HTTPS.String()
			}
			close(ready)
		}}
	go func() { rn.done <- r.Run(ctx) }()
	testkit.Started(t, ready, rn.done, "the gateway")
	t.Cleanup(func() {
		cancel()
		<-rn.done
	})
	return rn
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(body, "\t", "  ")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as config managers do
		t.Fatal(err)
	}
}

// runWithConfigFile runs a gateway on a file holding runnerConfig(backend);
// the test may rewrite the file and send on reload (SIGHUP).
func runWithConfigFile(t *testing.T, backend string) (rn *running, path string, reload chan struct{}) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, runnerConfig(backend)+runnerEngine())
	reload = make(chan struct{}, 1)
	return runGateway(t, path, reload), path, reload
}

func runnerConfig(backend string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
access_log: {enabled: false}
shutdown_timeout: 5s
routes:
	- name: all
		pool: p
pools:
	- name: p
		backends: [{address: %s}]
`, backend)
}

func TestReloadOnFileChangeAndSignal(t *testing.T) {
	bs := startBackends(t, 2)
	rn, path, reload := runWithConfigFile(t, bs[0].Addr())
	c := &http.Client{}
	url := "http://" + rn.addr + "/"
	if _, body, _ := get(t, c, url); body != "b0\n" {
		t.Fatalf("initial: %q", body)
	}

	writeConfig(t, path, runnerConfig(bs[1].Addr()))
	testkit.Eventually(t, "file change applied", func() bool { _, body, _ := get(t, c, url); return body == "b1\n" })

	// An invalid config is refused with file and line; the old one serves.
	gen := rn.g.Status().Generation
	writeConfig(t, path, runnerConfig(bs[0].Addr())+"\t\tbogus_key: 1\n")
	reload <- struct{}{} // SIGHUP path as well as the watcher
	testkit.Eventually(t, "refusal logged", func() bool { return strings.Contains(rn.log.String(), "config reload refused") })
	logs := rn.log.String()
	if !strings.Contains(logs, path+":11:") || !strings.Contains(logs, "bogus_key") {
		t.Fatalf("refusal does not name file:line and key:\n%s", logs)
	}
	if code, body, _ := get(t, c, url); body != "b1\n" || rn.g.Status().Generation != gen {
		t.Fatalf("old config should keep serving: got %d %q, generation %d (was %d)\n%s",
			code, body, rn.g.Status().Generation, gen, rn.log.String())
	}

	// SIGHUP after fixing the file applies it.
	writeConfig(t, path, runnerConfig(bs[0].Addr()))
	reload <- struct{}{}
	testkit.Eventually(t, "fixed config applied", func() bool { _, body, _ := get(t, c, url); return body == "b0\n" })
}

// SIGTERM: stop accepting, finish what is in flight, then exit.
func TestGracefulShutdownDrains(t *testing.T) {
	slow, started, release := startSlowBackend(t, "finished")
	rn, _, _ := runWithConfigFile(t, slow.Addr())

	result := getAsync(http.DefaultClient, "http://"+rn.addr+"/")
	<-started
	rn.cancel()
	testkit.Eventually(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", rn.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if !rn.g.Draining() {
		t.Fatal("gateway not marked draining")
	}
	select {
	case err := <-rn.done:
		t.Fatalf("Run returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	if got := <-result; got != "200 finished" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-rn.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rn.done <- nil // for the cleanup
}

// A file read by ${file:} is watched like the config itself.
func TestReloadOnSubstitutedFileChange(t *testing.T) {
	bs := startBackends(t, 2)
	dir := t.TempDir()
	addr := filepath.Join(dir, "backend.addr")
	writeConfig(t, addr, bs[0].Addr()+"\n")
	path := filepath.Join(dir, "gateway.yaml")
	// Quoted: a bare ${ would end the flow mapping {address: ...}.
	writeConfig(t, path, runnerConfig(`"${file:backend.addr}"`))
	rn := runGateway(t, path, make(chan struct{}, 1))
	c := &http.Client{}
	url := "http://" + rn.addr + "/"
	if _, body, _ := get(t, c, url); body != "b0\n" {
		t.Fatalf("initial: %q", body)
	}
	writeConfig(t, addr, bs[1].Addr()+"\n")
	testkit.Eventually(t, "substituted file change applied", func() bool { _, body, _ := get(t, c, url); return body == "b1\n" })
}

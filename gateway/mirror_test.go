package gateway

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// mirrorConfig routes to primary and mirrors to shadow with the given
// mirror settings.
func mirrorConfig(primary, shadow *testkit.HTTPBackend, mirror string) string {
	return twoPoolConfig("\t\tpool: p\n\t\tmirror: {pool: shadow, "+mirror+"}\n", "p", primary, "shadow", shadow)
}

// mirrored reads the route's drawbridge_mirror_requests_total by outcome.
func mirrored(t *testing.T, g *Gateway) map[string]int {
	t.Helper()
	mfs, err := g.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "drawbridge_mirror_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] = int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// A shadow that hangs and then breaks its connections changes nothing for
// the client: every answer is the primary's, none waits for the shadow,
// copies beyond max_in_flight are dropped and counted, and the broken ones
// are counted as failed.
func TestMirrorShadowNeverReachesTheClient(t *testing.T) {
	primary := startBackends(t, 1)[0]
	release := make(chan struct{})
	var arrived atomic.Int64
	shadow := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		panic(http.ErrAbortHandler) // the connection breaks without an answer
	}))
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	g, gw := startGateway(t, parseConfig(t, mirrorConfig(primary, shadow, "percent: 100, max_in_flight: 4, timeout: 1m")), Options{})
	c := gw.Client()
	// Were the client to wait on the shadow, the first request would hang
	// past this bound: the shadow answers nothing until release.
	c.Timeout = 10 * time.Second
	const n = 20
	for i := 0; i < n; i++ {
		if status, body, _ := get(t, c, gw.URL+"/"); status != 200 || strings.TrimSpace(body) != "b0" {
			t.Fatalf("request %d: %d %q, want the primary's 200 b0", i, status, body)
		}
	}
	testkit.Eventually(t, "the shadow holds max_in_flight copies", func() bool { return arrived.Load() == 4 })
	if m := mirrored(t, g); m["dropped"] != n-4 {
		t.Fatalf("mirror outcomes %v, want %d dropped", m, n-4)
	}
	close(release)
	released = true
	testkit.Eventually(t, "the broken copies are counted as failed", func() bool {
		m := mirrored(t, g)
		return m["failed"] == 4 && m["sent"] == 0
	})
}

// The shadow receives about percent of the requests (that a request with
// a body is never copied is mirror's unit test).
func TestMirrorSendsItsShare(t *testing.T) {
	primary := startBackends(t, 1)[0]
	var hits atomic.Int64
	shadow := startHandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "shadow")
	}))
	g, gw := startGateway(t, parseConfig(t, mirrorConfig(primary, shadow, "percent: 25")), Options{})
	c := gw.Client()
	const n = 4000
	for i := 0; i < n; i++ {
		if status, body, _ := get(t, c, gw.URL+"/"); status != 200 || strings.TrimSpace(body) != "b0" {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
	var m map[string]int
	testkit.Eventually(t, "every copy sent is counted", func() bool {
		m = mirrored(t, g)
		return int64(m["sent"]) == hits.Load() && m["failed"] == 0
	})
	// 1,000 expected; 120 is about 4.4 standard deviations.
	if copies := m["sent"] + m["dropped"]; copies < 880 || copies > 1120 {
		t.Fatalf("mirror outcomes %v for %d requests at 25%%", m, n)
	}
}

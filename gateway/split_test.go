package gateway

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// twoPoolConfig is one route "all", its keys in route (tab-indented
// lines), over pools a and b of one backend each.
func twoPoolConfig(route, a string, ba *testkit.HTTPBackend, b string, bb *testkit.HTTPBackend) string {
	return fmt.Sprintf(`access_log: {enabled: false}
admin: {enabled: false}
routes:
	- name: all
%spools:
	- name: %s
		backends: [{address: %s}]
	- name: %s
		backends: [{address: %s}]
`, route, a, ba.Addr(), b, bb.Addr())
}

// splitConfig is a route split 70/30 across two one-backend pools.
func splitConfig(v1, v2 *testkit.HTTPBackend, sticky string) string {
	return twoPoolConfig("\t\tsplit: [{pool: v1, weight: 70}, {pool: v2, weight: 30}]\n"+sticky, "v1", v1, "v2", v2)
}

// Over 10,000 requests through a real gateway each pool's share is within
// 3 points of its weight's.
func TestSplitSharesFollowWeights(t *testing.T) {
	bs := startBackends(t, 2)
	_, gw := startGateway(t, parseConfig(t, splitConfig(bs[0], bs[1], "")), Options{})
	const n, workers = 10_000, 4
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		failed = make(chan string, workers)
	)
	c := gw.Client()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for i := 0; i < n/workers; i++ {
				resp, err := c.Get(gw.URL + "/")
				if err != nil {
					failed <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				local[strings.TrimSpace(string(body))]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Fatal(f)
	}
	if counts["b0"]+counts["b1"] != n {
		t.Fatalf("answers %v, want %d from b0 and b1", counts, n)
	}
	for name, want := range map[string]float64{"b0": 0.70, "b1": 0.30} {
		if got := float64(counts[name]) / n; math.Abs(got-want) > 0.03 {
			t.Errorf("%s got %.3f of the requests, weight says %.2f (counts %v)", name, got, want, counts)
		}
	}
}

// A sticky split sends every request with the same key to the same pool,
// spreads distinct keys by weight, and still serves requests without one.
func TestSplitStickyByHeader(t *testing.T) {
	bs := startBackends(t, 2)
	_, gw := startGateway(t, parseConfig(t, splitConfig(bs[0], bs[1], "\t\tsplit_sticky: {header: X-User}\n")), Options{})
	c := gw.Client()
	send := func(user string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", gw.URL+"/", nil)
		if user != "" {
			req.Header.Set("X-User", user)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	const users = 1000
	perPool := map[string]int{}
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user-%d", u)
		first := send(user)
		for i := 0; i < 3; i++ {
			if got := send(user); got != first {
				t.Fatalf("%s went to %s, then to %s", user, first, got)
			}
		}
		perPool[first]++
	}
	// 1,000 keys: 0.30 ± 0.07 is more than 4.5 standard deviations.
	if share := float64(perPool["b1"]) / users; math.Abs(share-0.30) > 0.07 {
		t.Fatalf("keys per pool %v, want about 70/30", perPool)
	}
	if got := send(""); got != "b0" && got != "b1" {
		t.Fatalf("a request without the key got %q", got)
	}
}

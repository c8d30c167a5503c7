package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// A reload that changes only a backend's weight keeps the backend (its
// slow start, in-flight count and counters), logs the weight change and no
// removal or addition, and the strategy picks by the new weight.
func TestReloadChangingOnlyAWeightKeepsTheBackend(t *testing.T) {
	bs := startBackends(t, 2)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	logs := &testkit.Buffer{}
	cfgWith := func(members string) string {
		return poolConfigAddrs("strategy: weighted_round_robin\nslow_start: 30s") +
			strings.ReplaceAll(members, "\t", "  ")
	}
	b0, b1 := bs[0].Addr(), bs[1].Addr()
	g, gw := startGateway(t, parseConfig(t, cfgWith(fmt.Sprintf("\t\t\t- {address: %s}\n", b0))),
		Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	// b1 joins a running pool: it ramps up over 30s.
	if err := g.Apply(parseConfig(t, cfgWith(fmt.Sprintf("\t\t\t- {address: %s}\n\t\t\t- {address: %s}\n", b0, b1)))); err != nil {
		t.Fatal(err)
	}
	p := g.Pool("p")
	joined := p.Backend(b1)
	clk.Advance(15 * time.Second)
	now := clk.Now().UnixNano()
	ramp := joined.SlowStartFactor(now)
	if ramp >= 1 || ramp <= 0.1 {
		t.Fatalf("half way through slow start the factor is %v", ramp)
	}
	get(t, gw.Client(), gw.URL+"/")
	joined.Acquire() // in flight across the reload
	defer joined.Release()
	requests := joined.Requests.Load() + p.Backend(b0).Requests.Load()

	before := len(logs.String())
	if err := g.Apply(parseConfig(t, cfgWith(fmt.Sprintf("\t\t\t- {address: %s}\n\t\t\t- {address: %s, weight: 3}\n", b0, b1)))); err != nil {
		t.Fatal(err)
	}
	reload := logs.String()[before:]
	if p.Backend(b1) != joined || joined.Weight() != 3 || joined.Inflight() != 1 ||
		joined.Requests.Load()+p.Backend(b0).Requests.Load() != requests {
		t.Fatalf("the reweighted backend was replaced or lost its state (weight %d, in flight %d)", joined.Weight(), joined.Inflight())
	}
	if f := joined.SlowStartFactor(now); f != ramp {
		t.Fatalf("slow start restarted: factor %v, was %v", f, ramp)
	}
	if strings.Contains(reload, "backend removed") || strings.Contains(reload, "backend added") ||
		!strings.Contains(reload, `msg="backend weight changed" pool=p backend=`+b1+` address=`+b1+` old=1 new=3`) {
		t.Fatalf("reload log:\n%s", reload)
	}

	// Past the ramp, weighted round robin sends 3 of every 4 requests to b1.
	clk.Advance(time.Minute)
	counts := map[string]int{}
	for i := 0; i < 40; i++ {
		_, body, _ := get(t, gw.Client(), gw.URL+"/")
		counts[strings.TrimSpace(body)]++
	}
	if counts["b0"] != 10 || counts["b1"] != 30 {
		t.Fatalf("picks after the reweight: %v, want b0 10, b1 30", counts)
	}
}

// Command openloop is the constant-rate (open-loop) load generator of the
// bench scripts: request i is due at start + i/rate whatever happened to the
// earlier ones, and its latency is measured from that intended send time, not
// from when a connection got free to send it. A proxy that stalls therefore
// pays for every request that queued behind the stall (no coordinated
// omission, the flaw of closed-loop tools such as wrk). It prints one JSON
// object with the latency percentiles.
//
//	openloop --addr 127.0.0.1:8080 --path / --rate 20000 --duration 10s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/bench/internal/h1"
)

type report struct {
	Rate        float64 `json:"rate"`
	DurationS   float64 `json:"duration_s"`
	Conns       int     `json:"conns"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Non2xx      int     `json:"non_2xx"`
	AchievedRPS float64 `json:"achieved_rps"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	P999        float64 `json:"p999_ms"`
	Max         float64 `json:"max_ms"`
	// LateP99 is the p99 of how late a request was sent (all connections
	// busy, or the generator itself starved): large values mean the
	// generator, not only the proxy, fell behind.
	LateP99  float64 `json:"send_late_p99_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

func main() {
	addr := flag.String("addr", "", "host:port of the target (required)")
	path := flag.String("path", "/", "request path")
	rate := flag.Float64("rate", 1000, "requests per second")
	dur := flag.Duration("duration", 10*time.Second, "measured time")
	warm := flag.Duration("warmup", time.Second, "unmeasured time at the same rate first")
	conns := flag.Int("conns", 64, "connections (a request waits for a free one; the wait counts)")
	closeConn := flag.Bool("close", false, "send Connection: close (a new connection per request)")
	flag.Parse()
	if *addr == "" || *rate <= 0 || *conns < 1 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "openloop: need --addr, --rate > 0, --conns >= 1, --duration > 0")
		os.Exit(2)
	}

	interval := float64(time.Second) / *rate
	total := int64(float64(*warm+*dur) / interval)
	skip := int64(float64(*warm) / interval)
	start := time.Now().Add(10 * time.Millisecond)
	var next atomic.Int64
	type result struct {
		lat, late []time.Duration
		errs, bad int
		firstErr  string
	}
	results := make([]result, *conns)
	var wg sync.WaitGroup
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			c := h1.New(*addr, *path, *closeConn, "")
			defer c.Close()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				due := start.Add(time.Duration(float64(i) * interval))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				sent := time.Now()
				err := c.Get()
				done := time.Now()
				if i < skip {
					continue
				}
				switch {
				case err != nil:
					r.errs++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
				case c.Status >= 400:
					r.bad++
				}
				r.lat = append(r.lat, done.Sub(due))
				r.late = append(r.late, sent.Sub(due))
			}
		}(&results[w])
	}
	wg.Wait()
	elapsed := time.Since(start.Add(*warm))

	var lat, late []time.Duration
	rep := report{Rate: *rate, DurationS: dur.Seconds(), Conns: *conns}
	for _, r := range results {
		lat = append(lat, r.lat...)
		late = append(late, r.late...)
		rep.Errors += r.errs
		rep.Non2xx += r.bad
		if rep.FirstErr == "" {
			rep.FirstErr = r.firstErr
		}
	}
	slices.Sort(lat)
	slices.Sort(late)
	rep.Requests = len(lat)
	rep.AchievedRPS = float64(len(lat)) / elapsed.Seconds()
	rep.P50, rep.P90, rep.P99, rep.P999 = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 0.999)
	rep.Max = pct(lat, 1)
	rep.LateP99 = pct(late, 0.99)
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		os.Exit(1)
	}
}

// pct is the q-quantile of sorted d in milliseconds (nearest rank).
func pct(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.5) - 1
	i = max(0, min(i, len(d)-1))
	return float64(d[i].Microseconds()) / 1000
}

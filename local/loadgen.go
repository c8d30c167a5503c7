package local

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// loadGen sends GET requests to the gateway at a rate that follows a
// schedule (open loop: the rate does not drop when answers slow down,
// up to maxInFlight requests at once), and records what clients see.
type loadGen struct {
	url    string
	rate   func(elapsed time.Duration) float64 // requests/s wanted now
	client *http.Client

	requests atomic.Int64 // answered (any outcome), excluding requests cut by shutdown
	errors   atomic.Int64 // transport errors and non-200 answers

	mu        sync.Mutex
	total     histogram
	window    histogram // since the last takeWindow
	backends  map[string]int64
	lastError string
}

const maxInFlight = 128

func newLoadGen(url string, rate func(time.Duration) float64) *loadGen {
	tr := &http.Transport{MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: 30 * time.Second}
	return &loadGen{
		url: url, rate: rate,
		client:   &http.Client{Transport: tr, Timeout: 10 * time.Second},
		backends: map[string]int64{},
	}
}

// run generates load until ctx ends and every request it sent has
// finished.
func (g *loadGen) run(ctx context.Context) {
	defer g.client.CloseIdleConnections()
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	last := start
	owed := 0.0 // requests due but not yet sent (fractional)
	clock.Every(ctx, clock.Real{}, 10*time.Millisecond, func(now time.Time) {
		owed += g.rate(now.Sub(start)) * now.Sub(last).Seconds()
		last = now
		for ; owed >= 1; owed-- {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				g.one(ctx)
			}()
		}
	})
}

func (g *loadGen) one(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return
	}
	t0 := time.Now()
	resp, err := g.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return // cut by shutdown: neither served nor failed
	}
	lat := time.Since(t0)
	g.requests.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total.add(lat)
	g.window.add(lat)
	switch {
	case err != nil:
		g.errors.Add(1)
		g.lastError = err.Error()
	case resp.StatusCode != http.StatusOK:
		g.errors.Add(1)
		g.lastError = fmt.Sprintf("status %d from %s", resp.StatusCode, resp.Header.Get("X-Backend-Id"))
	default:
		g.backends[resp.Header.Get("X-Backend-Id")]++
	}
}

// takeWindow returns the p99 latency since the previous call and starts
// a new window.
func (g *loadGen) takeWindow() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.window.quantile(0.99)
	g.window = histogram{}
	return p
}

// results is what the clients saw over the whole run.
func (g *loadGen) results() (p99 time.Duration, backends map[string]int64, lastErr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	backends = make(map[string]int64, len(g.backends))
	for k, v := range g.backends {
		backends[k] = v
	}
	return g.total.quantile(0.99), backends, g.lastError
}

// histogram counts latencies in logarithmic buckets 5% wide, from 20 µs
// to about a minute: quantiles within 5% in constant memory, however
// long local mode runs.
type histogram struct {
	n       int64
	buckets [histBuckets]int64
}

const (
	histBuckets = 310
	histBase    = 20 * time.Microsecond
	histGrowth  = 1.05
)

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > histBase {
		i = int(math.Log(float64(d)/float64(histBase)) / math.Log(histGrowth))
	}
	h.buckets[min(i, histBuckets-1)]++
	h.n++
}

// quantile returns the upper bound of the bucket holding quantile q (0
// when empty).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.buckets {
		seen += c
		if seen >= rank {
			return time.Duration(float64(histBase) * math.Pow(histGrowth, float64(i+1)))
		}
	}
	return time.Duration(float64(histBase) * math.Pow(histGrowth, histBuckets))
}

package admin

import (
	"sync"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
	"github.com/drawbridge-dev/drawbridge/gateway/routehistory"
)

// History is what the admin listener shows beyond the request path's own
// state: the reload history and the per-route samples. The zero value is
// ready to use.
type History struct {
	mu      sync.Mutex
	reload  dashboard.Reload
	sampler *routehistory.Sampler
	stop    chan struct{}
}

// SetConfigFile names the file the configuration is loaded and reloaded
// from ("" when it is built in memory).
func (h *History) SetConfigFile(path string) {
	h.mu.Lock()
	h.reload.File = path
	h.mu.Unlock()
}

// NoteReload records the outcome of a reload at now; err is why it was
// refused, nil when it took effect.
func (h *History) NoteReload(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reload.Attempts++
	h.reload.LastAt = now
	h.reload.LastResult = "success"
	if err != nil {
		h.reload.Failures++
		h.reload.LastResult = "failure"
		h.reload.LastError = err.Error()
		h.reload.ErrorAt = now
	}
}

// Reload is the reload history; the caller fills in the generation.
func (h *History) Reload() dashboard.Reload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reload
}

// StartSampler samples the route counters once a second until
// StopSampler; repeated calls keep the one sampler.
func (h *History) StartSampler(m *pool.Metrics, pools func() []*pool.Pool, clk clock.Clock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sampler != nil {
		return
	}
	s := routehistory.New(m, pools, clk.Now())
	h.sampler, h.stop = s, make(chan struct{})
	t, stop := clk.NewTicker(routehistory.Interval), h.stop
	go func() {
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C():
				s.Sample(now)
			}
		}
	}()
}

// StopSampler ends the sampling; the samples taken stay readable.
func (h *History) StopSampler() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
}

// Sampler is the route sampler, nil before StartSampler.
func (h *History) Sampler() *routehistory.Sampler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sampler
}

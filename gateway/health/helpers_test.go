package health

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// statusHang makes an endpoint hold the request until the client gives up.
const statusHang = 0

// endpoint is a loopback HTTP server whose health answer the test flips.
type endpoint struct {
	*testkit.HTTPBackend
	status  atomic.Int32 // code to answer with, or statusHang
	release chan struct{}

	mu       sync.Mutex
	lastReq  *http.Request
	closeOne sync.Once
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	e := &endpoint{release: make(chan struct{})}
	e.status.Store(http.StatusOK)
	e.HTTPBackend = testkit.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.lastReq = r
		e.mu.Unlock()
		code := int(e.status.Load())
		if code == statusHang {
			select {
			case <-r.Context().Done():
			case <-e.release:
			}
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(e.close)
	return e
}

func (e *endpoint) set(code int) { e.status.Store(int32(code)) }

// close frees hung handlers and shuts the server; later probes are refused.
func (e *endpoint) close() {
	e.closeOne.Do(func() {
		close(e.release)
		e.Kill()
	})
}

func (e *endpoint) backend(id string) *upstream.Backend {
	return upstream.New(upstream.Spec{ID: id, Address: e.Addr()})
}

func (e *endpoint) request() *http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastReq
}

// change is one OnChange call.
type change struct {
	b       *upstream.Backend
	healthy bool
	reason  string
}

// recorder collects OnChange calls.
type recorder struct{ testkit.Log[change] }

func (r *recorder) hook(b *upstream.Backend, healthy bool, reason string) {
	r.Add(change{b, healthy, reason})
}

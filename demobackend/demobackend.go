// Package demobackend is the small example backend app behind
// `drawbridge backend`: it answers every request with its id, serves
// /healthz, and can add latency. Examples, local mode, tests and benchmarks
// put it behind the gateway.
package demobackend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Config describes one backend instance.
type Config struct {
	ID      string
	Latency time.Duration // added before every answer except /healthz
}

// Handler answers with the backend id in the body and in X-Backend-Id.
type Handler struct {
	id      string
	body    []byte
	latency time.Duration
	served  atomic.Uint64
	healthy atomic.Bool
}

// NewHandler builds the handler for c.
func NewHandler(c Config) *Handler {
	h := &Handler{id: c.ID, body: []byte(c.ID + "\n"), latency: c.Latency}
	h.healthy.Store(true)
	return h
}

// Served is how many non-health requests were answered.
func (h *Handler) Served() uint64 { return h.served.Load() }

// SetHealthy flips what /healthz answers (200 or 503).
func (h *Handler) SetHealthy(ok bool) { h.healthy.Store(ok) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["X-Backend-Id"] = []string{h.id}
	if r.URL.Path == "/healthz" {
		if !h.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unhealthy\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	if h.latency > 0 {
		t := time.NewTimer(h.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h.served.Add(1)
	hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(h.body))}
	_, _ = w.Write(h.body)
}

// Serve runs the backend on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
		return err
	}
}

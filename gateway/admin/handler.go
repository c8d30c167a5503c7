package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drawbridge-dev/drawbridge/dashboard"
	"github.com/drawbridge-dev/drawbridge/gateway/adminguard"
	"github.com/drawbridge-dev/drawbridge/gateway/pool"
)

// Gateway is what the admin API reads, and changes, of a running gateway.
type Gateway interface {
	Status() Status
	Draining() bool
	Pool(name string) *pool.Pool // nil when there is none of that name
	DashboardState() dashboard.State
}

// Options are the admin handler's dependencies beside the gateway.
type Options struct {
	Registry *prometheus.Registry // served at /metrics
	Token    string               // admits changes from non-loopback clients (adminguard)
	// Routes are extra handlers by ServeMux pattern; one for
	// "GET /dashboard/" replaces the gateway's dashboard (local mode).
	Routes map[string]http.Handler
	Now    func() time.Time
}

// Handler serves /metrics, /healthz, /readyz, /status, the dashboard
// (/ redirects to /dashboard/) and the drain API:
//
//	POST /pools/{pool}/backends/{backend}/drain
//	POST /pools/{pool}/backends/{backend}/undrain
//
// Reads are open to whoever reaches the admin listener (loopback by
// default), as Prometheus scrapes /metrics from another host. Changes are
// guarded by adminguard.Changes.
func Handler(g Gateway, o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if g.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, g.Status())
	})
	// Profiling, as Caddy and Envoy offer on their admin endpoints; the admin
	// listener is loopback-only unless configured otherwise.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)

	guard := adminguard.Changes(o.Token)
	for verb, on := range map[string]bool{"drain": true, "undrain": false} {
		mux.Handle("POST /pools/{pool}/backends/{backend}/"+verb, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serveDrain(w, r, g, o.Now(), on)
		})))
	}

	if _, ok := o.Routes["GET /dashboard/"]; !ok {
		mux.Handle("GET /dashboard/", dashboard.Handler(g.DashboardState))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusFound)
	})
	for pattern, h := range o.Routes {
		mux.Handle(pattern, h)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveDrain drains (on) or undrains a backend: a drained backend takes
// no new requests and finishes those in flight, as one removed by a
// reload does; undrained, it ramps up again through slow start. The state
// survives reloads while the backend stays in its pool.
func serveDrain(w http.ResponseWriter, r *http.Request, g Gateway, now time.Time, on bool) {
	name, id := r.PathValue("pool"), r.PathValue("backend")
	p := g.Pool(name)
	if p == nil {
		http.Error(w, "no pool "+name, http.StatusNotFound)
		return
	}
	if !p.SetDrained(id, on, r.RemoteAddr) {
		http.Error(w, "pool "+name+" has no backend "+id, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, p.Status(now))
}

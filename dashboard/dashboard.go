// Package dashboard is the web UI served on the gateway's admin listener.
// In every mode it shows pools and backends (with drain and undrain),
// per-route traffic, error rate and latency over time, and the reload
// status; local mode adds autoscaler groups, load against capacity and
// forecast, and the decision log. The page is plain HTML, CSS and
// JavaScript embedded in the binary (no CDN, no build step); it polls a
// JSON snapshot, the State, once a second.
package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"
)

//go:embed assets
var assets embed.FS

// State is the snapshot the page renders (GET /dashboard/api/state).
type State struct {
	// Mode is "local" or "gateway": local mode has the load generator and
	// the autoscaler, the gateway alone has neither.
	Mode      string     `json:"mode"`
	Time      time.Time  `json:"time"`
	Started   time.Time  `json:"started"`
	URLs      URLs       `json:"urls"`
	Load      Load       `json:"load"`
	Pools     []Pool     `json:"pools"`
	Groups    []Group    `json:"groups"`
	Series    []Point    `json:"series"`   // one point per second, oldest first
	Forecast  []Forecast `json:"forecast"` // may extend past now
	Decisions []Decision `json:"decisions"`
	Routes    []Route    `json:"routes"`
	Reload    *Reload    `json:"reload,omitempty"`
	// Listen is the gateway's client address as configured (":8080").
	Listen string `json:"listen,omitempty"`
}

// Route is one route's traffic as the gateway counted it.
type Route struct {
	Name  string `json:"name"`
	Match string `json:"match"` // host and path prefix, as configured
	Pool  string `json:"pool"`
	// Series is one point per sampling interval, oldest first; the last
	// point is the route's current rate.
	Series []RoutePoint `json:"series"`
}

// RoutePoint is a route's traffic over one sampling interval.
type RoutePoint struct {
	T         int64   `json:"t"` // Unix milliseconds at the interval's end
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"` // share of responses that were 5xx, 0..1
	P50MS     float64 `json:"p50_ms"`     // 0 when the interval had no request
	P99MS     float64 `json:"p99_ms"`
}

// Reload is the configuration's reload status.
type Reload struct {
	Generation uint64    `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`              // when the serving configuration was applied
	File       string    `json:"file,omitempty"`         // "" when there is no config file
	Attempts   uint64    `json:"attempts"`               // reloads tried since start
	Failures   uint64    `json:"failures"`               // of which refused
	LastResult string    `json:"last_result,omitempty"`  // "success", "failure", or "" before any reload
	LastAt     time.Time `json:"last_at,omitzero"`       // zero before any reload
	LastError  string    `json:"last_error,omitempty"`   // the latest refusal, kept after a later success
	ErrorAt    time.Time `json:"last_error_at,omitzero"` // zero when none
}

// URLs are where local mode serves.
type URLs struct {
	Gateway   string `json:"gateway"`
	Admin     string `json:"admin"`
	Dashboard string `json:"dashboard"`
}

// Load is the load generator's view: what clients asked for and saw.
type Load struct {
	Pattern   string  `json:"pattern"`
	Speed     float64 `json:"speed"`
	TargetRPS float64 `json:"target_rps"` // the replayed demand now
	RPS       float64 `json:"rps"`        // answered over the last second
	P99MS     float64 `json:"p99_ms"`     // over the last second
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	LastError string  `json:"last_error,omitempty"`
}

// Pool is a gateway pool.
type Pool struct {
	Name      string    `json:"name"`
	Strategy  string    `json:"strategy"`
	Available int       `json:"available"`
	Backends  []Backend `json:"backends"`
}

// Backend is one backend as the gateway sees it.
type Backend struct {
	ID        string  `json:"id"`
	Address   string  `json:"address"`
	Available bool    `json:"available"`
	Healthy   bool    `json:"healthy"`
	Ejected   bool    `json:"ejected"`
	Circuit   string  `json:"circuit"`
	Inflight  int64   `json:"inflight"`
	Requests  uint64  `json:"requests"`
	Failures  uint64  `json:"failures"`
	RPS       float64 `json:"rps"`
	LatencyMS float64 `json:"latency_ms"`
	// Drained is set by the admin API: the backend takes no new requests.
	Drained bool `json:"drained"`
}

// Group is an autoscaler group.
type Group struct {
	Name              string    `json:"name"`
	Min               int       `json:"min"`
	Max               int       `json:"max"`
	Current           int       `json:"current"`
	Desired           int       `json:"desired"`
	InService         int       `json:"in_service"`
	Warming           int       `json:"warming"`
	TargetPerInstance float64   `json:"target_per_instance"`
	Policies          []string  `json:"policies"`
	LastDecision      *Decision `json:"last_decision,omitempty"`
}

// Point is one second of the run.
type Point struct {
	T         int64   `json:"t"`        // Unix milliseconds
	Demand    float64 `json:"demand"`   // replayed demand, req/s
	Load      float64 `json:"load"`     // answered, req/s
	Capacity  float64 `json:"capacity"` // in-service instances × target per instance, req/s
	Instances int     `json:"instances"`
}

// Forecast is one forecast value.
type Forecast struct {
	T     int64   `json:"t"`
	Value float64 `json:"value"`
}

// Decision is a capacity change and why it was made.
type Decision struct {
	Time      time.Time `json:"time"`
	Group     string    `json:"group"`
	From      int       `json:"from"`
	To        int       `json:"to"`
	Direction string    `json:"direction"` // out | in | replace
	Policy    string    `json:"policy"`    // the policy that carried the decision
	Reason    string    `json:"reason"`
}

// Handler serves the page under /dashboard/ and its feed at
// /dashboard/api/state. Mount it on "GET /dashboard/".
func Handler(state func() State) http.Handler {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/dashboard/", http.FileServerFS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dashboard/api/state", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(state())
	})
	mux.HandleFunc("GET /dashboard/", func(w http.ResponseWriter, r *http.Request) {
		// The page is tiny and changes with the binary: never serve a
		// stale one after an upgrade.
		w.Header().Set("Cache-Control", "no-cache")
		// Its drain buttons change state: no other site may frame it and
		// trick a click (clickjacking), and it loads nothing from elsewhere.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	return mux
}

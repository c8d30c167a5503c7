// Package dashboard is the web UI of local mode, served on the gateway's
// admin listener: pools and backends, autoscaler groups, load against
// capacity and forecast, and the decision log. The page is plain HTML, CSS
// and JavaScript embedded in the binary (no CDN, no build step); it polls
// a JSON snapshot, the State, once a second.
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
	Time      time.Time  `json:"time"`
	Started   time.Time  `json:"started"`
	URLs      URLs       `json:"urls"`
	Load      Load       `json:"load"`
	Pools     []Pool     `json:"pools"`
	Groups    []Group    `json:"groups"`
	Series    []Point    `json:"series"`   // one point per second, oldest first
	Forecast  []Forecast `json:"forecast"` // may extend past now
	Decisions []Decision `json:"decisions"`
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
		files.ServeHTTP(w, r)
	})
	return mux
}

// Package mirror copies a share of a route's requests to a shadow pool:
//
//	mirror: {pool: shadow, percent: 10}
//
// The copy is sent in the background after the request is routed; its
// answer is read and discarded, and its failures are only counted, so the
// client's response and latency never depend on the shadow. Only requests
// without a body are mirrored: copying a body would mean buffering it
// before the real backend sees it, which costs the client. At most
// max_in_flight copies are outstanding per route; beyond that a copy is
// dropped (and counted) rather than queued.
//
// The shadow pool's balancer picks the backend; a copy then goes over
// HTTP/1.1 with the client's Host and headers and the mirror's own
// timeout: the pool's protocol, host_header, timeouts, breaker and retry
// settings do not apply to copies.
package mirror

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Config is a route's mirror block; the comments on its fields are the
// reference's text.
type Config struct {
	Pool        string        `yaml:"pool"`          // required; the shadow pool copies go to
	Percent     float64       `yaml:"percent"`       // share of the route's bodiless requests copied, over 0 and up to 100; default 100
	MaxInFlight int           `yaml:"max_in_flight"` // copies outstanding at once; more are dropped; default 64
	Timeout     time.Duration `yaml:"timeout"`       // a copy's whole exchange; default 1s
}

// SetDefaults fills in the defaults (before decoding: a key written as 0
// is validated as written).
func (c *Config) SetDefaults() {
	if c.Percent == 0 {
		c.Percent = 100
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
}

// Validate reports the problems of c by key relative to the block; known
// reports whether a pool exists.
func (c *Config) Validate(known func(string) bool) yamlconf.Errors {
	var v yamlconf.Check
	switch {
	case c.Pool == "":
		v.Add("pool", "required")
	case !known(c.Pool):
		v.Add("pool", "unknown pool %q", c.Pool)
	}
	if c.Percent <= 0 || c.Percent > 100 {
		v.Add("percent", "must be over 0 and up to 100, got %v", c.Percent)
	}
	if c.MaxInFlight < 1 {
		v.Add("max_in_flight", "must be at least 1")
	}
	if c.Timeout <= 0 {
		v.Add("timeout", "must be positive")
	}
	return v.Errs
}

// Counters count what became of the copies.
type Counters interface {
	Sent()    // answered by the shadow (any status)
	Failed()  // the shadow could not be reached or timed out
	Dropped() // max_in_flight copies were already outstanding
}

// transport is shared by every mirror: copies are few and short.
var transport = &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second, DisableCompression: true}

// Sender copies requests to a shadow pool.
type Sender struct {
	cfg   Config
	slots chan struct{}
	pick  func() string // a shadow backend's address; "" none
	count Counters
}

// New returns a sender for c (validated, defaulted); pick chooses the
// shadow backend for each copy.
func New(c Config, pick func() string, count Counters) *Sender {
	return &Sender{cfg: c, slots: make(chan struct{}, c.MaxInFlight), pick: pick, count: count}
}

// Maybe sends a copy of r, to be forwarded as target (path and query),
// for its share of requests. It returns at once.
func (s *Sender) Maybe(r *http.Request, target string) {
	if r.ContentLength != 0 || (r.Body != nil && r.Body != http.NoBody) {
		return // see the package comment
	}
	if s.cfg.Percent < 100 && rand.Float64()*100 >= s.cfg.Percent {
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.count.Dropped()
		return
	}
	addr := s.pick()
	if addr == "" {
		<-s.slots
		s.count.Failed()
		return
	}
	// The copy outlives the client's request: its own context and headers.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+addr+target, nil)
	if err != nil {
		cancel()
		<-s.slots
		s.count.Failed()
		return
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	go func() {
		defer func() { cancel(); <-s.slots }()
		resp, err := transport.RoundTrip(req)
		if err != nil {
			s.count.Failed()
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			s.count.Failed()
			return
		}
		s.count.Sent()
	}()
}

package l4

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/mqtt"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Defaults SetDefaults gives a Config (HAProxy-like values for a TCP
// front door).
const (
	DefaultStrategy       = balance.RoundRobin
	DefaultConnectTimeout = 2 * time.Second
	DefaultConnectRetries = 2
	DefaultDrainTimeout   = 30 * time.Second
	DefaultMode           = ModeTCP
)

// Listener modes.
const (
	ModeTCP  = "tcp"  // bytes, whatever the protocol
	ModeMQTT = "mqtt" // MQTT 3.1.1 and 5, understood (see package mqtt)
)

// Config is one L4 (TCP) listener: where it listens, how it balances and
// checks its backends, and how it ends connections. It is an entry of the
// gateway file's l4 list, so the comments on its keys are that reference's
// text. Every value means what it says (0 retries is none, a 0 drain
// timeout closes at once): the defaults come from SetDefaults, which the
// file's loader applies before decoding and a Config built in Go starts
// from. Settings that are not keys of the file are Options of New.
//
// Built in Go, Name defaults to Listen, and Listen is read only by
// ListenAndServe. With IdleTimeout set the proxy copies through a
// user-space buffer instead of splice(2) (see pipe.go); connections over
// MaxConnections count in Stats.Refused. The hash strategies hash the
// client IP exactly as the HTTP gateway's "ip" hash key does.
type Config struct {
	Name   string `yaml:"name"`   // required, unique
	Listen string `yaml:"listen"` // required
	// Mode: tcp relays bytes. mqtt reads each client's CONNECT first
	// (MQTT 3.1.1 or 5): it routes by the hash of the client id (the
	// client IP when it is empty), so it needs strategy consistent_hash
	// (or ip_hash), applies the mqtt block's authentication and limits,
	// checks the framing of what clients send (a bad packet closes its
	// connection only), and health checks speak MQTT (CONNECT; any
	// well-formed CONNACK passes, as any answer proves a live broker;
	// DISCONNECT).
	Mode string       `yaml:"mode"` // default tcp
	MQTT *mqtt.Config `yaml:"mqtt"` // MQTT settings; an error on a tcp listener; omitted = its defaults
	// Strategy: as pools, but not least_response_time (a TCP proxy sees
	// only connect times, which measure the network, not the service; use
	// least_connections). ip_hash and consistent_hash hash the client IP, so
	// a client reaches the same backend of a pool shared with the HTTP tier
	// (in mode mqtt they hash the client id instead).
	Strategy       string          `yaml:"strategy"`        // default round_robin
	Backends       []upstream.Spec `yaml:"backends"`        // at least one
	ConnectTimeout time.Duration   `yaml:"connect_timeout"` // one connect attempt to a backend; default 2s
	ConnectRetries int             `yaml:"connect_retries"` // other backends tried when a connect fails, 0..100; default 2
	// IdleTimeout closes a connection idle both ways this long (a peer
	// that stops reading counts as idle too); default 0 (never).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps the open client connections; beyond it a new one
	// is accepted and closed at once, a clean close rather than a stuck SYN
	// queue. Default 0 (no limit).
	MaxConnections int           `yaml:"max_connections"`
	DrainTimeout   time.Duration `yaml:"drain_timeout"`  // on removal or shutdown, open connections get this long; 0 closes at once; default 30s
	ProxyProtocol  bool          `yaml:"proxy_protocol"` // send a PROXY v1 header so backends see the client address
	Health         *HealthConfig `yaml:"health_check"`   // TCP connect checks (mode mqtt: MQTT CONNECT/CONNACK); nil = none (every backend counts as healthy)
}

// HealthConfig configures active TCP checks with hysteresis: a backend
// passes a probe when a TCP connect to its address succeeds within Timeout
// (the connection is closed at once, as HAProxy's plain "check" does).
// WithHealthAddress probes another port.
type HealthConfig struct {
	Interval           time.Duration `yaml:"interval"`            // pause between the end of one probe and the next; default 5s
	Timeout            time.Duration `yaml:"timeout"`             // bounds one connect; default 2s
	HealthyThreshold   int           `yaml:"healthy_threshold"`   // passes to become healthy; default 2
	UnhealthyThreshold int           `yaml:"unhealthy_threshold"` // failures to become unhealthy; default 3
}

func (c *Config) SetDefaults() {
	c.Strategy = DefaultStrategy
	c.ConnectTimeout = DefaultConnectTimeout
	c.ConnectRetries = DefaultConnectRetries
	c.DrainTimeout = DefaultDrainTimeout
	c.Mode = DefaultMode
}

// SetDefaults: after health.CheckConfig (HAProxy's rise 2, fall 3).
func (h *HealthConfig) SetDefaults() {
	h.Interval = 5 * time.Second
	h.Timeout = 2 * time.Second
	h.HealthyThreshold = 2
	h.UnhealthyThreshold = 3
}

// ErrUnsupportedStrategy is returned (wrapped) for a strategy that exists in
// package balance but has no meaning per TCP connection.
var ErrUnsupportedStrategy = errors.New("strategy not supported at L4")

// lookupStrategy is balance.Lookup refusing the strategies that need more
// than a TCP proxy observes.
func lookupStrategy(name string) (balance.Info, error) {
	strategy, err := balance.Lookup(name)
	if err == nil && !strategy.PerConnection {
		err = fmt.Errorf("%w: %s needs response times, and a TCP proxy only sees connect times; use %s", ErrUnsupportedStrategy, name, balance.LeastConnections)
	}
	return strategy, err
}

// Validate reports the problems of c by key relative to the listener. The
// name and listen address are left to the caller: the file requires them
// (and unique), while a Proxy built in Go may have neither.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	strategy, err := lookupStrategy(c.Strategy)
	if err != nil {
		v.Add("strategy", "%v", err)
	}
	switch c.Mode {
	case ModeTCP, "": // "": a Config built in Go without SetDefaults
		if c.MQTT != nil {
			v.Add("mqtt", "only for mode: %s (this listener's mode is %s)", ModeMQTT, c.Mode)
		}
	case ModeMQTT:
		if err == nil && !strategy.Hashed {
			v.Add("strategy", "mode mqtt routes each client by its client id: use consistent_hash (or ip_hash), not %s", c.Strategy)
		}
		if c.MQTT != nil {
			v.In("mqtt", c.MQTT.Validate())
		}
	default:
		v.Add("mode", "want %s or %s, got %q", ModeTCP, ModeMQTT, c.Mode)
	}
	v.In("backends", checkBackends(c.Backends))
	for i, b := range c.Backends {
		v.Between(fmt.Sprintf("backends[%d].weight", i), b.Weight, 1, 1000)
	}
	v.Positive("connect_timeout", c.ConnectTimeout)
	v.Between("connect_retries", c.ConnectRetries, 0, 100)
	v.NonNegative("idle_timeout", c.IdleTimeout)
	v.Between("max_connections", c.MaxConnections, 0, math.MaxInt32)
	v.NonNegative("drain_timeout", c.DrainTimeout)
	if h := c.Health; h != nil {
		v.Positive("health_check.interval", h.Interval)
		v.Positive("health_check.timeout", h.Timeout)
		v.Between("health_check.healthy_threshold", h.HealthyThreshold, 1, 1000)
		v.Between("health_check.unhealthy_threshold", h.UnhealthyThreshold, 1, 1000)
	}
	return v.Errs
}

// checkBackends checks a membership's addresses and IDs (an empty ID is
// the address), by key relative to the list. It is what SetBackends
// checks too; weights are not, as a Spec built in Go counts a Weight
// below 1 as 1.
func checkBackends(specs []upstream.Spec) yamlconf.Errors {
	var v yamlconf.Check
	first := make(map[string]string, len(specs)) // id -> key of its first use
	for i, s := range specs {
		k := fmt.Sprintf("[%d]", i)
		if err := backend.CheckAddress(s.Address); err != nil {
			v.Add(k+".address", "%v", err)
		}
		id := s.ID
		if id == "" {
			id = s.Address
		}
		if at, dup := first[id]; dup {
			v.Add(k+".id", "duplicate backend id %q (same as backends%s; set id to tell them apart)", id, at)
		} else {
			first[id] = k
		}
	}
	return v.Errs
}

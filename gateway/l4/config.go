package l4

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
	"github.com/drawbridge-dev/drawbridge/gateway/health"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
)

// Defaults for the zero fields of Config (HAProxy-like values for a TCP
// front door).
const (
	DefaultStrategy       = balance.RoundRobin
	DefaultConnectTimeout = 2 * time.Second
	DefaultConnectRetries = 2
	DefaultDrainTimeout   = 30 * time.Second
)

// Config is one L4 (TCP) listener: where it listens, how it balances and
// checks its backends, and how it ends connections.
type Config struct {
	// Name identifies the listener in logs; default Listen.
	Name string
	// Listen is the address ListenAndServe binds ("host:port"). Serve takes
	// an already open listener and ignores it.
	Listen string

	// Strategy is one of the balance strategies that make sense per TCP
	// connection: round_robin (default), weighted_round_robin,
	// least_connections, power_of_two, random, ip_hash and consistent_hash.
	// The two hash strategies hash the client IP (the only key a TCP proxy
	// has), exactly as the HTTP gateway's "ip" hash key does, so both tiers
	// send a client to the same backend of a shared pool.
	// least_response_time is refused: at L4 only the connect time is
	// observable, which measures the network and the accept queue, not the
	// service; least_connections is the L4 equivalent.
	Strategy string
	// Balance tunes consistent_hash (VirtualNodes, BoundedLoad).
	Balance balance.Options

	// Backends is the initial membership; SetBackends replaces it.
	Backends []upstream.Spec

	// ConnectTimeout bounds one connect attempt to a backend; default 2s.
	ConnectTimeout time.Duration
	// ConnectRetries is how many other backends are tried after a failed
	// connect before the client is dropped. 0 means DefaultConnectRetries;
	// a negative value means no retries.
	ConnectRetries int

	// IdleTimeout closes a connection on which no byte has moved in either
	// direction for this long (a peer that stops reading counts as idle
	// too). 0 means never. Note that with IdleTimeout set the proxy copies
	// through a user-space buffer instead of splice(2); see pipe.go.
	IdleTimeout time.Duration

	// MaxConnections caps the open client connections; beyond it a new
	// connection is accepted and closed at once (counted in Stats.Refused),
	// so the client sees a clean close instead of a stuck SYN queue.
	// 0 means unlimited.
	MaxConnections int

	// Health enables active TCP connect checks; nil means none (backends
	// are always considered healthy).
	Health *HealthConfig
	// Outlier enables passive ejection of backends whose connects fail
	// (health.Outlier, shared with the HTTP gateway); nil means none.
	Outlier *health.OutlierConfig
	// SlowStart ramps a backend's share of new connections over this window
	// when it joins after the first membership, or recovers from a failed
	// health check or an ejection. 0 means no ramp.
	SlowStart time.Duration

	// DrainTimeout is how long the open connections of a removed backend
	// may continue before they are closed; default 30s. Negative means
	// they are closed at once.
	DrainTimeout time.Duration

	// ProxyProtocol sends a PROXY protocol v1 header at the start of every
	// backend connection, so the backend sees the client's address.
	ProxyProtocol bool
}

// HealthConfig configures active TCP checks: a backend passes a probe when a
// TCP connect to its address succeeds within Timeout (the connection is
// closed at once, as HAProxy's plain "check" does).
type HealthConfig struct {
	// Interval is the pause between the end of one probe and the start of
	// the next; default 5s.
	Interval time.Duration
	// Timeout bounds one connect; default 2s.
	Timeout time.Duration
	// HealthyThreshold is how many consecutive passed probes bring an
	// unhealthy backend back; default 2.
	HealthyThreshold int
	// UnhealthyThreshold is how many consecutive failed probes take a
	// healthy backend out; default 3.
	UnhealthyThreshold int
	// Address, when set, is probed instead of the backend's own address
	// (a separate health port); "host:port" or ":port" (backend's host).
	Address string
}

// Defaults after health.CheckConfig (HAProxy's rise 2, fall 3).
const (
	defaultHealthInterval     = 5 * time.Second
	defaultHealthTimeout      = 2 * time.Second
	defaultHealthyThreshold   = 2
	defaultUnhealthyThreshold = 3
)

func (h HealthConfig) withDefaults() HealthConfig {
	if h.Interval <= 0 {
		h.Interval = defaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = defaultHealthTimeout
	}
	if h.HealthyThreshold <= 0 {
		h.HealthyThreshold = defaultHealthyThreshold
	}
	if h.UnhealthyThreshold <= 0 {
		h.UnhealthyThreshold = defaultUnhealthyThreshold
	}
	return h
}

// ErrUnsupportedStrategy is returned (wrapped) for a strategy that exists in
// package balance but has no meaning per TCP connection.
var ErrUnsupportedStrategy = errors.New("strategy not supported at L4")

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = c.Listen
	}
	if c.Strategy == "" {
		c.Strategy = DefaultStrategy
	}
	switch strategy, err := balance.Lookup(c.Strategy); {
	case err != nil:
		return c, fmt.Errorf("l4 %q: balance: %w", c.Name, err)
	case !strategy.PerConnection:
		return c, fmt.Errorf("l4 %q: %w: %s needs response times, and a TCP proxy only sees connect times; use %s", c.Name, ErrUnsupportedStrategy, c.Strategy, balance.LeastConnections)
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return c, fmt.Errorf("l4 %q: listen address: %w", c.Name, err)
		}
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case c.ConnectRetries == 0:
		c.ConnectRetries = DefaultConnectRetries
	case c.ConnectRetries < 0:
		c.ConnectRetries = 0
	}
	if c.IdleTimeout < 0 {
		return c, fmt.Errorf("l4 %q: negative idle timeout %v", c.Name, c.IdleTimeout)
	}
	if c.MaxConnections < 0 {
		return c, fmt.Errorf("l4 %q: negative max connections %d", c.Name, c.MaxConnections)
	}
	switch {
	case c.DrainTimeout == 0:
		c.DrainTimeout = DefaultDrainTimeout
	case c.DrainTimeout < 0:
		c.DrainTimeout = 0
	}
	if c.SlowStart < 0 {
		return c, fmt.Errorf("l4 %q: negative slow start %v", c.Name, c.SlowStart)
	}
	if c.Health != nil {
		h := c.Health.withDefaults()
		if h.Address != "" {
			if _, _, err := net.SplitHostPort(h.Address); err != nil {
				return c, fmt.Errorf("l4 %q: health address: %w", c.Name, err)
			}
		}
		c.Health = &h
	}
	if err := validateSpecs(c.Backends); err != nil {
		return c, fmt.Errorf("l4 %q: %w", c.Name, err)
	}
	return c, nil
}

// validateSpecs checks backend addresses and ID uniqueness.
func validateSpecs(specs []upstream.Spec) error {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		host, port, err := net.SplitHostPort(s.Address)
		if err != nil {
			return fmt.Errorf("backend %q: %w", s.Address, err)
		}
		if host == "" {
			return fmt.Errorf("backend %q: missing host", s.Address)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("backend %q: bad port %q", s.Address, port)
		}
		id := s.ID
		if id == "" {
			id = s.Address
		}
		if seen[id] {
			return fmt.Errorf("duplicate backend %q", id)
		}
		seen[id] = true
	}
	return nil
}

package mqtt

import (
	"math"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/auth"
	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Defaults SetDefaults gives a Config.
const (
	// DefaultMaxPacketSize is 256 KiB: far above what telemetry and
	// command traffic needs, far below the protocol's 256 MiB, which no
	// gateway should let one client make it buffer or relay.
	DefaultMaxPacketSize = 256 << 10
	// DefaultConnectTimeout bounds the wait for a client's CONNECT after
	// the TCP accept (nginx's client_header_timeout, in spirit).
	DefaultConnectTimeout = 10 * time.Second
)

// Config is the mqtt block of an l4 listener in mode mqtt, so the
// comments on its keys are that reference's text. The listener routes
// each client by the hash of its client id (an empty client id, which
// 3.1.1 allows with clean session and with which 5 asks the broker to
// assign one, is routed by the client IP instead).
type Config struct {
	// MaxPacketSize caps every packet a client sends, fixed header
	// included, from CONNECT on; a larger one closes that connection (a
	// v5 client first gets DISCONNECT 0x95). Default 262144 (256 KiB).
	MaxPacketSize int `yaml:"max_packet_size"`
	// ConnectTimeout is how long a client may take to send its CONNECT
	// after connecting; default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Auth checks the CONNECT's username and password against basic's
	// users, or a JWT sent as the password against jwt. A refused client
	// gets CONNACK 0x04 / 0x86 (bad username or password) or 0x05 / 0x87
	// (not authorized: no credentials, or a subject outside
	// allow_subjects). nil = anyone.
	Auth *AuthConfig `yaml:"auth"`
	// ConnectionRate limits CONNECTs per client id (per client IP for an
	// empty one); over it a 3.1.1 client gets CONNACK 0x03 (server
	// unavailable), a 5 client 0x9F (connection rate exceeded). nil = no
	// limit.
	ConnectionRate *Rate `yaml:"connection_rate"`
	// PublishRate limits the PUBLISH packets a client id sends. Over it
	// the gateway stops reading from that client until the bucket refills:
	// backpressure through TCP, nothing is dropped. nil = no limit.
	PublishRate *Rate `yaml:"publish_rate"`
}

// AuthConfig is a route's auth block less what only HTTP has (API keys
// in headers, forwarded headers, realms): the same basic and jwt blocks,
// checked by the same code (auth.Authenticator.CheckCredentials).
type AuthConfig struct {
	Basic *auth.BasicConfig `yaml:"basic"` // the username and password against these users (bcrypt)
	// JWT: a password that is a JWT (three dot-separated parts) is
	// verified as one, its sub the identity; the username is ignored.
	JWT           *auth.JWTConfig `yaml:"jwt"`
	AllowSubjects []string        `yaml:"allow_subjects"` // users or JWT subjects outside this list get "not authorized"; empty = any
}

// config is the auth package's view of the block.
func (a *AuthConfig) config() auth.Config {
	return auth.Config{Basic: a.Basic, JWT: a.JWT, AllowSubjects: a.AllowSubjects}
}

// Rate is a token bucket per client id.
type Rate struct {
	Rate  float64 `yaml:"rate"`  // per second; required
	Burst int     `yaml:"burst"` // in a row; default 10
}

func (c *Config) SetDefaults() {
	c.MaxPacketSize = DefaultMaxPacketSize
	c.ConnectTimeout = DefaultConnectTimeout
}

func (r *Rate) SetDefaults() { r.Burst = 10 }

// Validate reports the problems of the block by key relative to it.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	// A CONNECT needs at least a dozen bytes; the top is the varint's.
	v.Between("max_packet_size", c.MaxPacketSize, 64, MaxRemainingLength)
	v.Positive("connect_timeout", c.ConnectTimeout)
	if a := c.Auth; a != nil {
		if a.JWT == nil && a.Basic == nil {
			v.Add("auth", "needs basic or jwt")
		} else {
			ac := a.config()
			v.In("auth", ac.Validate())
		}
	}
	for _, kr := range []struct {
		key string
		r   *Rate
	}{{"connection_rate", c.ConnectionRate}, {"publish_rate", c.PublishRate}} {
		key, r := kr.key, kr.r
		if r == nil {
			continue
		}
		if !(r.Rate > 0) || math.IsInf(r.Rate, 0) {
			v.Add(key+".rate", "must be a positive number per second, got %v", r.Rate)
		}
		v.Between(key+".burst", r.Burst, 1, math.MaxInt32)
	}
	return v.Errs
}

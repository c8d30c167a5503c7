package mqtt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/auth"
)

// Refusal errors of Admit (besides the parser's).
var (
	ErrBadCredentials = errors.New("mqtt: bad username or password")
	ErrNotAuthorized  = errors.New("mqtt: not authorized")
	ErrConnectionRate = errors.New("mqtt: connection rate exceeded")
)

// lingerTimeout bounds the wait for a refused client to read its CONNACK
// and close, so that the close does not reset the connection under an
// unread CONNACK.
const lingerTimeout = 2 * time.Second

// sweepEvery is how many new client ids are tracked between sweeps of
// the forgettable ones.
const sweepEvery = 1024

// Gate admits MQTT clients for one listener and keeps the per-client-id
// rate buckets. It is safe for concurrent use.
type Gate struct {
	cfg  Config
	clk  clock.Clock
	auth *auth.Authenticator // nil: anyone

	mu      sync.Mutex
	clients map[string]*client
	added   int
}

// client is one client id's state, shared by its connections.
type client struct {
	conns   int
	connect *rate.Limiter // nil without a connection rate
	publish *rate.Limiter // nil without a publish rate
}

// New validates cfg and returns a Gate. Files named by the auth block are
// read here.
func New(cfg Config, clk clock.Clock) (*Gate, error) {
	if err := cfg.Validate().Err(); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	g := &Gate{cfg: cfg, clk: clk, clients: map[string]*client{}}
	if cfg.Auth != nil {
		a, err := auth.New(cfg.Auth.config(), clk)
		if err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
		g.auth = a
	}
	return g, nil
}

// Session is one admitted client: its CONNECT, and the wrapped client
// connection each direction of the relay uses.
type Session struct {
	Connect Connect
	Raw     []byte // the CONNECT packet as received, for the broker
	key     string
	g       *Gate
	st      *client
	up      *uplink
	down    *downlink
	stop    chan struct{}
	once    sync.Once
}

// Admit reads and checks a new connection's CONNECT. A refused client is
// answered as its version wants (a CONNACK with the reason, or nothing
// where the spec says to just close) and given a moment to read it; the
// caller then closes nc. The error says why.
func (g *Gate) Admit(nc net.Conn) (*Session, error) {
	br := bufio.NewReaderSize(nc, 4096)
	nc.SetReadDeadline(time.Now().Add(g.cfg.ConnectTimeout)) // socket deadlines are wall-clock
	raw, c, err := ReadConnect(br, g.cfg.MaxPacketSize)
	if err != nil {
		g.refuseParse(nc, c.Version, err)
		return nil, err
	}
	nc.SetReadDeadline(time.Time{})

	if g.auth != nil {
		if err := g.authenticate(c); err != nil {
			g.refuse(nc, c.Version, err)
			return nil, err
		}
	}
	key := c.ClientID
	if key == "" {
		// No client id can hold U+0000 (ParseConnect refuses it), so
		// this cannot collide with one.
		key = "\x00" + hostOf(nc.RemoteAddr())
	}
	st := g.acquire(key)
	if st.connect != nil && !st.connect.AllowN(g.clk.Now(), 1) {
		g.release(key, st)
		g.refuse(nc, c.Version, ErrConnectionRate)
		return nil, ErrConnectionRate
	}
	s := &Session{Connect: c, Raw: raw, key: key, g: g, st: st, stop: make(chan struct{})}
	s.up = &uplink{Conn: nc, r: br, version: c.Version, max: g.cfg.MaxPacketSize, wait: s.waitPublish}
	s.down = newDownlink(nc)
	s.up.onError = s.down.disconnect
	return s, nil
}

func (g *Gate) authenticate(c Connect) error {
	if !c.HasUsername && !c.HasPassword {
		return ErrNotAuthorized
	}
	_, err := g.auth.CheckCredentials(c.Username, string(c.Password))
	var ae *auth.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		return ErrNotAuthorized
	}
	return ErrBadCredentials
}

// refuseParse answers a CONNECT that could not be taken: a CONNACK where
// the version is known and the spec has a code, else a plain close.
func (g *Gate) refuseParse(nc net.Conn, version byte, err error) {
	switch {
	case errors.Is(err, ErrVersion):
		// 3.1.1 §3.2.2.3 and 5 §3.1.2.2 both answer an unknown level;
		// a client that spoke 5 understands the v5 encoding.
		if version >= Version5 {
			g.linger(nc, Connack(Version5, V5BadProtocolVersion))
		} else {
			g.linger(nc, Connack(Version311, V3BadProtocolVersion))
		}
	case errors.Is(err, ErrMalformed) && version == Version5:
		g.linger(nc, Connack(Version5, V5Malformed))
	}
	// ErrTooLarge, ErrNotConnect, a timeout, 3.1.1 malformed: close.
}

// refuse answers an admission refusal with the version's CONNACK code.
func (g *Gate) refuse(nc net.Conn, version byte, err error) {
	v3, v5 := byte(V3NotAuthorized), byte(V5NotAuthorized)
	switch err {
	case ErrBadCredentials:
		v3, v5 = V3BadCredentials, V5BadCredentials
	case ErrConnectionRate:
		v3, v5 = V3ServerUnavailable, V5ConnectionRate
	}
	if version == Version5 {
		g.linger(nc, Connack(version, v5))
	} else {
		g.linger(nc, Connack(version, v3))
	}
}

// linger writes a last packet, ends the write side and waits (briefly) for
// the client to close, discarding what it still sends: closing with
// unread input would reset the connection and could destroy the packet
// before the client reads it (nginx's lingering close).
func (g *Gate) linger(nc net.Conn, last []byte) {
	dl := time.Now().Add(lingerTimeout)
	nc.SetWriteDeadline(dl)
	if _, err := nc.Write(last); err != nil {
		return
	}
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	nc.SetReadDeadline(dl)
	io.CopyN(io.Discard, nc, 64<<10)
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// acquire returns key's state with one more connection counted.
func (g *Gate) acquire(key string) *client {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.clients[key]
	if st == nil {
		st = &client{}
		if r := g.cfg.ConnectionRate; r != nil {
			st.connect = rate.NewLimiter(rate.Limit(r.Rate), r.Burst)
		}
		if r := g.cfg.PublishRate; r != nil {
			st.publish = rate.NewLimiter(rate.Limit(r.Rate), r.Burst)
		}
		g.clients[key] = st
		if g.added++; g.added%sweepEvery == 0 {
			g.sweep()
		}
	}
	st.conns++
	return st
}

func (g *Gate) release(key string, st *client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st.conns--
	if st.conns == 0 && st.full(g.clk.Now()) {
		delete(g.clients, key)
	}
}

// sweep forgets the client ids without connections whose buckets have
// refilled: a new state would be the same, so the map stays as large as
// the set of clients active lately. Called with mu held.
func (g *Gate) sweep() {
	now := g.clk.Now()
	for k, st := range g.clients {
		if st.conns == 0 && st.full(now) {
			delete(g.clients, k)
		}
	}
}

func (st *client) full(now time.Time) bool {
	for _, l := range []*rate.Limiter{st.connect, st.publish} {
		if l != nil && l.TokensAt(now) < float64(l.Burst()) {
			return false
		}
	}
	return true
}

// Tracked is how many client ids the gate holds state for (tests).
func (g *Gate) Tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.clients)
}

// HasClientID reports whether the client sent a client id to route by.
func (s *Session) HasClientID() bool { return s.Connect.ClientID != "" }

// Uplink is the client connection as the client-to-broker direction reads
// it: packets framed and checked, PUBLISH held back by the publish rate.
func (s *Session) Uplink() net.Conn { return s.up }

// Downlink is the client connection as the broker-to-client direction
// writes it: a plain copy whose packet boundaries are tracked, so that a
// v5 DISCONNECT can be placed between two packets.
func (s *Session) Downlink() net.Conn { return s.down }

// Stop ends a wait for the publish rate (the connection is closing).
func (s *Session) Stop() { s.once.Do(func() { close(s.stop) }) }

// Close stops the session and releases its client id's state.
func (s *Session) Close() {
	s.Stop()
	s.g.release(s.key, s.st)
}

// waitPublish blocks until the client id's bucket has a token for one
// PUBLISH, or the session stops.
func (s *Session) waitPublish() error {
	l := s.st.publish
	if l == nil {
		return nil
	}
	now := s.g.clk.Now()
	r := l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	done := make(chan struct{})
	t := s.g.clk.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-s.stop:
		t.Stop()
		r.CancelAt(s.g.clk.Now())
		return net.ErrClosed
	}
}

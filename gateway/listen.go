package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"

	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/gateway/acme"
	"github.com/drawbridge-dev/drawbridge/gateway/admin"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/failover"
	"github.com/drawbridge-dev/drawbridge/gateway/h1"
	"github.com/drawbridge-dev/drawbridge/gateway/h2guard"
	"github.com/drawbridge-dev/drawbridge/gateway/hygiene"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
)

// What the server (gateway/server) needs of a gateway: the http.Server
// and listener it serves behind, and the hooks that publish what the
// server runs (TLS port, L4 listeners, failover, drain) in /status and
// /metrics. Tests serve a gateway the same way without the server.

// Headers every response carries while failover is on: the fencing token
// of the lease the answering gateway held, and its name. Clients and tests
// can prove from them that two gateways never answered at once.
const (
	FenceHeader = "X-Drawbridge-Fence"
	NodeHeader  = "X-Drawbridge-Node"
)

// ClientListener wraps the plain listener's connections: the HTTP/2 guard
// follows h2c ones, the framing guard HTTP/1 ones.
func ClientListener(ln net.Listener, cfg *config.Config) net.Listener {
	return hygiene.Listener(h2guard.Listener{Listener: ln, Config: H2GuardConfig(cfg)})
}

// H2GuardConfig gives HTTP/2 clients the header deadline HTTP/1 ones get.
func H2GuardConfig(cfg *config.Config) h2guard.Config {
	return h2guard.Config{ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout, MaxHeaderBytes: cfg.Server.MaxHeaderBytes}
}

// ClientServer serves the plain listener with cfg's server.engine:
// net/http's server behind ClientListener, or package h1's loop, which
// refuses bad framing itself and hands h2c (prior knowledge) to net/http's
// HTTP/2 server through the same HTTP/2 guard. srv serves TLS either way.
type ClientServer struct {
	srv    *http.Server
	h1     *h1.Server
	cfg    *config.Config
	cancel context.CancelFunc // ends the h2c connections h1 handed over
}

// ClientServer is the plain listener's server for srv (HTTPServer) under cfg.
func (g *Gateway) ClientServer(srv *http.Server, cfg *config.Config) *ClientServer {
	c := &ClientServer{srv: srv, cfg: cfg}
	if cfg.Server.Engine != config.EngineH1 {
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	h2s := &http2.Server{IdleTimeout: cfg.Server.IdleTimeout, MaxConcurrentStreams: 250, MaxReadFrameSize: h2guard.MaxFrameSize}
	gcfg := H2GuardConfig(cfg)
	c.cancel = cancel
	c.h1 = &h1.Server{
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		MaxHeaders:        cfg.Server.MaxHeaders,
		ErrorLog:          srv.ErrorLog,
		H2C: func(nc net.Conn) {
			h2s.ServeConn(h2guard.Server(nc, gcfg), &http2.ServeConnOpts{Context: ctx, BaseConfig: srv, Handler: srv.Handler})
		},
	}
	return c
}

// Serve serves ln until Shutdown or Close. The handler is srv's as it is
// now, after whatever wrapped it (failover, tracing).
func (c *ClientServer) Serve(ln net.Listener) error {
	if c.h1 == nil {
		return c.srv.Serve(ClientListener(ln, c.cfg))
	}
	c.h1.Handler = c.srv.Handler
	return c.h1.Serve(ln)
}

// Shutdown drains both servers (srv may be serving TLS too).
func (c *ClientServer) Shutdown(ctx context.Context) error {
	err := c.srv.Shutdown(ctx)
	if c.h1 != nil {
		err = errors.Join(err, c.h1.Shutdown(ctx))
		c.cancel()
	}
	return err
}

// Close closes both servers' listeners and connections.
func (c *ClientServer) Close() error {
	err := c.srv.Close()
	if c.h1 != nil {
		err = errors.Join(err, c.h1.Close())
		c.cancel()
	}
	return err
}

// HTTPServer is the client-facing http.Server for g under cfg.
func (g *Gateway) HTTPServer(cfg *config.Config) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:   g,
		Protocols: p,
		// The frame size the HTTP/2 guard inspects in full (Go's default
		// is 1 MiB); a larger frame is a connection error.
		HTTP2:             &http.HTTP2Config{MaxReadFrameSize: h2guard.MaxFrameSize},
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{g.log}, "", 0),
		ConnContext:       hygiene.ConnContext,
		ConnState:         hygiene.ConnState,
	}
}

// slogWriter routes net/http's own error log into the structured log.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "msg", string(p))
	return len(p), nil
}

// GetCertificate serves the certificates of the configuration in force, so
// a reload (SIGHUP or a changed file) renews them for new handshakes. An
// ACME domain gets its ACME certificate once there is one; until then,
// and for every other name, the certificate files serve.
func (g *Gateway) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m := g.acme.Load(); m != nil {
		if acme.IsChallenge(h) {
			return m.ChallengeCertificate(h)
		}
		if c := m.Certificate(h.ServerName); c != nil {
			return c, nil
		}
	}
	s := g.tlsStore.Load()
	if s == nil {
		return nil, fmt.Errorf("no certificate for %q yet", h.ServerName)
	}
	return s.GetCertificate(h)
}

// SetACME makes m's certificates and challenge answers part of the
// listeners'.
func (g *Gateway) SetACME(m *acme.Manager) { g.acme.Store(m) }

// ACMEChallenges answers HTTP-01 validations on the plain listener before
// anything else (redirects, routing) sees them.
func (g *Gateway) ACMEChallenges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := g.acme.Load(); m != nil && r.TLS == nil && m.ServeChallenge(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Clock is the gateway's clock, for what runs beside it.
func (g *Gateway) Clock() clock.Clock { return g.clk }

// SetHTTPSPort records the bound HTTPS port, which redirects name.
func (g *Gateway) SetHTTPSPort(port string) { g.httpsPort.Store(&port) }

// SetL4 publishes the running L4 listeners, by name, in /status.
func (g *Gateway) SetL4(ls map[string]*l4.Proxy) { g.tcp.Store(&ls) }

// SetFailover publishes the failover controller in /status and /metrics.
func (g *Gateway) SetFailover(c *failover.Controller, transitions *prometheus.CounterVec) {
	g.failover.Store(c)
	admin.RegisterFailover(g.metrics.Registry, c, transitions)
}

// NewTransitionCounter counts failover role changes by the role entered.
func NewTransitionCounter() *prometheus.CounterVec { return admin.NewTransitionCounter() }

// ReloadRefused counts a reload refused before it reached Apply (the file
// did not load).
func (g *Gateway) ReloadRefused() { g.metrics.Reloaded(false) }

// StartDraining turns readiness false: shutdown has begun.
func (g *Gateway) StartDraining() { g.draining.Store(true) }

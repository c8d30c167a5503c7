// Package tlsterm terminates TLS for the gateway: certificates from files,
// chosen by SNI and reloaded without a restart, modern protocol settings,
// and ALPN dispatch - HTTP/2 connections to an HTTP/2 server, HTTP/1.1
// connections to a listener the HTTP/1 server accepts from. Terminating
// here (rather than in net/http) lets the gateway keep its connection-level
// request checks on HTTPS too.
package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pair names a certificate and its key on disk (PEM).
type Pair struct {
	CertFile string
	KeyFile  string
}

// Store holds the loaded certificates and picks one per handshake by SNI.
type Store struct {
	pairs []Pair
	certs atomic.Pointer[[]*tls.Certificate]
}

// NewStore loads every pair; any unreadable or mismatched pair is an error
// naming its files.
func NewStore(pairs []Pair) (*Store, error) {
	s := &Store{pairs: pairs}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the files. On error the certificates already loaded stay
// in use, so a half-written renewal never takes HTTPS down.
func (s *Store) Reload() error {
	if len(s.pairs) == 0 {
		return errors.New("no certificates configured")
	}
	var certs []*tls.Certificate
	for _, p := range s.pairs {
		c, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return fmt.Errorf("certificate %s (key %s): %w", p.CertFile, p.KeyFile, err)
		}
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return fmt.Errorf("certificate %s: %w", p.CertFile, err)
			}
		}
		certs = append(certs, &c)
	}
	s.certs.Store(&certs)
	return nil
}

// GetCertificate picks the certificate whose names match the SNI (exact
// first, then one wildcard label); without a match, or without SNI, the
// first certificate serves.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *s.certs.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		for _, c := range certs {
			if c.Leaf.VerifyHostname(name) == nil {
				return c, nil
			}
		}
	}
	return certs[0], nil
}

// Config returns the server TLS settings: TLS 1.2 or later, AEAD cipher
// suites with forward secrecy for 1.2 (1.3's are fixed), ALPN h2 and
// http/1.1.
func Config(s *Store, minVersion uint16) *tls.Config {
	if minVersion < tls.VersionTLS12 {
		minVersion = tls.VersionTLS12
	}
	return &tls.Config{
		GetCertificate: s.GetCertificate,
		MinVersion:     minVersion,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// ACMEProto is the ALPN protocol of ACME's TLS-ALPN-01 validation (RFC
// 8737). Offered by the server only when that challenge is enabled; a
// connection that negotiates it is closed after the handshake.
const ACMEProto = "acme-tls/1"

// Dispatcher accepts TCP connections, completes their handshakes off the
// accept loop, and hands each to the HTTP/2 or HTTP/1 side by ALPN.
type Dispatcher struct {
	ln         net.Listener
	cfg        *tls.Config
	handshake  time.Duration
	serveH2    func(*tls.Conn)
	wrapH1     func(net.Conn) net.Conn
	h1         chan net.Conn
	done       chan struct{}
	closeOnce  sync.Once
	handshakes sync.WaitGroup
}

// NewDispatcher serves ln with cfg. serveH2 runs (in its own goroutine) for
// each HTTP/2 connection; HTTP/1 connections, wrapped by wrapH1, are
// accepted from the returned dispatcher's Listener.
func NewDispatcher(ln net.Listener, cfg *tls.Config, handshakeTimeout time.Duration, serveH2 func(*tls.Conn), wrapH1 func(net.Conn) net.Conn) *Dispatcher {
	return &Dispatcher{ln: ln, cfg: cfg, handshake: handshakeTimeout, serveH2: serveH2, wrapH1: wrapH1,
		h1: make(chan net.Conn), done: make(chan struct{})}
}

// Run accepts until the listener closes.
func (d *Dispatcher) Run() error {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			d.Close()
			d.handshakes.Wait()
			return err
		}
		d.handshakes.Add(1)
		go d.serve(c)
	}
}

func (d *Dispatcher) serve(c net.Conn) {
	defer d.handshakes.Done()
	tc := tls.Server(c, d.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), d.handshake)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = c.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		go d.serveH2(tc)
		return
	case ACMEProto:
		// A TLS-ALPN-01 validation: the handshake (the certificate
		// GetCertificate chose for it) was the answer.
		_ = tc.Close()
		return
	}
	select {
	case d.h1 <- d.wrapH1(tc):
	case <-d.done:
		_ = tc.Close()
	}
}

// Listener is what the HTTP/1 server accepts TLS connections from.
func (d *Dispatcher) Listener() net.Listener { return h1Listener{d} }

// Close stops the dispatcher and its listener. Only the first call closes
// (and may fail): the HTTP/1 server closes its listener on shutdown after
// the runner closed the dispatcher, and that is no error.
func (d *Dispatcher) Close() (err error) {
	d.closeOnce.Do(func() { close(d.done); err = d.ln.Close() })
	return err
}

type h1Listener struct{ d *Dispatcher }

func (l h1Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.d.h1:
		return c, nil
	case <-l.d.done:
		return nil, net.ErrClosed
	}
}
func (l h1Listener) Close() error   { return l.d.Close() }
func (l h1Listener) Addr() net.Addr { return l.d.ln.Addr() }

// ParseVersion maps "1.2" / "1.3" to the tls constants.
func ParseVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unsupported TLS version %q; want 1.2 or 1.3", v)
}

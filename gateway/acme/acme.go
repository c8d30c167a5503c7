// Package acme obtains and renews the HTTPS listener's certificates from an
// ACME CA (Let's Encrypt, or any RFC 8555 CA), answering the HTTP-01
// challenge on the plain listener and TLS-ALPN-01 on the TLS listener.
//
// The protocol, the challenge bookkeeping and the storage locking are
// certmagic's (github.com/caddyserver/certmagic), not ours. It was chosen
// over golang.org/x/crypto/acme/autocert because a gateway pair needs what
// autocert lacks: a storage interface with cross-instance locks, so that
// of two gateways sharing a directory only one obtains or renews while the
// other loads the result; distributed challenge solving (the challenge
// token is kept in storage, so whichever gateway the CA reaches answers
// it); renewal by the CA's renewal info (ARI); and retries with back-off.
//
// Sharing: the active and the passive gateway name the same storage
// directory (a shared mount). Each re-reads it every check_interval, so the
// passive one holds, and after a failover serves, the very certificate the
// active one obtained, without asking the CA. Obtaining and renewing run in
// the background: the listeners never wait for the CA, and a CA that cannot
// be reached is logged as an error while static certificates keep serving.
//
// Decisions: directory has no default, so that no public CA is called
// unless the operator names it. A name both in domains and in a static
// certificate gets the ACME certificate once there is one; the static one
// serves it until then (a bootstrap, or a fallback while the CA is down).
// renew_before adds to the library's own schedule (ARI, else the last
// third of the lifetime) rather than replacing it. The library reads the
// real clock, so the tests wait on conditions rather than advancing a fake
// one. Storage is a directory (certmagic's file storage and its lock
// files), to be a shared mount for a pair; S3 is not offered: the AWS
// double the tests use does not speak it.
package acme

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
)

// ALPNProto is the protocol a TLS-ALPN-01 validation offers.
const ALPNProto = tlsterm.ACMEProto

// Options are the Manager's runtime dependencies.
type Options struct {
	// HTTPAddr and TLSAddr are the bound plain and TLS listeners (host:port).
	// The challenges are answered there; the addresses are given to the
	// library so that it never opens challenge listeners of its own.
	HTTPAddr, TLSAddr string
	Logger            *slog.Logger
}

// Manager keeps the certificates of one acme block.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	cache   *certmagic.Cache
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	domains map[string]bool
	cancel  context.CancelFunc
	done    chan struct{}
	stop    sync.Once
}

// New builds a Manager for a validated block; Start begins its work.
func New(c *Config, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	roots, err := c.roots()
	if err != nil {
		return nil, fmt.Errorf("tls.acme.ca_file: %w", err)
	}
	m := &Manager{cfg: *c, log: o.Logger.With("component", "acme"), domains: map[string]bool{}, done: make(chan struct{})}
	m.cfg.Domains = slices.Clone(c.Domains) // the config stays as written
	for i, d := range c.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		m.cfg.Domains[i] = d
		m.domains[d] = true
	}
	zl := zapToSlog(m.log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: c.CheckInterval,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: c.Storage},
		// Let's Encrypt has ended OCSP; other responders are not called.
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
		OnEvent: m.event,
		Logger:  zl,
	})
	tmpl := certmagic.ACMEIssuer{
		CA: c.Directory, Email: c.Email, Agreed: c.AgreeTOS, TrustedRoots: roots, Logger: zl,
		DisableHTTPChallenge:    !c.Uses(HTTP01),
		DisableTLSALPNChallenge: !c.Uses(TLSALPN01),
	}
	// The library binds host:port for a challenge unless it is in use,
	// in which case it trusts whoever listens there: the gateway.
	if host, port, err := net.SplitHostPort(o.HTTPAddr); err == nil {
		tmpl.ListenHost = host
		tmpl.AltHTTPPort, _ = strconv.Atoi(port)
	}
	if host, port, err := net.SplitHostPort(o.TLSAddr); err == nil {
		tmpl.AltTLSALPNPort, _ = strconv.Atoi(port)
		if o.HTTPAddr == "" {
			tmpl.ListenHost = host
		}
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, tmpl)
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// Start loads the certificates storage holds and obtains the missing ones
// in the background; it never blocks on the CA.
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	m.log.Info("acme: managing certificates", "directory", m.cfg.Directory, "domains", m.cfg.Domains,
		"storage", m.cfg.Storage, "challenges", m.cfg.Challenges)
	if err := m.magic.ManageAsync(ctx, m.cfg.Domains); err != nil {
		m.log.Error("acme: cannot manage certificates", "err", err)
	}
	go m.loop(ctx)
}

// Stop ends the background work; a nil Manager is stopped already.
func (m *Manager) Stop() {
	if m == nil {
		return
	}
	m.stop.Do(func() {
		if m.cancel != nil {
			m.cancel()
			<-m.done
		}
		m.cache.Stop()
	})
}

// Manages reports whether name is one of the block's domains.
func (m *Manager) Manages(name string) bool {
	return m.domains[strings.ToLower(strings.TrimSuffix(name, "."))]
}

// Certificate is the newest certificate held for name; nil when none has
// been obtained or loaded yet.
func (m *Manager) Certificate(name string) *tls.Certificate {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !m.domains[name] {
		return nil
	}
	var best *certmagic.Certificate
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotBefore.After(best.Leaf.NotBefore)) {
			best = &c
		}
	}
	if best == nil {
		return nil
	}
	return &best.Certificate
}

// IsChallenge reports whether a ClientHello is a TLS-ALPN-01 validation:
// it offers acme-tls/1 and nothing else.
func IsChallenge(h *tls.ClientHelloInfo) bool {
	return len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == ALPNProto
}

// ChallengeCertificate answers a TLS-ALPN-01 validation (IsChallenge) for
// one of the block's domains.
func (m *Manager) ChallengeCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !m.cfg.Uses(TLSALPN01) || !m.Manages(h.ServerName) {
		return nil, fmt.Errorf("acme: no TLS-ALPN-01 challenge for %q", h.ServerName)
	}
	return m.magic.GetCertificate(h)
}

// ServeChallenge answers an HTTP-01 validation, a GET of
// /.well-known/acme-challenge/TOKEN for one of the domains; it reports
// false, having written nothing, for any other request.
func (m *Manager) ServeChallenge(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, challengePath) || !m.Manages(hostOnly(r.Host)) {
		return false
	}
	if !m.cfg.Uses(HTTP01) || !m.issuer.HandleHTTPChallenge(w, r) {
		http.NotFound(w, r) // the path is the CA's: never routed to a backend
	}
	return true
}

const challengePath = "/.well-known/acme-challenge/"

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// loop re-reads storage every check_interval (a certificate the other
// gateway obtained or renewed replaces ours) and renews by renew_before.
func (m *Manager) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, d := range m.cfg.Domains {
			m.refresh(ctx, d)
		}
	}
}

// refresh loads d's certificate from storage and, when less than
// renew_before is left, renews it. The renewal decision is taken again
// under a storage lock, after re-reading storage, so that of gateways
// sharing it only the first renews and the others load its certificate.
func (m *Manager) refresh(ctx context.Context, d string) {
	if !m.adopt(ctx, d) {
		return // not obtained yet: ManageAsync is at it
	}
	if !m.due(d) {
		return
	}
	lock := "drawbridge_renew_" + d
	if err := m.magic.Storage.Lock(ctx, lock); err != nil {
		m.log.Error("acme: cannot lock storage for renewal", "domain", d, "err", err)
		return
	}
	defer func() { _ = m.magic.Storage.Unlock(context.Background(), lock) }()
	if !m.adopt(ctx, d) || !m.due(d) {
		return
	}
	if err := m.magic.RenewCertSync(ctx, d, true); err != nil {
		return // logged by the event
	}
	m.adopt(ctx, d)
}

// adopt makes the certificate storage holds for d the one served, and
// drops the others held for it (those it replaced); false when storage
// has none.
func (m *Manager) adopt(ctx context.Context, d string) bool {
	c, err := m.magic.CacheManagedCertificate(ctx, d)
	if err != nil {
		return false
	}
	var stale []string
	for _, o := range m.cache.AllMatchingCertificates(d) {
		if o.Hash() != c.Hash() {
			stale = append(stale, o.Hash())
		}
	}
	m.cache.Remove(stale)
	return true
}

// due reports whether d's certificate has less than renew_before left.
func (m *Manager) due(d string) bool {
	c := m.Certificate(d)
	return m.cfg.RenewBefore > 0 && c != nil && time.Until(c.Leaf.NotAfter) < m.cfg.RenewBefore
}

// event logs what an operator must know: certificates obtained, and
// failures (loudly: a failing renewal ends in an expired certificate).
func (m *Manager) event(_ context.Context, name string, data map[string]any) error {
	switch name {
	case "cert_obtained":
		m.log.Info("acme: certificate obtained", "domain", data["identifier"], "renewal", data["renewal"])
	case "cert_failed":
		m.log.Error("acme: obtaining a certificate failed", "domain", data["identifier"], "renewal", data["renewal"],
			"remaining", data["remaining"], "err", data["error"])
	}
	return nil
}

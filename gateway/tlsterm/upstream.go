package tlsterm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Upstream is a pool's tls block: how the gateway speaks TLS to its
// backends (protocol https). Certificates are always verified; there is no
// option to skip it.
type Upstream struct {
	ServerName string `yaml:"server_name"` // SNI and the name the backend's certificate must carry; default each backend's host
	CAFile     string `yaml:"ca_file"`     // PEM bundle of the CAs to trust; default the system roots. Re-read when it changes on disk
	CertFile   string `yaml:"cert_file"`   // client certificate (mTLS), PEM; with key_file, both or neither. Re-read when it changes on disk
	KeyFile    string `yaml:"key_file"`    // the client certificate's private key, PEM
	MinVersion string `yaml:"min_version"` // "1.2" or "1.3"; default "1.2"

	// built is made by Validate, so the files are read when the config is
	// loaded; its callbacks re-read them when they change (upstreamFiles).
	built *tls.Config
}

func (u *Upstream) SetDefaults() { u.MinVersion = "1.2" }

// Validate checks the block and loads its files, by key relative to it.
func (u *Upstream) Validate() yamlconf.Errors {
	var v yamlconf.Check
	c := &tls.Config{ServerName: u.ServerName, MinVersion: tls.VersionTLS12}
	switch u.MinVersion {
	case "1.2":
	case "1.3":
		c.MinVersion = tls.VersionTLS13
	default:
		v.Add("min_version", "want \"1.2\" or \"1.3\", got %q", u.MinVersion)
	}
	switch {
	case u.CertFile != "" && u.KeyFile != "", u.CertFile == "" && u.KeyFile == "":
	case u.CertFile != "":
		v.Add("key_file", "required with cert_file")
	default:
		v.Add("cert_file", "required with key_file")
	}
	if len(v.Errs) > 0 {
		return v.Errs
	}
	f := &upstreamFiles{ca: u.CAFile, cert: u.CertFile, key: u.KeyFile}
	if err := f.load(); err != nil {
		var fe fileError
		if errors.As(err, &fe) {
			v.Add(fe.key, "%v", fe.err)
		}
		return v.Errs
	}
	if f.cert != "" {
		// GetClientCertificate wins over Certificates, which only shows
		// what was loaded first.
		c.Certificates = []tls.Certificate{*f.now.client}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return f.current().client, nil }
	}
	if f.ca != "" {
		// RootCAs is fixed once a config is in use, so the CA bundle's
		// verification is done here, against the bundle as it is now; it
		// is Go's own verification (chain to the roots, server auth usage,
		// the name), only with roots that follow the file.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error { return f.current().verify(cs, cs.ServerName) }
		follow(c, f)
	}
	u.built = c
	return nil
}

// ClientConfig is the configuration Validate built; nil before a
// successful Validate. Callers must not modify it.
func (u *Upstream) ClientConfig() *tls.Config { return u.built }

// ForBackend returns a copy of c for one backend: ServerName defaulted to
// host, the name it is dialled by, and ALPN offering alpn. A copy, because
// net/http's Transport edits the NextProtos of the config it is given and
// the pool's config is shared.
func ForBackend(c *tls.Config, host string, alpn ...string) *tls.Config {
	if c == nil {
		return nil
	}
	f := followed(c)
	c = c.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	c.NextProtos = alpn
	if f != nil {
		// The handshake's state lacks the name when it is an IP (no SNI
		// then), so the name is bound here.
		name := c.ServerName
		c.VerifyConnection = func(cs tls.ConnectionState) error { return f.current().verify(cs, name) }
	}
	return c
}

// following maps a built config to the files its roots follow. Weak, so
// that the configs of past reloads are not kept.
var following sync.Map // weak.Pointer[tls.Config] -> *upstreamFiles

func follow(c *tls.Config, f *upstreamFiles) {
	wp := weak.Make(c)
	following.Store(wp, f)
	runtime.AddCleanup(c, func(wp weak.Pointer[tls.Config]) { following.Delete(wp) }, wp)
}

func followed(c *tls.Config) *upstreamFiles {
	if f, ok := following.Load(weak.Make(c)); ok {
		return f.(*upstreamFiles)
	}
	return nil
}

// UpstreamRecheck is how often, at most, a handshake looks at the files'
// modification times and sizes; a change re-reads them. Rotating a client
// certificate or a CA bundle on disk thus takes effect within a second,
// without a config reload, at the cost of a few stat calls a second.
const UpstreamRecheck = time.Second

// upstreamFiles is a tls block's files as last read. A file that fails to
// load (a half-written rotation, a key that does not match yet) leaves the
// previous contents in use and is tried again at the next check.
type upstreamFiles struct {
	ca, cert, key string

	mu      sync.Mutex
	checked time.Time
	stamp   string
	now     *loaded
}

type loaded struct {
	roots  *x509.CertPool
	client *tls.Certificate
}

// fileError names the key of the file that failed.
type fileError struct {
	key string
	err error
}

func (e fileError) Error() string { return e.key + ": " + e.err.Error() }

// current is what the files hold, re-read if they changed.
func (f *upstreamFiles) current() *loaded {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) >= UpstreamRecheck {
		f.checked = time.Now()
		if f.stampNow() != f.stamp {
			_ = f.locked()
		}
	}
	return f.now
}

func (f *upstreamFiles) load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = time.Now()
	return f.locked()
}

// locked reads the files; f.mu is held.
func (f *upstreamFiles) locked() error {
	stamp := f.stampNow()
	next := &loaded{}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return fileError{"ca_file", err}
		}
		next.roots = x509.NewCertPool()
		if !next.roots.AppendCertsFromPEM(pem) {
			return fileError{"ca_file", fmt.Errorf("%s holds no PEM certificate", f.ca)}
		}
	}
	if f.cert != "" {
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return fileError{"cert_file", err}
		}
		next.client = &c
	}
	f.now, f.stamp = next, stamp
	return nil
}

// stampNow identifies the files' versions by modification time and size.
func (f *upstreamFiles) stampNow() string {
	s := ""
	for _, p := range []string{f.ca, f.cert, f.key} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		} else {
			s += "missing;"
		}
	}
	return s
}

// verify checks the backend's chain against the roots and its name.
func (l *loaded) verify(cs tls.ConnectionState, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: backend sent no certificate")
	}
	if name == "" {
		return errors.New("tls: no server name to verify the backend's certificate against")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: l.roots, Intermediates: inter, DNSName: name}); err != nil {
		return fmt.Errorf("tls: failed to verify certificate: %w", err) // Go's own wording
	}
	return nil
}

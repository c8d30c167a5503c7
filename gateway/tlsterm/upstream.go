package tlsterm

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Upstream is a pool's tls block: how the gateway speaks TLS to its
// backends (protocol https). Certificates are always verified; there is no
// option to skip it.
type Upstream struct {
	ServerName string `yaml:"server_name"` // SNI and the name the backend's certificate must carry; default each backend's host
	CAFile     string `yaml:"ca_file"`     // PEM bundle of the CAs to trust; default the system roots
	CertFile   string `yaml:"cert_file"`   // client certificate (mTLS), PEM; with key_file, both or neither
	KeyFile    string `yaml:"key_file"`    // the client certificate's private key, PEM
	MinVersion string `yaml:"min_version"` // "1.2" or "1.3"; default "1.2"

	// built is made by Validate, so the files are read when the config is
	// loaded (and re-read on every reload, which loads a new config).
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
	if u.CAFile != "" {
		pem, err := os.ReadFile(u.CAFile)
		if err != nil {
			v.Add("ca_file", "%v", err)
		} else {
			c.RootCAs = x509.NewCertPool()
			if !c.RootCAs.AppendCertsFromPEM(pem) {
				v.Add("ca_file", "%s holds no PEM certificate", u.CAFile)
			}
		}
	}
	switch {
	case u.CertFile != "" && u.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(u.CertFile, u.KeyFile)
		if err != nil {
			v.Add("cert_file", "%v", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case u.CertFile != "":
		v.Add("key_file", "required with cert_file")
	case u.KeyFile != "":
		v.Add("cert_file", "required with key_file")
	}
	if len(v.Errs) == 0 {
		u.built = c
	}
	return v.Errs
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
	c = c.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	c.NextProtos = alpn
	return c
}

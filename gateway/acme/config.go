package acme

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Challenge types.
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// Config is the tls section's acme block.
type Config struct {
	Enabled       bool          `yaml:"enabled"`        // false keeps the block written down, unchecked and unused
	Directory     string        `yaml:"directory"`      // the CA's ACME directory URL (https); required, so that no public CA is ever called by surprise
	CAFile        string        `yaml:"ca_file"`        // PEM bundle trusted for the directory's HTTPS (a private or test CA); default the system roots
	Email         string        `yaml:"email"`          // the account's contact address, for the CA's expiry and policy notices
	AgreeTOS      bool          `yaml:"agree_tos"`      // you agree to the CA's terms of service; required true
	Domains       []string      `yaml:"domains"`        // names to obtain certificates for (one certificate each); no wildcards (they need DNS-01)
	Storage       string        `yaml:"storage"`        // existing directory for account, keys and certificates; share it between the active and the passive gateway
	Challenges    []string      `yaml:"challenges"`     // "http-01" (answered on the plain listener) and/or "tls-alpn-01" (on the TLS listener)
	RenewBefore   time.Duration `yaml:"renew_before"`   // also renew when less than this is left; 0 = when the CA's renewal info (ARI) says, else in the last third of the lifetime
	CheckInterval time.Duration `yaml:"check_interval"` // how often expiry is checked and storage re-read for certificates another instance wrote
}

func (c *Config) SetDefaults() {
	c.Enabled = true
	c.Challenges = []string{HTTP01, TLSALPN01}
	c.CheckInterval = 10 * time.Minute
}

// Validate checks the block, by key relative to it. It reads ca_file and
// looks at storage, so that a mistake is reported with its line rather
// than when a certificate is due.
func (c *Config) Validate() yamlconf.Errors {
	var v yamlconf.Check
	if !c.Enabled {
		return nil
	}
	if c.Directory == "" {
		v.Add("directory", "required (for Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory)")
	} else if u, err := url.Parse(c.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		v.Add("directory", "want an https URL, got %q", c.Directory)
	}
	if c.CAFile != "" {
		if _, err := c.roots(); err != nil {
			v.Add("ca_file", "%v", err)
		}
	}
	if !c.AgreeTOS {
		v.Add("agree_tos", "must be true: the CA issues only to accounts that agree to its terms of service")
	}
	if len(c.Domains) == 0 {
		v.Add("domains", "at least one name is required")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		k := fmt.Sprintf("domains[%d]", i)
		n := strings.ToLower(d)
		switch {
		case strings.Contains(n, "*"):
			v.Add(k, "%q: wildcard names need the DNS-01 challenge, which is not supported", d)
		case net.ParseIP(n) != nil:
			v.Add(k, "%q: IP addresses are not supported", d)
		case !validName(n):
			v.Add(k, "%q is not a DNS name", d)
		case seen[n]:
			v.Add(k, "%q is listed twice", d)
		}
		seen[n] = true
	}
	if c.Storage == "" {
		v.Add("storage", "required: a directory (shared between active and passive gateways)")
	} else if fi, err := os.Stat(c.Storage); err != nil {
		v.Add("storage", "%v", err)
	} else if !fi.IsDir() {
		v.Add("storage", "%s is not a directory", c.Storage)
	}
	if len(c.Challenges) == 0 {
		v.Add("challenges", "at least one of %q, %q", HTTP01, TLSALPN01)
	}
	for i, ch := range c.Challenges {
		k := fmt.Sprintf("challenges[%d]", i)
		if ch != HTTP01 && ch != TLSALPN01 {
			v.Add(k, "unknown challenge type %q; want %q or %q", ch, HTTP01, TLSALPN01)
		} else if slices.Index(c.Challenges, ch) != i {
			v.Add(k, "%q is listed twice", ch)
		}
	}
	v.NonNegative("renew_before", c.RenewBefore)
	v.Positive("check_interval", c.CheckInterval)
	return v.Errs
}

// On reports whether c is a block in use; c may be nil (no block).
func (c *Config) On() bool { return c != nil && c.Enabled }

// Uses reports whether challenge type ch is enabled.
func (c *Config) Uses(ch string) bool { return slices.Contains(c.Challenges, ch) }

// roots is the pool ca_file names; nil (system roots) without one.
func (c *Config) roots() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
	}
	return p, nil
}

// validName reports whether n is a DNS name of at least two labels made of
// letters, digits and inner hyphens (what a public CA issues for).
func validName(n string) bool {
	n = strings.TrimSuffix(n, ".")
	labels := strings.Split(n, ".")
	if len(n) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

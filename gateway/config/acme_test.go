package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestACMEErrors: mistakes in tls.acme are reported with the file, the
// line and the key.
func TestACMEErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notadir"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadACME(t, dir, `  acme:
    directory: http://ca.example/dir
    domains: ["*.example.com", gw.example.com, gw.example.com, localhost]
    storage: notadir
    challenges: [http-01, dns-01]
    renew_before: -1h
`)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`gw.yaml:7: tls.acme.directory: want an https URL, got "http://ca.example/dir"`,
		`gw.yaml:6: tls.acme.agree_tos: must be true`,
		`gw.yaml:8: tls.acme.domains[0]: "*.example.com": wildcard names need the DNS-01 challenge`,
		`gw.yaml:8: tls.acme.domains[2]: "gw.example.com" is listed twice`,
		`gw.yaml:8: tls.acme.domains[3]: "localhost" is not a DNS name`,
		`gw.yaml:9: tls.acme.storage: ` + filepath.Join(dir, "notadir") + ` is not a directory`,
		`gw.yaml:10: tls.acme.challenges[1]: unknown challenge type "dns-01"`,
		`gw.yaml:11: tls.acme.renew_before: `,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tls.certificates") {
		t.Errorf("an acme block stands in for certificates: %v", err)
	}
}

// TestACMEDefaults: both challenges, a ten-minute check, and certificate
// files not required beside an acme block.
func TestACMEDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := loadACME(t, dir, `  acme: {directory: "https://ca.example/dir", agree_tos: true, domains: [gw.example.com], storage: .}
`)
	if err != nil {
		t.Fatal(err)
	}
	a := c.TLS.ACME
	if strings.Join(a.Challenges, ",") != "http-01,tls-alpn-01" || a.CheckInterval.String() != "10m0s" || a.RenewBefore != 0 || a.Storage != dir {
		t.Errorf("defaults: %+v", a)
	}
}

// loadACME loads dir/gw.yaml: a minimal gateway whose tls section ends
// with tls (its acme block); line 6 is tls's first line after listen.
func loadACME(t *testing.T, dir, tls string) (*Config, error) {
	t.Helper()
	path := filepath.Join(dir, "gw.yaml")
	yaml := `listen: 127.0.0.1:0
pools: [{name: app, backends: [{address: 127.0.0.1:1}]}]
routes: [{name: all, match: {path_prefix: /}, pool: app}]
tls:
  listen: 127.0.0.1:0
` + tls
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

// TestACMEDisabled: enabled: false keeps a block written down unchecked,
// and it does not stand in for certificates.
func TestACMEDisabled(t *testing.T) {
	_, err := loadACME(t, t.TempDir(), `  acme: {enabled: false, directory: "http://x", storage: /nonexistent}
`)
	if err == nil || !strings.Contains(err.Error(), "gw.yaml:4: tls.certificates: at least one certificate is required") || strings.Contains(err.Error(), "tls.acme.") {
		t.Fatalf("got %v, want only the missing certificates", err)
	}
}

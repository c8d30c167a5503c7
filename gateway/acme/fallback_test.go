package acme_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestUnreachableCA: a CA that cannot be reached neither stops the gateway
// nor its static certificates, which serve the ACME domain meanwhile; the
// failure is logged as an error. The plain listener answers the challenge
// path of an ACME domain itself (404 for an unknown token) and routes
// everything else.
func TestUnreachableCA(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "static")
	cert, key := ca.Server("gw.example.com").WriteFiles(t, dir, "static")
	caFile := testkit.WriteFile(t, dir, "ca.pem", ca.PEM)
	body := fmt.Sprintf(`  certificates: [{cert_file: %s, key_file: %s}]
  acme:
    directory: https://%s/dir
    ca_file: %s
    agree_tos: true
    domains: [gw.example.com]
    storage: %s
`, cert, key, testkit.DeadAddr(t), caFile, t.TempDir())
	g := runGateway(t, "127.0.0.1", 0, 0, body)

	leaf, err := served(g.https, "gw.example.com", ca.Pool)
	if err != nil {
		t.Fatalf("static certificate while the CA is unreachable: %v", err)
	}
	if leaf.Issuer.CommonName != "static" {
		t.Errorf("served a certificate issued by %q", leaf.Issuer.CommonName)
	}
	testkit.Eventually(t, "an error logged for the unreachable CA", func() bool {
		return strings.Contains(g.log.String(), "level=ERROR msg=\"acme: ")
	})

	for _, c := range []struct{ host, path, want string }{
		{"gw.example.com", "/.well-known/acme-challenge/unknown-token", "404"},
		{"gw.example.com:80", "/.well-known/acme-challenge/x", "404"},
		{"other.example.com", "/.well-known/acme-challenge/x", "routed"},
		{"gw.example.com", "/app", "routed"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.http+c.path, nil)
		req.Host = c.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(b)
		if resp.StatusCode == http.StatusNotFound {
			got = "404"
		}
		if got != c.want {
			t.Errorf("GET %s%s: %d %q, want %s", c.host, c.path, resp.StatusCode, b, c.want)
		}
	}
}

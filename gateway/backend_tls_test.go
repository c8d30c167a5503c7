package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// startTLSBackend requires a client certificate clientCA signed and
// answers with its name.
func startTLSBackend(t *testing.T, cert tls.Certificate, clientCA *testkit.CA) string {
	return testkit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}), cert, clientCA).Listener.Addr().String()
}

// An https pool forwards to an mTLS backend its CA signed, refuses one
// whose certificate names another host (502, the reason in the access
// log), and re-reads its certificate files on reload.
func TestHTTPSPool(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "test CA")
	caFile := testkit.WriteFile(t, dir, "ca.pem", ca.PEM)
	writeClient := func(cn string) (certFile, keyFile string) { return ca.Client(cn).WriteFiles(t, dir, "client") }
	certFile, keyFile := writeClient("gateway")
	tlsBlock := fmt.Sprintf("protocol: https\ntls: {ca_file: %s, cert_file: %s, key_file: %s}", caFile, certFile, keyFile)

	good := startTLSBackend(t, ca.Server("127.0.0.1").TLS, ca)
	g, gw := startGateway(t, parseConfig(t, poolConfigAddrs(tlsBlock, good)), Options{})
	if code, body, _ := get(t, gw.Client(), gw.URL+"/"); code != 200 || body != "hello gateway" {
		t.Fatalf("https pool: %d %q", code, body)
	}

	// A reload builds the TLS config again from the files.
	writeClient("gateway-renewed")
	if err := g.Apply(parseConfig(t, poolConfigAddrs(tlsBlock, good))); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, gw.Client(), gw.URL+"/"); code != 200 || body != "hello gateway-renewed" {
		t.Fatalf("after reload: %d %q", code, body)
	}

	wrong := startTLSBackend(t, ca.Server("other.internal").TLS, ca)
	cfg := parseConfig(t, poolConfigAddrs(tlsBlock, wrong))
	cfg.AccessLog.Enabled = true
	logs := &testkit.Buffer{}
	_, gw2 := startGateway(t, cfg, Options{AccessLogWriter: logs})
	if code, _, _ := get(t, gw2.Client(), gw2.URL+"/"); code != http.StatusBadGateway {
		t.Fatalf("wrong-name backend: %d, want 502", code)
	}
	line := accessLines(t, logs, 1)[0]
	if r := fmt.Sprint(line); !strings.Contains(r, "failed to verify certificate") {
		t.Fatalf("access log does not say why: %v", line)
	}
}

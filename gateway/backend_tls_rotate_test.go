package gateway

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// An https pool's client certificate rotated on disk reaches its mTLS
// backend without a reload: the gateway re-reads the changed files at the
// next handshake (the backend closes each connection, so each request
// handshakes).
func TestHTTPSPoolClientCertRotatedOnDisk(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "test CA")
	certFile, keyFile := ca.Client("gateway-1").WriteFiles(t, dir, "client")
	be := testkit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}), ca.Server("127.0.0.1").TLS, ca).Listener.Addr().String()
	tlsBlock := fmt.Sprintf("protocol: https\ntls: {ca_file: %s, cert_file: %s, key_file: %s}",
		testkit.WriteFile(t, dir, "ca.pem", ca.PEM), certFile, keyFile)
	_, gw := startGateway(t, parseConfig(t, poolConfigAddrs(tlsBlock, be)), Options{})
	if code, body, _ := get(t, gw.Client(), gw.URL+"/"); code != 200 || body != "hello gateway-1" {
		t.Fatalf("before rotation: %d %q", code, body)
	}

	second := ca.Client("gateway-2")
	testkit.Replace(t, keyFile, second.KeyPEM)
	testkit.Replace(t, certFile, second.CertPEM)
	testkit.Eventually(t, "the backend to see the rotated client certificate", func() bool {
		code, body, _ := get(t, gw.Client(), gw.URL+"/")
		return code == 200 && body == "hello gateway-2"
	})
}

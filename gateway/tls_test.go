package gateway

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// writeCert writes a self-signed certificate for name with the given
// serial number to dir and returns its PEM (for a client's root pool).
func writeCert(t *testing.T, dir, name string, serial int64) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Write key then cert through renames, as a certificate renewer would.
	for file, data := range map[string][]byte{
		name + ".key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		name + ".crt": certPEM,
	} {
		tmp := filepath.Join(dir, "."+file+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM
}

func TestTLSTermination(t *testing.T) {
	rec := &recorder{}
	be := startHandlerBackend(t, rec)
	dir := t.TempDir()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(writeCert(t, dir, "a.test", 1))
	pool.AppendCertsFromPEM(writeCert(t, dir, "b.test", 2))
	path := filepath.Join(dir, "gateway.yaml")
	writeConfig(t, path, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {enabled: false}
access_log: {enabled: false}
tls:
	listen: 127.0.0.1:0
	certificates:
		- {cert_file: a.test.crt, key_file: a.test.key}
		- {cert_file: b.test.crt, key_file: b.test.key}
	redirect_http: true
routes: [{name: all, pool: p}]
pools: [{name: p, backends: [{address: %s}]}]
`, be.Addr()))
	rn := runGateway(t, path, nil)

	dial := func(sni string, maxVersion uint16, protos ...string) (*tls.Conn, error) {
		return tls.Dial("tcp", rn.https, &tls.Config{RootCAs: pool, ServerName: sni, MaxVersion: maxVersion, NextProtos: protos})
	}
	for sni, serial := range map[string]int64{"a.test": 1, "b.test": 2} {
		c, err := dial(sni, 0)
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		if got := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != serial {
			t.Errorf("SNI %s got certificate %d, want %d", sni, got, serial)
		}
		c.Close()
	}
	if c, err := tls.Dial("tcp", rn.https, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}); err == nil {
		c.Close()
		t.Error("TLS 1.1 handshake accepted")
	}

	// HTTP/2 through ALPN, and the backend learns the request was HTTPS.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "a.test"}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + rn.https + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || rec.last(t).Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("proto %s, backend saw X-Forwarded-Proto %q", resp.Proto, rec.last(t).Header.Get("X-Forwarded-Proto"))
	}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "b.test"}}}
	h1.Transport.(*http.Transport).TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	resp, err = h1.Get("https://" + rn.https + "/one")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.StatusCode != 200 || rec.last(t).Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("HTTP/1.1 over TLS: %s %d", resp.Proto, resp.StatusCode)
	}

	// Plain HTTP is redirected.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + rn.addr + "/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := splitHostPortT(rn.https)
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://127.0.0.1:"+port+"/x?y=1" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The framing guard also covers HTTP/1.1 over TLS.
	c, err := dial("a.test", 0, "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "POST /a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	sresp, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close()
	if err != nil || sresp.StatusCode != 400 {
		t.Fatalf("CL+TE over TLS: %v %v", sresp, err)
	}

	// A renewed certificate is served without a restart.
	writeCert(t, dir, "a.test", 99)
	testkit.Eventually(t, "renewed certificate served", func() bool {
		c, err := tls.Dial("tcp", rn.https, &tls.Config{InsecureSkipVerify: true, ServerName: "a.test"})
		if err != nil {
			return false
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64() == 99
	})
}

func splitHostPortT(a string) (string, string, error) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			return a[:i], a[i+1:], nil
		}
	}
	return a, "", fmt.Errorf("no port in %q", a)
}

// The documented example must not only parse but build a working gateway
// (its certificates load, its strategies and hash keys compile).
func TestExampleConfigBuilds(t *testing.T) {
	cfg, err := config.Load("../examples/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessLogWriter: io.Discard})
	if err != nil {
		t.Fatalf("examples/gateway.yaml does not build: %v", err)
	}
	g.Close()
}

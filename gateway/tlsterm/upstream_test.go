package tlsterm_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/tlsterm"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestUpstreamFilesRotate: a pool's client certificate and CA bundle are
// re-read when they change on disk, with no config reload: an mTLS backend
// sees the new client certificate, and the trust follows the new bundle.
func TestUpstreamFilesRotate(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := testkit.NewCA(t, "servers"), testkit.NewCA(t, "clients")
	whoAmI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // every request handshakes anew
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	})
	backend := testkit.StartTLS(t, whoAmI, serverCA.Server("127.0.0.1").TLS, clientCA)

	first := clientCA.Client("client-1")
	u := &tlsterm.Upstream{
		CAFile:   testkit.WriteFile(t, dir, "ca.pem", serverCA.PEM),
		CertFile: testkit.WriteFile(t, dir, "client.pem", first.CertPEM),
		KeyFile:  testkit.WriteFile(t, dir, "client.key", first.KeyPEM),
	}
	u.SetDefaults()
	if errs := u.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   tlsterm.ForBackend(u.ClientConfig(), "127.0.0.1", "http/1.1"),
		DisableKeepAlives: true,
	}}
	get := func(url string) (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(backend.URL); got != "client-1" {
		t.Fatalf("before rotation: %q %v", got, err)
	}

	second := clientCA.Client("client-2")
	// The key first: until the certificate follows, the pair does not
	// match, and the previous one stays in use.
	testkit.Replace(t, u.KeyFile, second.KeyPEM)
	testkit.Replace(t, u.CertFile, second.CertPEM)
	testkit.Eventually(t, "the backend to see the rotated client certificate", func() bool {
		got, _ := get(backend.URL)
		return got == "client-2"
	})

	// A new server CA: a backend under it is refused until the bundle
	// names it, then trusted; the backend under the old CA is refused.
	newCA := testkit.NewCA(t, "servers-2")
	moved := testkit.StartTLS(t, whoAmI, newCA.Server("127.0.0.1").TLS, clientCA)
	if _, err := get(moved.URL); err == nil || !strings.Contains(err.Error(), "failed to verify certificate") {
		t.Fatalf("backend under an untrusted CA: %v", err)
	}
	testkit.Replace(t, u.CAFile, newCA.PEM)
	testkit.Eventually(t, "the backend under the new CA to be trusted", func() bool {
		got, _ := get(moved.URL)
		return got == "client-2"
	})
	if _, err := get(backend.URL); err == nil {
		t.Fatal("the backend under the CA no longer in the bundle is still trusted")
	}
}

// TestUpstreamVerifiesName: with a CA bundle, whose verification the
// gateway does itself, a certificate for another name is refused.
func TestUpstreamVerifiesName(t *testing.T) {
	ca := testkit.NewCA(t, "servers")
	be := testkit.StartTLS(t, http.NotFoundHandler(), ca.Server("other.internal").TLS, nil)
	u := &tlsterm.Upstream{CAFile: testkit.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)}
	u.SetDefaults()
	if errs := u.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, name := range []string{"127.0.0.1", "elsewhere.internal"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsterm.ForBackend(u.ClientConfig(), name, "http/1.1")}}
		_, err := c.Get(be.URL)
		if err == nil || !strings.Contains(err.Error(), "failed to verify certificate") {
			t.Errorf("name %s: %v, want a name mismatch", name, err)
		}
	}
}

package tlsterm

import (
	"os"
	"testing"

	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// TestHalfRotatedPairKeepsPrevious: a certificate and key that do not
// match (the key rotated, the certificate not yet) leave the previous pair
// in use; once both are new, the new pair loads.
func TestHalfRotatedPairKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "clients")
	one, two := ca.Client("one"), ca.Client("two")
	f := new(upstreamFiles)
	f.cert, f.key = one.WriteFiles(t, dir, "client")
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.key, two.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.load(); err == nil {
		t.Fatal("a mismatched pair loaded")
	}
	if cn := f.now.client.Leaf.Subject.CommonName; cn != "one" {
		t.Fatalf("after a failed load: %q in use, want the previous one", cn)
	}
	if err := os.WriteFile(f.cert, two.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	if cn := f.now.client.Leaf.Subject.CommonName; cn != "two" {
		t.Fatalf("after rotation: %q", cn)
	}
}

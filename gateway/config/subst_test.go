package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSubstitutes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sticky.key"), []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `routes: [{name: r, pool: p}]
max_concurrent: ${GW_MAXC}
pools:
  - name: p
    backends:
      - address: ${BACKEND_A}
      - address: ${BACKEND_B}
    sticky:
      secret: ${file:sticky.key}
`
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GW_MAXC", "500")
	t.Setenv("BACKEND_A", "127.0.0.1:9001")
	t.Setenv("BACKEND_B", "127.0.0.1:9002")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxConcurrent != 500 {
		t.Errorf("max_concurrent = %d, want 500 (an integer from the environment)", c.MaxConcurrent)
	}
	if a, b := c.Pools[0].Backends[0].Address, c.Pools[0].Backends[1].Address; a != "127.0.0.1:9001" || b != "127.0.0.1:9002" {
		t.Errorf("backends = %q, %q", a, b)
	}
	if got := c.Pools[0].Sticky.Secret; got != "0123456789abcdef0123" {
		t.Errorf("secret = %q, want the file's content without its newline", got)
	}
	if got := c.SubstitutedFiles(); len(got) != 1 || got[0] != filepath.Join(dir, "sticky.key") {
		t.Errorf("SubstitutedFiles() = %v", got)
	}

	os.Unsetenv("BACKEND_B") // t.Setenv restores it
	_, err = Load(path)
	if want := path + ":7: pools[0].backends[1].address: environment variable BACKEND_B is not set"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unset variable: err = %v, want %s", err, want)
	}

	// A secret that fails validation is not echoed.
	t.Setenv("BACKEND_B", "127.0.0.1:9002")
	if err := os.WriteFile(filepath.Join(dir, "sticky.key"), []byte("short-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || strings.Contains(err.Error(), "short-secret") || !strings.Contains(err.Error(), "pools[0].sticky.secret") {
		t.Errorf("short secret: err = %v, want an error about the key without the secret", err)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runRelease runs scripts/release.sh in dir for one architecture and
// returns its SHA256SUMS.
func runRelease(t *testing.T, dir, arch string) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/release.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARCHES="+arch, "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh in %s: %v\n%s", dir, err, b)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("release.sh wrote no SHA256SUMS: %v", err)
	}
	return string(sums)
}

// The same commit built with the same Go gives the same bytes, from two
// checkouts at different paths.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the release binary twice")
	}
	for _, tool := range []string{"bash", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: release.sh needs it", tool)
		}
	}
	a, _ := checkout(t)
	b, _ := checkout(t)
	sumA, sumB := runRelease(t, a, "amd64"), runRelease(t, b, "amd64")
	if !strings.Contains(sumA, "  drawbridge-linux-amd64\n") {
		t.Fatalf("SHA256SUMS = %q; want a line for drawbridge-linux-amd64", sumA)
	}
	if sumA != sumB {
		t.Fatalf("two builds of one commit differ:\n%s (in %s)\n%s (in %s)", sumA, a, sumB, b)
	}
}

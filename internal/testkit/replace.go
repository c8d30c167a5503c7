package testkit

import (
	"os"
	"testing"
)

// Replace writes data to path as certificate renewers and config managers
// do: a new file renamed over the old one, so readers see either whole.
func Replace(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

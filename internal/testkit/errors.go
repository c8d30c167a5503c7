package testkit

import (
	"strings"
	"testing"
)

// WantErr checks err against a table case's expectation: with want set,
// err must mention it, and WantErr returns true (the case is done);
// without, err must be nil and WantErr returns false (check the result).
// Either way a mismatch fails the test at once.
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one mentioning %q", err, want)
	}
	return true
}

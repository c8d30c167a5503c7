package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutoscalerValidate: like gateway validate, "FILE: ok" on stdout and
// exit 0 for a valid config, exit 2 with FILE:LINE: key: message for an
// invalid one or a missing flag or file.
func TestAutoscalerValidate(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "autoscaler.yaml")
	out, err := run(t, "autoscaler", "validate", "--config", example)
	if err != nil || strings.TrimSpace(out) != example+": ok" {
		t.Fatalf("validate example: %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("interval: 60s\ngroups:\n  - name: web\n    min: 9\n    max: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"autoscaler", "validate", "--config", bad}, bad + ":4: groups[0].min"},
		{[]string{"autoscaler", "validate"}, "--config is required"},
		{[]string{"autoscaler", "validate", "--config", "/nonexistent.yaml"}, `--config "/nonexistent.yaml"`},
		{[]string{"gateway", "validate", "--config", bad}, bad + ":"}, // the same exit code for the other config
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want exit 2 mentioning %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

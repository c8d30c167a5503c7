package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeAutoscalerQuickStart runs the README's `autoscaler simulate`
// command lines as written, from the repository root, on the traces the
// repository ships (examples/traces): they must work from a plain clone.
// Only the /tmp chart paths move to the test's own directory.
func TestReadmeAutoscalerQuickStart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "go run ./cmd/drawbridge "
	var cmds []string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, prefix+"autoscaler simulate ") {
			cmds = append(cmds, strings.TrimPrefix(l, prefix))
		}
	}
	if len(cmds) < 2 {
		t.Fatalf("README.md: found %d autoscaler simulate command lines, want the quick-start's 2", len(cmds))
	}
	tmp := t.TempDir()
	t.Chdir(filepath.Join("..", ".."))
	for _, c := range cmds {
		args := strings.Fields(c)
		var chart string
		for i, a := range args {
			if strings.HasPrefix(a, "/tmp/") {
				args[i] = filepath.Join(tmp, strings.TrimPrefix(a, "/tmp/"))
				chart = args[i]
			}
		}
		out, err := run(t, args...)
		if err != nil {
			t.Errorf("README: %s: %v\n%s", c, err, out)
			continue
		}
		if !strings.Contains(out, "reactive@70%") {
			t.Errorf("README: %s: no comparison with reactive in\n%s", c, out)
		}
		if chart != "" {
			if fi, err := os.Stat(chart); err != nil || fi.Size() == 0 {
				t.Errorf("README: %s: chart not written: %v", c, err)
			}
		}
	}
}

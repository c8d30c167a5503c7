package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeAutoscalerQuickStart runs the README's `autoscaler simulate`
// and `autoscaler validate` command lines as written, from the repository
// root, on the traces and configs the repository ships: they must work
// from a plain clone. Only the /tmp chart paths move to the test's own
// directory.
func TestReadmeAutoscalerQuickStart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "go run ./cmd/drawbridge "
	var cmds []string
	validated := false
	for _, l := range strings.Split(string(readme), "\n") {
		l, _, _ = strings.Cut(l, "#") // a trailing comment
		if strings.HasPrefix(l, prefix+"autoscaler simulate ") || strings.HasPrefix(l, prefix+"autoscaler validate ") {
			cmds = append(cmds, strings.TrimSpace(strings.TrimPrefix(l, prefix)))
			validated = validated || strings.Contains(l, " validate ")
		}
	}
	if len(cmds) < 3 || !validated {
		t.Fatalf("README.md: found %v, want the quick-start's two simulate lines and its validate line", cmds)
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
		if args[1] == "validate" {
			if !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
				t.Errorf("README: %s: %q, want FILE: ok", c, out)
			}
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

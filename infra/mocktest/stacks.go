package mocktest

import (
	"path/filepath"
	"strings"
	"testing"
)

// StackFile is one stack file, stacks/Pulumi.<Stack>.yaml.
type StackFile struct {
	Stack, Path string
}

// StackFiles returns the stack files in dir, in name order, failing t
// unless there are the four: dev, staging, prod and localstack.
func StackFiles(t testing.TB, dir string) []StackFile {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if len(files) != 4 {
		t.Fatalf("want 4 stack files (dev, staging, prod, localstack), got %v", files)
	}
	out := make([]StackFile, len(files))
	for i, f := range files {
		out[i] = StackFile{strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"), f}
	}
	return out
}

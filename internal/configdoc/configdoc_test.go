package configdoc

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReferencesUpToDate fails when a committed reference differs from
// what the generator writes from today's structs.
func TestReferencesUpToDate(t *testing.T) {
	root, module, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Docs {
		want, err := Render(d, root, module)
		if err != nil {
			t.Fatalf("%s: %v", d.File, err)
		}
		path := filepath.Join(root, "docs", d.File)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go generate ./internal/configdoc)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: run go generate ./internal/configdoc and commit the result\n%s", path, firstDiff(string(got), string(want)))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + a + "\n  generated: " + b
		}
	}
	return ""
}

// The generator on a small config: keys, types, defaults from
// SetDefaults, comments from this file, optional blocks, lists, and a
// tagged union's kinds.
type testConfig struct {
	Listen  string        `yaml:"listen"`  // where to listen
	Timeout time.Duration `yaml:"timeout"` // how long to wait
	Block   *testBlock    `yaml:"block"`   // optional block
	Items   []testItem    `yaml:"items"`
	Kinded  testUnion     `yaml:"kinded"`
	hidden  int
	Skipped string `yaml:"-"`
}

func (c *testConfig) SetDefaults() { c.Listen, c.Timeout = ":80", 90*time.Second }

type testBlock struct {
	// Size is the block's size.
	Size int `yaml:"size"`
}

func (b *testBlock) SetDefaults() { b.Size = 7 }

type testItem struct {
	Tags map[string]string `yaml:"tags"`
}

type testUnion struct {
	Type string   `yaml:"type"` // the kind
	Spec testSpec `yaml:",spec"`
}

type testSpec interface{ spec() }

type testRegistry struct{}

func (testRegistry) Names() []string { return []string{"a", "b"} }
func (testRegistry) New(name string) (testSpec, error) {
	switch name {
	case "a":
		return &kindA{Depth: 3}, nil
	case "b":
		return &kindB{}, nil
	}
	return nil, errors.New("unknown")
}

func (*testUnion) Union() (string, any) { return "type", testRegistry{} }

type kindA struct {
	Depth int `yaml:"depth"` // how deep
}

func (*kindA) spec() {}

type kindB struct {
	Path string `yaml:"path"` // where
}

func (*kindB) spec() {}

func TestRender(t *testing.T) {
	root, module, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(Doc{File: "test.md", Title: "T", Intro: "I", Root: &testConfig{}}, root, module)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"| `listen` | string | `\":80\"` | where to listen |",
		"| `timeout` | duration | `1m30s` | how long to wait |",
		"| `block` | object | none | optional block |",
		"| `block.size` | integer | `7` | Size is the block's size. |",
		"| `items` | list of object | `[]` |   |",
		"| `items[].tags` | map of string to string | `{}` |   |",
		"| `kinded.type` | string | `\"\"` | the kind. One of: a, b; each kind's own keys follow, marked with it. |",
		"| `kinded.depth` | integer | `3` | *a*: how deep |",
		"| `kinded.path` | string | `\"\"` | *b*: where |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reference lacks\n%s\nin\n%s", want, out)
		}
	}
	for _, no := range []string{"hidden", "Skipped", "spec"} {
		if strings.Contains(out, no) {
			t.Errorf("reference shows %q:\n%s", no, out)
		}
	}
}

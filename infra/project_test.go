package infra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/esc"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// engineConfig does what the pulumi CLI does before running the program:
// load Pulumi.yaml and the stack file with Pulumi's own loaders, validate
// the stack's values against the project's config schema, apply the
// project defaults, and flatten to the strings the program receives.
func engineConfig(t *testing.T, proj *workspace.Project, stack, path string) map[string]string {
	t.Helper()
	ps, err := workspace.LoadProjectStack(diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}), proj, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.ValidateStackConfigAndApplyProjectConfig(context.Background(), stack, proj, esc.Value{}, ps.Config, config.NopEncrypter, config.NopDecrypter); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	plain, err := ps.Config.Decrypt(config.NopDecrypter)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range plain {
		out[k.String()] = v
	}
	return out
}

func loadProject(t *testing.T) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject("../Pulumi.yaml") // validates against Pulumi's project JSON schema
	if err != nil {
		t.Fatal(err)
	}
	if proj.Main != "cmd/infra" || proj.StackConfigDir != "stacks" || proj.Runtime.Name() != "go" {
		t.Fatalf("Pulumi.yaml: main %q, stackConfigDir %q, runtime %q", proj.Main, proj.StackConfigDir, proj.Runtime.Name())
	}
	return proj
}

// TestStacksBuildWithEngineConfig: every stack file passes Pulumi's schema
// validation and, with the project defaults applied, builds under mocks.
func TestStacksBuildWithEngineConfig(t *testing.T) {
	proj := loadProject(t)
	files, _ := filepath.Glob("../stacks/Pulumi.*.yaml")
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(stack, func(t *testing.T) {
			cfg := engineConfig(t, proj, stack, f)
			if cfg["drawbridge:discoveryInterval"] != "15s" {
				t.Fatalf("project defaults not applied: %v", cfg)
			}
			if _, err := run(t, stack, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestProjectDefaultsMatchProgram: the defaults declared in Pulumi.yaml and
// the program's own (used when run without the CLI, e.g. under mocks) agree.
func TestProjectDefaultsMatchProgram(t *testing.T) {
	proj := loadProject(t)
	required := map[string]string{"aws:region": "us-east-1", "drawbridge:owner": "o"}
	withDefaults := map[string]string{}
	for k, v := range required {
		withDefaults[k] = v
	}
	for key, decl := range proj.Config {
		if decl.Default == nil {
			if key != "owner" {
				t.Errorf("Pulumi.yaml: %s has no default (only owner is required)", key)
			}
			continue
		}
		// as the engine passes them: scalars as text, arrays as JSON
		switch d := decl.Default.(type) {
		case []any:
			withDefaults["drawbridge:"+key] = mustJSON(t, d)
		default:
			withDefaults["drawbridge:"+key] = fmt.Sprint(d)
		}
		if decl.Description == "" {
			t.Errorf("Pulumi.yaml: %s has no description", key)
		}
	}
	get := func(m map[string]string) plan.Getter {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	a, err := plan.Load(get(required), "drawbridge", "dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Load(get(withDefaults), "drawbridge", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("program defaults\n%+v\ndiffer from Pulumi.yaml defaults\n%+v", a, b)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// LoadStack reads stacks/Pulumi.<stack>.yaml (the project's
// stackConfigDir) the way the engine hands it to the program: scalars as
// text, lists and maps as JSON. plan.Load applies the defaults.
func LoadStack(root, stack string) (*plan.Config, error) {
	var proj struct {
		Name           string `yaml:"name"`
		StackConfigDir string `yaml:"stackConfigDir"`
	}
	data, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &proj); err != nil {
		return nil, fmt.Errorf("Pulumi.yaml: %w", err)
	}
	path := filepath.Join(root, proj.StackConfigDir, "Pulumi."+stack+".yaml")
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	values := map[string]string{}
	for k, v := range doc.Config {
		switch x := v.(type) {
		case string:
			values[k] = x
		case int:
			values[k] = strconv.Itoa(x)
		case bool, float64:
			values[k] = fmt.Sprint(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			values[k] = string(b)
		}
	}
	cfg, err := plan.Load(func(k string) (string, bool) { v, ok := values[k]; return v, ok }, proj.Name, stack)
	if err != nil {
		return nil, fmt.Errorf("stack %s config (%s):\n%w", stack, path, err)
	}
	return cfg, nil
}

// Write puts the bundle's files under dir at their install paths (dir/etc/...)
// and the boot script as dir/user-data.sh.
func (b *Bundle) Write(dir, userData string) error {
	for _, f := range b.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.Content), f.Mode); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "user-data.sh"), []byte(userData), 0o755)
}

// FindRoot walks up from the working directory to the directory holding
// Pulumi.yaml.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Pulumi.yaml in the working directory or above it")
		}
		dir = parent
	}
}

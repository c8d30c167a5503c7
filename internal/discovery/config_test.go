package discovery

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/yamlconf"
)

// Every key a provider claims is a key of Config, and every key of Config
// but the shared ones belongs to a provider, so Misplaced judges them all.
func TestProvidersOwnTheKeys(t *testing.T) {
	keys := map[string]bool{}
	for f := range reflect.TypeFor[Config]().Fields() {
		keys[f.Tag.Get("yaml")] = true
	}
	owned := map[string]bool{"type": true, "interval": true, "jitter": true}
	for _, k := range Providers {
		for _, key := range k.Keys {
			if !keys[key] {
				t.Errorf("provider %s claims %q, which Config has not", k.Name, key)
			}
			owned[key] = true
		}
	}
	for key := range keys {
		if !owned[key] {
			t.Errorf("key %q belongs to no provider", key)
		}
	}
}

func TestMisplacedKeys(t *testing.T) {
	c := Config{Type: TypeFile, File: "b.yaml", ASG: "web"}
	written := func(k string) bool { return k == "file" || k == "asg" || k == "interval" }
	errs := c.Misplaced(written)
	if len(errs) != 1 || errs[0].Key != "asg" || !strings.Contains(errs[0].Msg, "applies to asg discovery, not file") {
		t.Fatalf("Misplaced = %v", errs)
	}
	c.Type = TypeStatic
	if errs := c.Misplaced(written); errs != nil {
		t.Fatalf("static (off) keeps other keys written down; Misplaced = %v", errs)
	}
	c.Type = "dns"
	if errs := c.Misplaced(written); errs != nil {
		t.Fatalf("unknown type: Misplaced = %v, want nothing (Validate reports the type)", errs)
	}
	if errs := c.Validate(); !slices.ContainsFunc(errs, func(e *yamlconf.Error) bool { return e.Key == "type" }) {
		t.Fatalf("Validate = %v", errs)
	}
}

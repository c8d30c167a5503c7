package mqtt_test

import (
	"context"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/gateway/l4"
)

// The documented example's l4 listeners, the mqtt one with its auth
// block, must build proxies, not only parse.
func TestExampleListenersBuild(t *testing.T) {
	cfg, err := config.Load("../../examples/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]bool{}
	for _, lc := range cfg.L4 {
		p, err := l4.New(lc, nil, nil)
		if err != nil {
			t.Fatalf("l4 %s: %v", lc.Name, err)
		}
		modes[lc.Mode] = true
		_ = p.Shutdown(context.Background())
	}
	if !modes[l4.ModeMQTT] {
		t.Error("the example has no mqtt listener")
	}
}

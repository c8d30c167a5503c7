package config

import (
	"reflect"
	"testing"

	"github.com/drawbridge-dev/drawbridge/gateway/balance"
)

func TestQuickIsAsSafeAsAConfigFile(t *testing.T) {
	cfg, err := Quick(QuickProxy{Listen: "127.0.0.1:0", To: "127.0.0.1:1, 127.0.0.1:2,127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Enabled {
		t.Errorf("admin listener on by default (%s): two quick proxies would fight over it", cfg.Admin.Listen)
	}
	r, p := cfg.Routes[0], cfg.Pools[0]
	if r.Retry == nil || r.Retry.MaxRetries < 1 {
		t.Fatalf("no retries: %+v", r.Retry)
	}
	for _, on := range []string{RetryConnectError, RetryReset} {
		found := false
		for _, got := range r.Retry.RetryOn {
			found = found || got == on
		}
		if !found {
			t.Errorf("retry_on %v lacks %s", r.Retry.RetryOn, on)
		}
	}
	if len(r.Retry.Methods) != 0 { // empty: the idempotent methods only
		t.Errorf("retry methods %v, want the idempotent default", r.Retry.Methods)
	}
	if p.Outlier == nil || p.Outlier.ConsecutiveFailures < 1 {
		t.Errorf("no passive ejection: %+v", p.Outlier)
	}
	if len(p.Backends) != 3 || p.Strategy != balance.RoundRobin {
		t.Errorf("pool: %d backends, strategy %s", len(p.Backends), p.Strategy)
	}
	def := new(Config)
	def.SetDefaults()
	if !reflect.DeepEqual(cfg.Server, def.Server) {
		t.Errorf("server limits differ from a config file's: %+v vs %+v", cfg.Server, def.Server)
	}
	if cfg, err := Quick(QuickProxy{To: "127.0.0.1:1", Admin: "127.0.0.1:0"}); err != nil || !cfg.Admin.Enabled || cfg.Admin.Listen != "127.0.0.1:0" {
		t.Errorf("--admin 127.0.0.1:0: %v, %+v", err, cfg.Admin)
	}
}

func TestQuickErrorsNameFlags(t *testing.T) {
	for _, tc := range []struct {
		q    QuickProxy
		want string
	}{
		{QuickProxy{To: " , "}, "--to: at least one HOST:PORT is required"},
		{QuickProxy{To: "nonsense"}, `--to "nonsense": address nonsense: missing port in address`},
		{QuickProxy{To: "127.0.0.1:1", Strategy: "fastest"}, `--strategy "fastest": unknown; one of round_robin, weighted_round_robin, least_connections, power_of_two, least_response_time, ip_hash, consistent_hash, random`},
		{QuickProxy{To: "127.0.0.1:1", HashKey: "header:X"}, "--hash-key: only for ip_hash or consistent_hash, not round_robin"},
		{QuickProxy{To: "127.0.0.1:1", Strategy: balance.IPHash, HashKey: "nope:x"}, "--hash-key: "},
		{QuickProxy{To: "127.0.0.1:1", Admin: "nowhere"}, "--admin: "},
		{QuickProxy{To: "127.0.0.1:1", Listen: "nowhere"}, "--listen: "},
		{QuickProxy{To: "127.0.0.1:1", Engine: "fasthttp"}, `--engine: want net/http or h1, got "fasthttp"`},
	} {
		_, err := Quick(tc.q)
		if err == nil || len(err.Error()) < len(tc.want) || err.Error()[:len(tc.want)] != tc.want {
			t.Errorf("%+v: got %v, want %s...", tc.q, err, tc.want)
		}
	}
}

package boot

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

func TestRenderEveryStack(t *testing.T) {
	files, _ := filepath.Glob("../../stacks/Pulumi.*.yaml")
	if len(files) == 0 {
		t.Fatal("no stacks")
	}
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(stack, func(t *testing.T) {
			cfg, err := LoadStack("../..", stack)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Render(cfg, References, "../..")
			if err != nil {
				t.Fatal(err)
			}
			gw := b.File(GatewayConfig).Content
			for _, want := range []string{"allocation_id: ${gateway-eip.allocationId}", "instance_id: auto", "asg: " + GroupName(cfg), "table: " + LeaseTable(cfg)} {
				if !strings.Contains(gw, want) {
					t.Errorf("gateway config lacks %q:\n%s", want, gw)
				}
			}
			args, err := b.ExecStart(GatewayUnit)
			if err != nil || !slices.Equal(args, []string{BinaryPath, "gateway", "run", "--config", GatewayConfig}) {
				t.Errorf("gateway ExecStart %v %v", args, err)
			}
			ud, err := RenderUserData(UserData{Region: cfg.Region, Binary: Binary{S3Bucket: References.BinaryBucket, S3Key: References.BinaryKey}, Bundle: b})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := b.Write(dir, ud); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "etc/drawbridge/gateway.yaml"))
			if err != nil || string(got) != gw {
				t.Errorf("written gateway config: %v", err)
			}
		})
	}
}

func TestRenderNamesTheStackKey(t *testing.T) {
	base := map[string]string{"aws:region": "us-east-1", "drawbridge:owner": "o"}
	for _, tc := range []struct{ key, value, want string }{
		{"drawbridge:failoverLeaseTtl", "200ms", "drawbridge:failoverLeaseTtl: the generated gateway config would be invalid: failover.lease.ttl"},
		{"drawbridge:poolName", "a b", "drawbridge:poolName: the generated"},
		{"drawbridge:gatewayConfigFile", "Pulumi.yaml", "drawbridge:gatewayConfigFile: "},
	} {
		get := func(k string) (string, bool) {
			if k == tc.key {
				return tc.value, true
			}
			v, ok := base[k]
			return v, ok
		}
		cfg, err := plan.Load(get, "drawbridge", "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Render(cfg, References, "../.."); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: err %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
}

func TestUserDataRefusesHeredocEnd(t *testing.T) {
	b := &Bundle{Files: []File{{GatewayConfig, 0o644, "listen: \":80\"\n" + Marker(GatewayConfig) + "\nrm -rf /\n"}}}
	if _, err := RenderUserData(UserData{Binary: Binary{URL: "https://example.com/b"}, Bundle: b}); err == nil || !strings.Contains(err.Error(), "heredoc") {
		t.Fatalf("a line ending the heredoc must be refused, got %v", err)
	}
	if _, err := RenderUserData(UserData{Bundle: &Bundle{}}); err == nil {
		t.Fatal("no binary source must be refused")
	}
}

// What user data installs for prod is byte for byte deploy/systemd's units.
func TestProdInstallsTheRepoUnits(t *testing.T) {
	cfg, err := LoadStack("../..", "prod")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(cfg, References, "../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.Write(dir, "#!/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	for unit, repo := range map[string]string{GatewayUnit: "drawbridge-gateway.service", AutoscalerUnit: "drawbridge-autoscaler.service"} {
		want, err := os.ReadFile(filepath.Join("../../deploy/systemd", repo))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, unit))
		if err != nil {
			t.Fatalf("prod bundle has no %s: %v", unit, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s as rendered for prod differs from deploy/systemd/%s:\n%s", unit, repo, got)
		}
	}
}

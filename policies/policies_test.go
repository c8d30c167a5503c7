package policies_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge-dev/drawbridge/infra"
	"github.com/drawbridge-dev/drawbridge/infra/mocktest"
	"github.com/drawbridge-dev/drawbridge/policies"
)

func load(t *testing.T) *policies.Pack {
	t.Helper()
	p, err := policies.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// record runs the program on a stack config under mocks and returns the
// resources as the OPA analyzer would see them.
func record(t *testing.T, stack string, cfg map[string]string) []map[string]any {
	t.Helper()
	m := mocktest.New("drawbridge", stack)
	build := func(_ context.Context, _, arch string) (string, error) {
		p := filepath.Join(t.TempDir(), "drawbridge-linux-"+arch)
		return p, os.WriteFile(p, []byte("fake"), 0o755)
	}
	if err := mocktest.Run(m, cfg, infra.Program(infra.Options{BuildBinary: build})); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range m.Resources() {
		if r.Custom {
			out = append(out, policies.Resource(r.Type, r.Name, r.URN, r.Inputs, r.PropertyDeps))
		}
	}
	return out
}

func stackConfig(t *testing.T, env string) map[string]string {
	t.Helper()
	cfg, err := mocktest.LoadStackFile("../stacks/Pulumi." + env + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func evalAll(t *testing.T, p *policies.Pack, rs []map[string]any) []policies.Finding {
	t.Helper()
	ctx := context.Background()
	var all []policies.Finding
	for _, r := range rs {
		f, err := p.EvalResource(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, f...)
	}
	f, err := p.EvalStack(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	return append(all, f...)
}

// TestEveryStackPasses: the resources the program creates for each stack
// file violate no mandatory rule (and prod draws no warning either).
func TestEveryStackPasses(t *testing.T) {
	p := load(t)
	for _, f := range mocktest.StackFiles(t, "../stacks") {
		env := f.Stack
		t.Run(env, func(t *testing.T) {
			rs := record(t, env, stackConfig(t, env))
			if len(rs) < 30 {
				t.Fatalf("only %d resources recorded", len(rs))
			}
			for _, f := range evalAll(t, p, rs) {
				if f.Mandatory() || env == "prod" {
					t.Errorf("%s: %s", f.Rule, f.Message)
				}
			}
		})
	}
}

var tags = map[string]any{"project": "drawbridge", "environment": "test", "owner": "team"}

func res(typ, name string, props map[string]any) map[string]any {
	return policies.Resource(typ, name, "urn:pulumi:test::drawbridge::"+typ+"::"+name, props, nil)
}

func rules(fs []policies.Finding) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	return out
}

// TestViolatingFixtures: each fixture is denied by exactly the rule meant to
// catch it (so rules neither miss nor fire for the wrong reason).
func TestViolatingFixtures(t *testing.T) {
	p := load(t)
	lt := func(extra map[string]any) map[string]any {
		props := map[string]any{
			"tags":                tags,
			"metadataOptions":     map[string]any{"httpTokens": "required"},
			"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"encrypted": "true"}}},
		}
		for k, v := range extra {
			props[k] = v
		}
		return res("aws:ec2/launchTemplate:LaunchTemplate", "lt", props)
	}
	sgRule := func(proto string, from, to float64, v4, v6 []any) map[string]any {
		return map[string]any{"protocol": proto, "fromPort": from, "toPort": to, "cidrBlocks": v4, "ipv6CidrBlocks": v6}
	}
	policy := func(doc string) map[string]any {
		return res("aws:iam/policy:Policy", "pol", map[string]any{"tags": tags, "policy": doc})
	}
	cases := []struct {
		name  string
		input map[string]any
		rule  string // "" means: must pass
	}{
		{"ssh open to the world", res("aws:ec2/securityGroup:SecurityGroup", "sg", map[string]any{"tags": tags,
			"ingress": []any{sgRule("tcp", 22, 22, []any{"0.0.0.0/0"}, nil)}}), "deny_sg_world_open"},
		{"app port open to ::/0", res("aws:ec2/securityGroup:SecurityGroup", "sg", map[string]any{"tags": tags,
			"ingress": []any{sgRule("tcp", 8080, 8080, nil, []any{"::/0"})}}), "deny_sg_world_open"},
		{"port range 80-443 open", res("aws:ec2/securityGroup:SecurityGroup", "sg", map[string]any{"tags": tags,
			"ingress": []any{sgRule("tcp", 80, 443, []any{"0.0.0.0/0"}, nil)}}), "deny_sg_world_open"},
		{"all protocols open", res("aws:ec2/securityGroupRule:SecurityGroupRule", "r", map[string]any{
			"type": "ingress", "protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": []any{"0.0.0.0/0"}}), "deny_sg_world_open"},
		{"443 open is fine", res("aws:ec2/securityGroup:SecurityGroup", "sg", map[string]any{"tags": tags,
			"ingress": []any{sgRule("tcp", 443, 443, []any{"0.0.0.0/0"}, []any{"::/0"}), sgRule("tcp", 22, 22, []any{"10.0.0.0/8"}, nil)}}), ""},
		{"launch template without IMDSv2", lt(map[string]any{"metadataOptions": nil}), "deny_imdsv1"},
		{"instance with optional tokens", res("aws:ec2/instance:Instance", "i", map[string]any{"tags": tags,
			"metadataOptions": map[string]any{"httpTokens": "optional"}, "rootBlockDevice": map[string]any{"encrypted": true}}), "deny_imdsv1"},
		{"unencrypted EBS volume", res("aws:ebs/volume:Volume", "v", map[string]any{"tags": tags, "encrypted": false}), "deny_unencrypted_volume"},
		{"unencrypted launch template volume", lt(map[string]any{"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"encrypted": "false"}}}}), "deny_unencrypted_volume"},
		{"instance root volume unencrypted", res("aws:ec2/instance:Instance", "i", map[string]any{"tags": tags,
			"metadataOptions": map[string]any{"httpTokens": "required"}}), "deny_unencrypted_volume"},
		{"backend template with public IP", lt(map[string]any{"tags": map[string]any{"project": "p", "environment": "e", "owner": "o", "drawbridge:role": "backend"},
			"networkInterfaces": []any{map[string]any{"associatePublicIpAddress": "true"}}}), "deny_backend_public_ip"},
		{"gateway template with public IP is fine", lt(map[string]any{"tags": map[string]any{"project": "p", "environment": "e", "owner": "o", "drawbridge:role": "gateway"},
			"networkInterfaces": []any{map[string]any{"associatePublicIpAddress": "true"}}}), ""},
		{"wildcard action", policy(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`), "deny_iam_wildcard"},
		{"service wildcard action", policy(`{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::b/*"]}]}`), "deny_iam_wildcard"},
		{"scopable action on *", policy(`{"Statement":[{"Effect":"Allow","Action":["autoscaling:SetDesiredCapacity"],"Resource":"*"}]}`), "deny_iam_wildcard"},
		{"describe on * is fine", policy(`{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","cloudwatch:GetMetricData"],"Resource":["*"]}]}`), ""},
		{"deny statement with * is fine", policy(`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`), ""},
		{"missing owner tag", res("aws:ec2/vpc:Vpc", "vpc", map[string]any{"tags": map[string]any{"project": "p", "environment": "e"}}), "deny_missing_tags"},
		{"no tags at all", res("aws:dynamodb/table:Table", "t", map[string]any{}), "deny_missing_tags"},
		{"group tag list without environment", res("aws:autoscaling/group:Group", "g", map[string]any{"tags": []any{
			map[string]any{"key": "project", "value": "p"}, map[string]any{"key": "owner", "value": "o"}}}), "deny_missing_tags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := p.EvalResource(context.Background(), tc.input)
			if err != nil {
				t.Fatal(err)
			}
			got := rules(f)
			if tc.rule == "" {
				if len(got) != 0 {
					t.Fatalf("want no findings, got %v", f)
				}
				return
			}
			if !slices.Equal(got, []string{tc.rule}) {
				t.Fatalf("want exactly %s, got %v", tc.rule, f)
			}
		})
	}
}

// TestStackFixtures: stack-scope rules on realistic stacks derived from the
// real stack files.
func TestStackFixtures(t *testing.T) {
	p := load(t)
	ctx := context.Background()
	stackRules := func(rs []map[string]any) []string {
		f, err := p.EvalStack(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		return rules(f)
	}

	t.Run("backend group in public subnets", func(t *testing.T) {
		rs := record(t, "dev", stackConfig(t, "dev"))
		var publicURNs []any
		for _, r := range rs {
			if r["__type"] == "aws:ec2/subnet:Subnet" && r["mapPublicIpOnLaunch"] == true {
				publicURNs = append(publicURNs, r["__urn"])
			}
		}
		for _, r := range rs {
			if r["__type"] == "aws:autoscaling/group:Group" {
				r["propertyDependencies"].(map[string]any)["vpcZoneIdentifiers"] = publicURNs
			}
		}
		if got := stackRules(rs); !slices.Equal(got, []string{"stack_deny_backend_public_subnet"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("prod with a single NAT", func(t *testing.T) {
		cfg := stackConfig(t, "prod")
		cfg["drawbridge:natStrategy"] = "single"
		if got := stackRules(record(t, "prod", cfg)); !slices.Equal(got, []string{"stack_warn_prod_single_nat"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("prod in a single AZ", func(t *testing.T) {
		cfg := stackConfig(t, "prod")
		cfg["drawbridge:azCount"] = "1"
		cfg["drawbridge:natStrategy"] = "one_per_az"
		delete(cfg, "drawbridge:publicSubnetCidrs")
		delete(cfg, "drawbridge:privateSubnetCidrs")
		got := stackRules(record(t, "prod", cfg))
		slices.Sort(got)
		// one AZ with one_per_az is also one NAT: both warnings
		if !slices.Equal(got, []string{"stack_warn_prod_single_az", "stack_warn_prod_single_nat"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("single NAT outside prod is fine", func(t *testing.T) {
		if got := stackRules(record(t, "staging", stackConfig(t, "staging"))); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
}

// TestPackManifest: PulumiPolicy.yaml is what the OPA analyzer expects, and
// every .rego file declares the same package (the analyzer requires it).
func TestPackManifest(t *testing.T) {
	b, err := os.ReadFile("PulumiPolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nruntime: opa\n") {
		t.Error("PulumiPolicy.yaml must say runtime: opa")
	}
	files, _ := filepath.Glob("*.rego")
	for _, f := range files {
		src, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(src), "package "+policies.Package+"\n") {
			t.Errorf("%s: must start with package %s", f, policies.Package)
		}
	}
}

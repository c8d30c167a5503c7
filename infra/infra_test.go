package infra_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	asconfig "github.com/drawbridge-dev/drawbridge/autoscaler/config"
	gwconfig "github.com/drawbridge-dev/drawbridge/gateway/config"
	"github.com/drawbridge-dev/drawbridge/infra"
	"github.com/drawbridge-dev/drawbridge/infra/boot"
	"github.com/drawbridge-dev/drawbridge/infra/mocktest"
	"github.com/drawbridge-dev/drawbridge/infra/plan"
)

// fakeBuild stands in for go build: a small file, so tests stay fast.
func fakeBuild(t *testing.T) func(context.Context, string, string) (string, error) {
	return func(_ context.Context, _, arch string) (string, error) {
		p := filepath.Join(t.TempDir(), "drawbridge-linux-"+arch)
		return p, os.WriteFile(p, []byte("#!fake drawbridge "+arch), 0o755)
	}
}

func baseConfig() map[string]string {
	return map[string]string{
		"aws:region":              "us-east-1",
		"drawbridge:owner":        "team-edge",
		"drawbridge:azCount":      "3",
		"drawbridge:natStrategy":  "one_per_az",
		"drawbridge:allowedCidrs": `["198.51.100.0/24","2001:db8::/32"]`,
	}
}

func run(t *testing.T, stack string, cfg map[string]string) (*mocktest.Mocks, error) {
	t.Helper()
	m := mocktest.New("drawbridge", stack)
	err := mocktest.Run(m, cfg, infra.Program(infra.Options{BuildBinary: fakeBuild(t)}))
	return m, err
}

func mustRun(t *testing.T, cfg map[string]string) *mocktest.Mocks {
	t.Helper()
	m, err := run(t, "test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, str(x))
	}
	return out
}

func asSlice(v any) []any        { s, _ := v.([]any); return s }
func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func subnets(m *mocktest.Mocks, tier string) []mocktest.Resource {
	return ofTier(m, "aws:ec2/subnet:Subnet", tier)
}

// ofTier lists the resources of type typ tagged drawbridge:tier=tier.
func ofTier(m *mocktest.Mocks, typ, tier string) []mocktest.Resource {
	var out []mocktest.Resource
	for _, r := range m.OfType(typ) {
		if str(asMap(r.Inputs["tags"])["drawbridge:tier"]) == tier {
			out = append(out, r)
		}
	}
	return out
}

func ids(rs []mocktest.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestSubnetsPerAZDoNotOverlap(t *testing.T) {
	m := mustRun(t, baseConfig())
	pub, priv := subnets(m, "public"), subnets(m, "private")
	if len(pub) != 3 || len(priv) != 3 {
		t.Fatalf("want 3 public and 3 private subnets, got %d and %d", len(pub), len(priv))
	}
	for _, tier := range [][]mocktest.Resource{pub, priv} {
		azs := map[string]bool{}
		for _, s := range tier {
			azs[str(s.Inputs["availabilityZone"])] = true
		}
		if len(azs) != 3 {
			t.Errorf("subnets of a tier should span 3 AZs, got %v", azs)
		}
	}
	vpc := netip.MustParsePrefix(str(m.OfType("aws:ec2/vpc:Vpc")[0].Inputs["cidrBlock"]))
	var all []netip.Prefix
	for _, s := range append(pub, priv...) {
		p := netip.MustParsePrefix(str(s.Inputs["cidrBlock"]))
		if !vpc.Contains(p.Addr()) {
			t.Errorf("%s outside VPC %s", p, vpc)
		}
		for _, q := range all {
			if p.Overlaps(q) {
				t.Errorf("%s overlaps %s", p, q)
			}
		}
		all = append(all, p)
	}
	for _, s := range pub {
		if s.Inputs["mapPublicIpOnLaunch"] != true {
			t.Errorf("public subnet %s should map public IPs", s.Name)
		}
	}
	for _, s := range priv {
		if s.Inputs["mapPublicIpOnLaunch"] == true {
			t.Errorf("private subnet %s maps public IPs", s.Name)
		}
	}
}

// routeTargets maps each route table ID to its 0.0.0.0/0 route's inputs.
func defaultRoutes(m *mocktest.Mocks) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range m.OfType("aws:ec2/route:Route") {
		if str(r.Inputs["destinationCidrBlock"]) == "0.0.0.0/0" {
			out[str(r.Inputs["routeTableId"])] = r.Inputs
		}
	}
	return out
}

func routeTables(m *mocktest.Mocks, tier string) []mocktest.Resource {
	return ofTier(m, "aws:ec2/routeTable:RouteTable", tier)
}

func TestRoutesPrivateToNATPublicToIGW(t *testing.T) {
	for _, tc := range []struct {
		nat      string
		nats     int
		distinct int
	}{{"one_per_az", 3, 3}, {"single", 1, 1}, {"none", 0, 0}} {
		t.Run(tc.nat, func(t *testing.T) {
			cfg := baseConfig()
			cfg["drawbridge:natStrategy"] = tc.nat
			m := mustRun(t, cfg)
			nats := ids(m.OfType("aws:ec2/natGateway:NatGateway"))
			if len(nats) != tc.nats {
				t.Fatalf("NAT gateways = %d, want %d", len(nats), tc.nats)
			}
			igw := m.OfType("aws:ec2/internetGateway:InternetGateway")[0].ID
			routes := defaultRoutes(m)
			pub := routeTables(m, "public")
			if len(pub) != 1 || str(routes[pub[0].ID]["gatewayId"]) != igw {
				t.Fatalf("public route table should send 0.0.0.0/0 to the IGW %s: %v", igw, routes)
			}
			used := map[string]bool{}
			for _, rt := range routeTables(m, "private") {
				r, ok := routes[rt.ID]
				if tc.nat == "none" {
					if ok {
						t.Errorf("nat none: private table %s has a default route %v", rt.Name, r)
					}
					continue
				}
				if !ok {
					t.Fatalf("private table %s has no default route", rt.Name)
				}
				if g := str(r["gatewayId"]); g != "" {
					t.Errorf("private table %s routes to gateway %s (must be a NAT)", rt.Name, g)
				}
				if !slices.Contains(nats, str(r["natGatewayId"])) {
					t.Errorf("private table %s routes to %q, not a NAT gateway", rt.Name, r["natGatewayId"])
				}
				used[str(r["natGatewayId"])] = true
			}
			if len(used) != tc.distinct {
				t.Errorf("private tables use %d distinct NATs, want %d", len(used), tc.distinct)
			}
			// every subnet is associated with a table of its own tier
			tierOf := map[string]string{}
			for _, rt := range m.OfType("aws:ec2/routeTable:RouteTable") {
				tierOf[rt.ID] = str(asMap(rt.Inputs["tags"])["drawbridge:tier"])
			}
			for _, s := range m.OfType("aws:ec2/subnet:Subnet") {
				n := 0
				for _, a := range m.OfType("aws:ec2/routeTableAssociation:RouteTableAssociation") {
					if str(a.Inputs["subnetId"]) == s.ID {
						n++
						if tierOf[str(a.Inputs["routeTableId"])] != str(asMap(s.Inputs["tags"])["drawbridge:tier"]) {
							t.Errorf("subnet %s associated with a table of another tier", s.Name)
						}
					}
				}
				if n != 1 {
					t.Errorf("subnet %s has %d route table associations", s.Name, n)
				}
			}
		})
	}
}

func TestBackendGroupOnlyInPrivateSubnets(t *testing.T) {
	cfg := baseConfig()
	cfg["drawbridge:minSize"], cfg["drawbridge:maxSize"], cfg["drawbridge:desiredCapacity"] = "2", "10", "3"
	m := mustRun(t, cfg)
	asg := m.OfType("aws:autoscaling/group:Group")
	if len(asg) != 1 {
		t.Fatalf("want one ASG, got %d", len(asg))
	}
	got := strs(asg[0].Inputs["vpcZoneIdentifiers"])
	want := ids(subnets(m, "private"))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ASG subnets %v, want exactly the private ones %v", got, want)
	}
	in := asg[0].Inputs
	if in["minSize"] != 2.0 || in["maxSize"] != 10.0 || in["desiredCapacity"] != 3.0 {
		t.Errorf("sizes min/max/desired = %v/%v/%v", in["minSize"], in["maxSize"], in["desiredCapacity"])
	}
	if !slices.Contains(asg[0].IgnoreChanges, "desiredCapacity") {
		t.Errorf("desiredCapacity must be ignored on updates (the autoscaler owns it): %v", asg[0].IgnoreChanges)
	}
	// Scale-in drains: a termination hook holds a leaving instance while
	// the gateways' discovery (InService only) stops sending to it.
	if hooks := asSlice(in["initialLifecycleHooks"]); len(hooks) != 1 ||
		asMap(hooks[0])["lifecycleTransition"] != "autoscaling:EC2_INSTANCE_TERMINATING" ||
		asMap(hooks[0])["defaultResult"] != "CONTINUE" || asMap(hooks[0])["heartbeatTimeout"] != 31.0 {
		t.Errorf("termination lifecycle hook: %v; want one, CONTINUE after 31s (2 x the 15s discovery interval + 1s)", in["initialLifecycleHooks"])
	}
	tags := map[string]any{}
	for _, tg := range asSlice(in["tags"]) {
		tags[str(asMap(tg)["key"])] = asMap(tg)["value"]
		if asMap(tg)["propagateAtLaunch"] != true {
			t.Errorf("tag %v not propagated to instances", tg)
		}
	}
	for k, v := range map[string]string{"drawbridge:pool": "backend", "drawbridge:port": "8080", "drawbridge:role": "backend", "owner": "team-edge", "environment": "test", "project": "drawbridge"} {
		if tags[k] != v {
			t.Errorf("ASG tag %s = %v, want %s", k, tags[k], v)
		}
	}
	lt := launchTemplate(t, m, "backend")
	ni := asMap(asSlice(lt["networkInterfaces"])[0])
	if ni["associatePublicIpAddress"] != "false" {
		t.Errorf("backend launch template must not associate public IPs: %v", ni)
	}
}

func launchTemplate(t *testing.T, m *mocktest.Mocks, role string) map[string]any {
	t.Helper()
	for _, lt := range m.OfType("aws:ec2/launchTemplate:LaunchTemplate") {
		if strings.HasPrefix(lt.Name, role) {
			return lt.Inputs
		}
	}
	t.Fatalf("no %s launch template", role)
	return nil
}

func TestLaunchTemplatesIMDSv2AndEncrypted(t *testing.T) {
	m := mustRun(t, baseConfig())
	for _, role := range []string{"gateway", "backend"} {
		lt := launchTemplate(t, m, role)
		if asMap(lt["metadataOptions"])["httpTokens"] != "required" {
			t.Errorf("%s: IMDSv2 not required: %v", role, lt["metadataOptions"])
		}
		ebs := asMap(asMap(asSlice(lt["blockDeviceMappings"])[0])["ebs"])
		if ebs["encrypted"] != "true" {
			t.Errorf("%s: root volume not encrypted: %v", role, ebs)
		}
		if !strings.HasPrefix(str(lt["imageId"]), "resolve:ssm:/aws/service/ami-amazon-linux-latest/") {
			t.Errorf("%s: image %v, want the SSM public parameter", role, lt["imageId"])
		}
	}
	for _, inst := range m.OfType("aws:ec2/instance:Instance") {
		if asMap(inst.Inputs["metadataOptions"])["httpTokens"] != "required" || asMap(inst.Inputs["rootBlockDevice"])["encrypted"] != true {
			t.Errorf("instance %s: %v %v", inst.Name, inst.Inputs["metadataOptions"], inst.Inputs["rootBlockDevice"])
		}
	}
	cfg := baseConfig()
	cfg["drawbridge:ami"] = "ami-0123456789abcdef0"
	m = mustRun(t, cfg)
	if got := launchTemplate(t, m, "backend")["imageId"]; got != "ami-0123456789abcdef0" {
		t.Errorf("configured AMI not used: %v", got)
	}
}

func TestGatewaysInTwoAZsWithEIP(t *testing.T) {
	m := mustRun(t, baseConfig())
	insts := m.OfType("aws:ec2/instance:Instance")
	if len(insts) != 2 {
		t.Fatalf("want 2 gateway instances, got %d", len(insts))
	}
	// resources register concurrently: order by name
	slices.SortFunc(insts, func(a, b mocktest.Resource) int { return strings.Compare(a.Name, b.Name) })
	azOf := map[string]string{}
	for _, s := range subnets(m, "public") {
		azOf[s.ID] = str(s.Inputs["availabilityZone"])
	}
	a, b := azOf[str(insts[0].Inputs["subnetId"])], azOf[str(insts[1].Inputs["subnetId"])]
	if a == "" || b == "" || a == b {
		t.Fatalf("gateways must sit in public subnets of different AZs: %q %q", a, b)
	}
	assoc := m.OfType("aws:ec2/eipAssociation:EipAssociation")
	if len(assoc) != 1 || str(assoc[0].Inputs["instanceId"]) != insts[0].ID || !slices.Contains(assoc[0].IgnoreChanges, "instanceId") {
		t.Fatalf("EIP should start on gateway 0 and ignore failover moves: %+v", assoc)
	}
	if len(m.OfType("aws:dynamodb/table:Table")) != 1 {
		t.Error("want the failover lease table")
	}
}

func sgByName(t *testing.T, m *mocktest.Mocks, prefix string) mocktest.Resource {
	t.Helper()
	for _, sg := range m.OfType("aws:ec2/securityGroup:SecurityGroup") {
		if strings.HasPrefix(sg.Name, prefix) {
			return sg
		}
	}
	t.Fatalf("no security group %s*", prefix)
	return mocktest.Resource{}
}

func TestSecurityGroups(t *testing.T) {
	m := mustRun(t, baseConfig())
	gw := sgByName(t, m, "gateway")
	be := sgByName(t, m, "backend")

	rules := asSlice(be.Inputs["ingress"])
	if len(rules) != 1 {
		t.Fatalf("backend SG: want one ingress rule, got %v", rules)
	}
	r := asMap(rules[0])
	if !slices.Equal(strs(r["securityGroups"]), []string{gw.ID}) || len(strs(r["cidrBlocks"])) != 0 || len(strs(r["ipv6CidrBlocks"])) != 0 {
		t.Errorf("backend SG must admit only the gateway SG: %v", r)
	}
	if r["fromPort"] != 8080.0 || r["toPort"] != 8080.0 {
		t.Errorf("backend SG port: %v", r)
	}

	for _, x := range asSlice(gw.Inputs["ingress"]) {
		r := asMap(x)
		from, to := r["fromPort"].(float64), r["toPort"].(float64)
		switch {
		case from == to && (from == 80 || from == 443):
			if !slices.Equal(strs(r["cidrBlocks"]), []string{"198.51.100.0/24"}) || !slices.Equal(strs(r["ipv6CidrBlocks"]), []string{"2001:db8::/32"}) {
				t.Errorf("gateway %v/tcp should admit exactly the allowed CIDRs: %v", from, r)
			}
		case from == 9090 && to == 9090:
			if !slices.Equal(strs(r["cidrBlocks"]), []string{"10.0.0.0/16"}) || len(strs(r["ipv6CidrBlocks"])) != 0 {
				t.Errorf("admin port must be open to the VPC only: %v", r)
			}
		default:
			t.Errorf("unexpected gateway ingress %v", r)
		}
	}
}

// TestTLSOnlyWithCertificateSource: 443 is open, listened on and fetched
// for only when the stack names a certificate source.
func TestTLSOnlyWithCertificateSource(t *testing.T) {
	open443 := func(m *mocktest.Mocks) bool {
		for _, x := range asSlice(sgByName(t, m, "gateway").Inputs["ingress"]) {
			if asMap(x)["fromPort"] == 443.0 {
				return true
			}
		}
		return false
	}
	if m := mustRun(t, baseConfig()); open443(m) {
		t.Error("443 open without a certificate source")
	}
	cfg := baseConfig()
	cfg["drawbridge:tlsCertificateSource"] = "ssm:/drawbridge/test/tls"
	m := mustRun(t, cfg)
	if !open443(m) {
		t.Error("443 closed with a certificate source")
	}
	ud := userData(t, m)
	for _, want := range []string{`--name "/drawbridge/test/tls/cert"`, `listen: ":443"`, "cert_file: /etc/drawbridge/tls/cert.pem"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q", want)
		}
	}
	if !slices.ContainsFunc(policies(t, m)["gateway-policy"], func(s stmt) bool {
		return s.Sid == "FetchTLSCertificate" && slices.Equal(s.Resource, []string{"arn:aws:ssm:us-east-1:123456789012:parameter/drawbridge/test/tls/*"})
	}) {
		t.Errorf("no scoped ssm:GetParameter for the certificate: %+v", policies(t, m)["gateway-policy"])
	}
}

type stmt struct {
	Sid       string
	Action    []string
	Resource  []string
	Condition map[string]map[string]string
}

func policies(t *testing.T, m *mocktest.Mocks) map[string][]stmt {
	t.Helper()
	out := map[string][]stmt{}
	for _, p := range m.OfType("aws:iam/policy:Policy") {
		var doc struct{ Statement []stmt }
		if err := json.Unmarshal([]byte(str(p.Inputs["policy"])), &doc); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		out[p.Name] = doc.Statement
	}
	return out
}

// Actions that support no resource-level permissions: the only ones that may
// use Resource "*".
var unscoped = []string{"ec2:DescribeInstances", "ec2:DescribeAddresses", "autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribeScalingActivities", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"}

func TestIAMStatementsScopedToARNs(t *testing.T) {
	m := mustRun(t, baseConfig())
	ps := policies(t, m)
	if len(ps) != 2 {
		t.Fatalf("want gateway and autoscaler policies, got %v", ps)
	}
	asgARN := str(m.OfType("aws:autoscaling/group:Group")[0].Outputs["arn"])
	tableARN := str(m.OfType("aws:dynamodb/table:Table")[0].Outputs["arn"])
	found := map[string][]string{}
	for name, sts := range ps {
		for _, s := range sts {
			for _, a := range s.Action {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %s", name, a)
				}
				found[a] = s.Resource
			}
			for _, r := range s.Resource {
				if r == "*" {
					for _, a := range s.Action {
						if !slices.Contains(unscoped, a) {
							t.Errorf("%s: %s on Resource * (it supports resource-level permissions)", name, a)
						}
					}
				} else if !strings.HasPrefix(r, "arn:aws:") {
					t.Errorf("%s: resource %q is not an ARN", name, r)
				}
			}
		}
	}
	if !slices.Equal(found["autoscaling:SetDesiredCapacity"], []string{asgARN}) {
		t.Errorf("SetDesiredCapacity on %v, want the group's ARN %s", found["autoscaling:SetDesiredCapacity"], asgARN)
	}
	if !slices.Equal(found["dynamodb:PutItem"], []string{tableARN}) {
		t.Errorf("lease writes on %v, want %s", found["dynamodb:PutItem"], tableARN)
	}
	if r := found["ec2:AssociateAddress"]; len(r) != 2 || r[0] != "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-gateway-eip" {
		t.Errorf("AssociateAddress on %v, want the fleet's own EIP", r)
	}
	if r := found["s3:GetObject"]; len(r) != 1 || !strings.HasPrefix(r[0], "arn:aws:s3:::binary-artifacts/drawbridge/") {
		t.Errorf("GetObject on %v, want the binary's object", r)
	}
	// the autoscaler policy is attached to the gateway role (placement gateway)
	n := 0
	for _, a := range m.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if str(a.Inputs["role"]) == str(m.OfType("aws:iam/role:Role")[0].Outputs["name"]) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("gateway role has %d policy attachments, want 2 (own + autoscaler)", n)
	}
}

func userData(t *testing.T, m *mocktest.Mocks) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(str(launchTemplate(t, m, "gateway")["userData"]))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGatewayUserData: user data carries exactly the files infra/boot
// renders for the stack, with the deployed values (the EIP allocation) in
// place, and starts their units.
func TestGatewayUserData(t *testing.T) {
	m := mustRun(t, baseConfig())
	ud := userData(t, m)
	for _, want := range []string{
		"#!/bin/bash\n",
		`aws s3 cp --region us-east-1 "s3://binary-artifacts/drawbridge/`,
		"sha256sum -c -",
		"install -m 0755 \"$tmp\" /usr/local/bin/drawbridge",
		"ExecStart=/usr/local/bin/drawbridge gateway run --config /etc/drawbridge/gateway.yaml",
		"systemctl enable --now drawbridge-gateway.service",
		"ExecStart=/usr/local/bin/drawbridge autoscaler run --config /etc/drawbridge/autoscaler.yaml",
		"systemctl enable --now drawbridge-autoscaler.service",
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q:\n%s", want, ud)
		}
	}
	if strings.Contains(ud, "EnvironmentFile") || strings.Contains(ud, "127.0.0.1:8080") || strings.Contains(ud, ":443") {
		t.Errorf("user data still has the unread environment file, the placeholder backend or a TLS listener without a certificate:\n%s", ud)
	}
	// The files the script installs are the rendered ones, and valid for
	// the programs that read them.
	pc, err := plan.Load(func(k string) (string, bool) { v, ok := baseConfig()[k]; return v, ok }, "drawbridge", "test")
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := boot.Render(pc, boot.Deployed{AllocationID: "eipalloc-gateway-eip", BinaryBucket: "b", BinaryKey: "k"}, "..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range bundle.Files {
		if got := heredoc(t, ud, boot.Marker(f.Path)); got != strings.TrimRight(f.Content, "\n") {
			t.Errorf("%s in user data differs from the rendered file:\n%s\n--- rendered:\n%s", f.Path, got, f.Content)
		}
	}
	gw, err := gwconfig.Parse("gateway.yaml", []byte(heredoc(t, ud, boot.Marker(boot.GatewayConfig))))
	if err != nil {
		t.Fatalf("installed gateway config: %v", err)
	}
	if f := gw.Failover; f == nil || f.Mode != "aws" || f.EIP.AllocationID != "eipalloc-gateway-eip" || f.EIP.InstanceID != "auto" || f.Lease.Table != "drawbridge-test-gateway-lease" {
		t.Errorf("failover: %+v", gw.Failover)
	}
	if d := gw.Pools[0].Discovery; d == nil || d.Type != "asg" || d.ASG != "drawbridge-test-backend" || d.Port != 0 {
		t.Errorf("discovery: %+v", d)
	}
	asText := heredoc(t, ud, boot.Marker(boot.AutoscalerConfig))
	as, err := asconfig.Parse("autoscaler.yaml", []byte(asText))
	if err != nil {
		t.Fatalf("installed autoscaler config: %v\n%s", err, asText)
	}
	act, _ := as.Groups[0].Actuator.Spec.(*asconfig.AWSActuator)
	src, _ := as.Groups[0].Metric.Spec.(*asconfig.GatewaySource)
	gl, _ := as.Lease.Spec.(*asconfig.GatewayLease)
	if g := as.Groups[0]; act == nil || act.ASGName != "drawbridge-test-backend" || as.Lease.Type != "gateway" || gl == nil || gl.URL != "http://127.0.0.1:9090" || src == nil || src.URL != "http://127.0.0.1:9090" {
		t.Errorf("autoscaler config: group %+v lease %+v", g, as.Lease)
	}

	cfg := baseConfig()
	cfg["drawbridge:binaryUrl"] = "https://example.com/drawbridge-linux-amd64"
	cfg["drawbridge:binarySha256"] = strings.Repeat("ab", 32)
	cfg["drawbridge:autoscalerPlacement"] = "external"
	m = mustRun(t, cfg)
	ud = userData(t, m)
	if !strings.Contains(ud, `curl -fsSL --retry 5 --retry-delay 2 -o "$tmp" "https://example.com/drawbridge-linux-amd64"`) ||
		!strings.Contains(ud, strings.Repeat("ab", 32)+"  $tmp") || strings.Contains(ud, "aws s3 cp") {
		t.Errorf("release URL delivery:\n%s", ud)
	}
	if strings.Contains(ud, "drawbridge-autoscaler") {
		t.Error("external autoscaler placement must not run the daemon on the gateways")
	}
	if len(m.OfType("aws:s3/bucketObjectv2:BucketObjectv2")) != 0 {
		t.Error("release URL delivery should not upload the binary")
	}
}

// heredoc returns the body of the script's heredoc ending in marker.
func heredoc(t *testing.T, script, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(script, "<<'"+marker+"'\n")
	body, _, ok2 := strings.Cut(rest, "\n"+marker+"\n")
	if !ok || !ok2 {
		t.Fatalf("no %s heredoc in:\n%s", marker, script)
	}
	return body
}

func TestBackendUserDataSpotAndSchedules(t *testing.T) {
	cfg := baseConfig()
	cfg["drawbridge:backendUserData"] = "#cloud-config\nruncmd: [echo hi]\n"
	cfg["drawbridge:spotEnabled"] = "true"
	cfg["drawbridge:spotInstanceTypes"] = `["t3.small","t3a.small"]`
	cfg["drawbridge:onDemandBaseCapacity"] = "1"
	cfg["drawbridge:onDemandPercentageAboveBaseCapacity"] = "25"
	cfg["drawbridge:schedules"] = `[{"name":"night","recurrence":"0 22 * * *","timeZone":"UTC","minSize":0,"desiredCapacity":0}]`
	m := mustRun(t, cfg)
	b, _ := base64.StdEncoding.DecodeString(str(launchTemplate(t, m, "backend")["userData"]))
	if string(b) != cfg["drawbridge:backendUserData"] {
		t.Errorf("backend user data = %q", b)
	}
	asg := m.OfType("aws:autoscaling/group:Group")[0].Inputs
	if asg["launchTemplate"] != nil {
		t.Error("mixed instances and launchTemplate are exclusive")
	}
	dist := asMap(asMap(asg["mixedInstancesPolicy"])["instancesDistribution"])
	if dist["onDemandBaseCapacity"] != 1.0 || dist["onDemandPercentageAboveBaseCapacity"] != 25.0 {
		t.Errorf("distribution %v", dist)
	}
	sch := m.OfType("aws:autoscaling/schedule:Schedule")
	if len(sch) != 1 || sch[0].Inputs["minSize"] != 0.0 || sch[0].Inputs["maxSize"] != -1.0 || sch[0].Inputs["timeZone"] != "UTC" {
		t.Fatalf("schedules %+v", sch)
	}
}

func TestEveryResourceTaggedAndParented(t *testing.T) {
	cfg := baseConfig()
	cfg["drawbridge:flowLogs"] = "true"
	m := mustRun(t, cfg)
	components := map[string]bool{}
	for _, r := range m.Resources() {
		if !r.Custom {
			components[r.URN] = true
			if !strings.HasPrefix(r.Type, "drawbridge:infra:") {
				t.Errorf("unexpected component %s", r.Type)
			}
		}
	}
	if len(components) != 5 {
		t.Errorf("want 5 components (Network, BinaryDelivery, GatewayFleet, BackendPool, Autoscaler), got %d", len(components))
	}
	for _, r := range m.Resources() {
		if !r.Custom {
			continue
		}
		if !components[r.Parent] {
			t.Errorf("%s %s is not parented to a component (parent %q)", r.Type, r.Name, r.Parent)
		}
		if tags, ok := r.Inputs["tags"].(map[string]any); ok {
			for _, k := range []string{"project", "environment", "owner"} {
				if tags[k] == nil {
					t.Errorf("%s %s lacks tag %s", r.Type, r.Name, k)
				}
			}
		}
	}
	if len(m.OfType("aws:ec2/flowLog:FlowLog")) != 1 {
		t.Error("flow logs on: want one flow log")
	}
}

// TestEveryStackFileBuilds loads each stacks/Pulumi.<env>.yaml and runs the
// program on it under mocks.
func TestEveryStackFileBuilds(t *testing.T) {
	for _, f := range mocktest.StackFiles(t, "../stacks") {
		stack := f.Stack
		t.Run(stack, func(t *testing.T) {
			cfg, err := mocktest.LoadStackFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := run(t, stack, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(m.OfType("aws:autoscaling/group:Group")); n != 1 {
				t.Errorf("%d ASGs", n)
			}
			if stack == "localstack" {
				if got := m.OfType("aws:autoscaling/group:Group")[0].Inputs["waitForCapacityTimeout"]; got != "0" {
					t.Errorf("localstack waitForCapacityTimeout = %v, want \"0\"", got)
				}
			}
		})
	}
}

// TestBadConfigFailsBeforeAnyResource: the bad inputs fail with the
// key named, and nothing is registered.
func TestBadConfigFailsBeforeAnyResource(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		over      map[string]string
	}{
		{"overlapping CIDRs", "drawbridge:publicSubnetCidrs[0]", map[string]string{
			"drawbridge:azCount":            "2",
			"drawbridge:publicSubnetCidrs":  `["10.0.0.0/24","10.0.1.0/24"]`,
			"drawbridge:privateSubnetCidrs": `["10.0.0.0/20","10.0.16.0/20"]`}},
		{"min > max", "drawbridge:minSize", map[string]string{"drawbridge:minSize": "9", "drawbridge:maxSize": "3"}},
		{"unknown NAT", "drawbridge:natStrategy", map[string]string{"drawbridge:natStrategy": "two"}},
		{"more AZs than the region", "drawbridge:azCount", map[string]string{"drawbridge:azCount": "4"}},
		{"invalid gateway config", "drawbridge:gatewayConfigFile", map[string]string{"drawbridge:gatewayConfigFile": "Pulumi.yaml"}},
		{"lease ttl too short for the gateway", "drawbridge:failoverLeaseTtl", map[string]string{"drawbridge:failoverLeaseTtl": "100ms"}},
		{"pool name the gateway refuses", "drawbridge:poolName", map[string]string{"drawbridge:poolName": "a b"}},
		{"bad TLS source", "drawbridge:tlsCertificateSource", map[string]string{"drawbridge:tlsCertificateSource": "file:/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			for k, v := range tc.over {
				cfg[k] = v
			}
			m, err := run(t, "test", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.key+":") {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
			if rs := m.Resources(); len(rs) != 0 {
				t.Fatalf("%d resources registered before the error", len(rs))
			}
		})
	}
}

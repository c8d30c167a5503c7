package plan

import (
	"strings"
	"testing"
)

// base is a minimal valid stack config; cases override keys.
func base() map[string]string {
	return map[string]string{
		"aws:region":       "us-east-1",
		"drawbridge:owner": "team-edge",
	}
}

func load(t *testing.T, over map[string]string) (*Config, error) {
	t.Helper()
	cfg := base()
	for k, v := range over {
		cfg[k] = v
	}
	return Load(func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }, "drawbridge", "dev")
}

var offered = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

func TestDefaultsPlanNonOverlappingSubnetsPerAZ(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.PlanNetwork(offered)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.AZs) != 2 || len(n.Public) != 2 || len(n.Private) != 2 {
		t.Fatalf("want 2 AZs with one public and one private subnet each, got %+v", n)
	}
	want := []string{"10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/24", "10.0.33.0/24"}
	got := []string{n.Private[0].String(), n.Private[1].String(), n.Public[0].String(), n.Public[1].String()}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("layout = %v, want %v", got, want)
	}
	all := append(append(n.Public[:0:0], n.Public...), n.Private...)
	for i := range all {
		if !n.VPC.Contains(all[i].Addr()) {
			t.Errorf("%s outside VPC %s", all[i], n.VPC)
		}
		for j := i + 1; j < len(all); j++ {
			if all[i].Overlaps(all[j]) {
				t.Errorf("%s overlaps %s", all[i], all[j])
			}
		}
	}
}

func TestExplicitAZsAndSubnets(t *testing.T) {
	c, err := load(t, map[string]string{
		"drawbridge:azCount":            "3",
		"drawbridge:vpcCidr":            "10.20.0.0/16",
		"drawbridge:publicSubnetCidrs":  `["10.20.0.0/24","10.20.1.0/24","10.20.2.0/24"]`,
		"drawbridge:privateSubnetCidrs": `["10.20.16.0/20","10.20.32.0/20","10.20.48.0/20"]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.PlanNetwork(offered)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.AZs) != 3 || n.Public[2].String() != "10.20.2.0/24" {
		t.Fatalf("got %+v", n)
	}
}

// TestBadInput: each bad stack config fails with a message naming its key.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name    string
		over    map[string]string
		wantKey string
		wantMsg string
	}{
		{"overlapping explicit CIDRs", map[string]string{
			"drawbridge:publicSubnetCidrs":  `["10.0.0.0/24","10.0.1.0/24"]`,
			"drawbridge:privateSubnetCidrs": `["10.0.1.0/24","10.0.16.0/20"]`,
		}, "drawbridge:publicSubnetCidrs[1]", "overlaps drawbridge:privateSubnetCidrs[0]"},
		{"subnet outside VPC", map[string]string{
			"drawbridge:publicSubnetCidrs":  `["10.1.0.0/24","10.0.1.0/24"]`,
			"drawbridge:privateSubnetCidrs": `["10.0.16.0/20","10.0.32.0/20"]`,
		}, "drawbridge:publicSubnetCidrs[0]", "not inside"},
		{"VPC too small", map[string]string{"drawbridge:vpcCidr": "10.0.0.0/24", "drawbridge:azCount": "3", "drawbridge:privateSubnetPrefix": "25"},
			"drawbridge:vpcCidr", "cannot hold"},
		{"min > max", map[string]string{"drawbridge:minSize": "5", "drawbridge:maxSize": "2"}, "drawbridge:minSize", "greater than drawbridge:maxSize"},
		{"desired outside", map[string]string{"drawbridge:desiredCapacity": "9"}, "drawbridge:desiredCapacity", "outside"},
		{"unknown NAT", map[string]string{"drawbridge:natStrategy": "per_subnet"}, "drawbridge:natStrategy", "unknown strategy"},
		{"missing owner", map[string]string{"drawbridge:owner": ""}, "drawbridge:owner", "required"},
		{"missing region", map[string]string{"aws:region": ""}, "aws:region", "required"},
		{"not an int", map[string]string{"drawbridge:maxSize": "lots"}, "drawbridge:maxSize", "not an integer"},
		{"bad CIDR", map[string]string{"drawbridge:allowedCidrs": `["10.0.0.0/33"]`}, "drawbridge:allowedCidrs[0]", "not a CIDR"},
		{"arch mismatch", map[string]string{"drawbridge:arch": "arm64"}, "drawbridge:gatewayInstanceType", "drawbridge:arch is arm64"},
		{"bad cron", map[string]string{"drawbridge:schedules": `[{"name":"n","recurrence":"0 8 * *","minSize":1}]`}, "drawbridge:schedules[0].recurrence", "5-field"},
		{"unknown schedule key", map[string]string{"drawbridge:schedules": `[{"name":"n","recurence":"0 8 * * *"}]`}, "drawbridge:schedules", "unknown field"},
		{"bad timeout", map[string]string{"drawbridge:waitForCapacityTimeout": "soon"}, "drawbridge:waitForCapacityTimeout", "duration"},
		{"admin on 443", map[string]string{"drawbridge:adminPort": "443"}, "drawbridge:adminPort", "collides"},
		{"binary url scheme", map[string]string{"drawbridge:binaryUrl": "ftp://x/y"}, "drawbridge:binaryUrl", "http(s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.over)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.wantKey+": ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q should name %s and say %q", err, tc.wantKey, tc.wantMsg)
			}
		})
	}
}

func TestTooManyAZsForRegion(t *testing.T) {
	c, err := load(t, map[string]string{"drawbridge:azCount": "4", "drawbridge:vpcCidr": "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PlanNetwork(offered)
	if err == nil || !strings.HasPrefix(err.Error(), "drawbridge:azCount: 4 availability zones requested but region us-east-1 offers 3") {
		t.Fatalf("err = %v", err)
	}
	c, err = load(t, map[string]string{"drawbridge:availabilityZones": `["us-east-1a","us-east-1z"]`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.PlanNetwork(offered); err == nil || !strings.HasPrefix(err.Error(), "drawbridge:availabilityZones[1]:") {
		t.Fatalf("err = %v", err)
	}
}

func TestInstanceArch(t *testing.T) {
	for typ, want := range map[string]string{"t4g.small": "arm64", "c7gn.large": "arm64", "r6gd.xlarge": "arm64",
		"t3.small": "amd64", "m7i.large": "amd64", "g5.xlarge": "amd64", "m7a.large": "amd64"} {
		if got := InstanceArch(typ); got != want {
			t.Errorf("InstanceArch(%s) = %s, want %s", typ, got, want)
		}
	}
}

// Package mocktest runs the drawbridge Pulumi program against Pulumi's mock
// resource monitor and records every resource it registers (type, name, URN,
// inputs, property dependencies). The infra and policies tests assert on
// these records; nothing here talks to a cloud.
package mocktest

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Resource is one registered resource as the engine would see it.
type Resource struct {
	Type          string
	Name          string
	URN           string
	Parent        string
	ID            string
	Custom        bool
	Inputs        map[string]any
	Outputs       map[string]any
	PropertyDeps  map[string][]string // input property -> URNs it depends on
	IgnoreChanges []string
}

// Mocks implements pulumi.MockResourceMonitor.
type Mocks struct {
	Project, Stack string
	// AZs the mocked region offers (getAvailabilityZones).
	AZs       []string
	AccountID string

	mu        sync.Mutex
	resources []Resource
	invokes   []string
}

// New returns mocks for a region offering three AZs.
func New(project, stack string) *Mocks {
	return &Mocks{Project: project, Stack: stack, AZs: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, AccountID: "123456789012"}
}

// NewResource records the resource and returns its inputs plus the
// computed outputs the program reads (IDs, ARNs, names, EIP addresses).
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs := args.Inputs.Mappable()
	outputs := map[string]any{}
	for k, v := range inputs {
		outputs[k] = v
	}
	id := ""
	if args.Custom {
		id = args.Name + "-id"
		short := args.TypeToken[strings.LastIndex(args.TypeToken, ":")+1:]
		outputs["arn"] = fmt.Sprintf("arn:aws:%s:us-east-1:%s:%s/%s", strings.ToLower(short), m.AccountID, strings.ToLower(short), args.Name)
		if _, ok := outputs["name"]; !ok {
			outputs["name"] = args.Name
		}
		switch args.TypeToken {
		case "aws:ec2/eip:Eip":
			outputs["allocationId"] = "eipalloc-" + args.Name
			outputs["publicIp"] = "203.0.113.10"
		case "aws:s3/bucketV2:BucketV2":
			outputs["bucket"] = args.Name
			outputs["arn"] = "arn:aws:s3:::" + args.Name
		case "aws:autoscaling/group:Group":
			outputs["arn"] = fmt.Sprintf("arn:aws:autoscaling:us-east-1:%s:autoScalingGroup:uuid:autoScalingGroupName/%v", m.AccountID, outputs["name"])
		case "aws:dynamodb/table:Table":
			outputs["arn"] = fmt.Sprintf("arn:aws:dynamodb:us-east-1:%s:table/%v", m.AccountID, outputs["name"])
		}
	}
	r := Resource{Type: args.TypeToken, Name: args.Name, ID: id, Custom: args.Custom, Inputs: inputs, Outputs: outputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		var parentType tokens.Type
		if p := resource.URN(rpc.GetParent()); p != "" && p.QualifiedType() != resource.RootStackType {
			parentType = p.QualifiedType()
		}
		r.URN = string(resource.NewURN(tokens.QName(m.Stack), tokens.PackageName(m.Project), parentType, tokens.Type(args.TypeToken), args.Name))
		r.PropertyDeps = map[string][]string{}
		for k, deps := range rpc.GetPropertyDependencies() {
			r.PropertyDeps[k] = deps.GetUrns()
		}
		r.IgnoreChanges = rpc.GetIgnoreChanges()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return id, resource.NewPropertyMapFromMap(outputs), nil
}

// Call answers the invokes the program makes.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, args.Token)
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		names := make([]any, len(m.AZs))
		ids := make([]any, len(m.AZs))
		for i, az := range m.AZs {
			names[i], ids[i] = az, fmt.Sprintf("use1-az%d", i+1)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names, "zoneIds": ids, "id": "us-east-1"}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{"accountId": m.AccountID, "arn": "arn:aws:iam::" + m.AccountID + ":user/test", "userId": "test", "id": m.AccountID}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}), nil
	}
	return nil, fmt.Errorf("mocktest: unexpected invoke %s", args.Token)
}

// Resources returns the recorded resources (the stack itself excluded).
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Resource
	for _, r := range m.resources {
		if r.Type != "pulumi:pulumi:Stack" {
			out = append(out, r)
		}
	}
	return out
}

// OfType returns the recorded resources of one type token.
func (m *Mocks) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Run runs prog under the mocks with the given config (full keys, e.g.
// "drawbridge:azCount", values as the engine passes them: strings, with
// arrays and objects as JSON).
func Run(m *Mocks, config map[string]string, prog pulumi.RunFunc) error {
	// Offer zones named after the configured region, as AWS would.
	if r := config["aws:region"]; r != "" && strings.HasPrefix(m.AZs[0], "us-east-1") && r != "us-east-1" {
		for i := range m.AZs {
			m.AZs[i] = r + m.AZs[i][len("us-east-1"):]
		}
	}
	return pulumi.RunErr(prog, pulumi.WithMocks(m.Project, m.Stack, m), func(info *pulumi.RunInfo) {
		info.Config = config
	})
}

// LoadStackFile reads stacks/Pulumi.<env>.yaml into the engine's config
// form. Secure values are skipped (the program has none).
func LoadStackFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	keys := make([]string, 0, len(f.Config))
	for k := range f.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := f.Config[k].(type) {
		case string:
			out[k] = v
		case map[string]any:
			if _, secure := v["secure"]; secure && len(v) == 1 {
				continue
			}
			j, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			out[k] = string(j)
		case []any:
			j, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			out[k] = string(j)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

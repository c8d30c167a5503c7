package infra

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Tags are the tags every resource carries. The policy pack requires
// project, environment and owner; they are set on each resource (not only as
// provider default tags) so the policies see them in the resource inputs.
type Tags map[string]string

// NewTags builds the base tags; the required keys win over extra ones.
func NewTags(project, environment, owner string, extra map[string]string) Tags {
	t := Tags{}
	maps.Copy(t, extra)
	t["project"] = project
	t["environment"] = environment
	t["owner"] = owner
	return t
}

// Map returns the tags plus key/value pairs (e.g. "Name", "web-1").
func (t Tags) Map(kv ...string) pulumi.StringMap {
	m := pulumi.StringMap{}
	for k, v := range t {
		m[k] = pulumi.String(v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = pulumi.String(kv[i+1])
	}
	return m
}

// Plain returns a copy with extra pairs, as Go strings.
func (t Tags) Plain(kv ...string) map[string]string {
	m := maps.Clone(t)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

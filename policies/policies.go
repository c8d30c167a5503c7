// Package policies embeds the drawbridge Pulumi policy pack (the *.rego files
// next to PulumiPolicy.yaml) and evaluates it with OPA the way Pulumi's OPA
// analyzer does: Rego v0 syntax, resource rules (deny_*, warn_*) per
// resource, stack rules (stack_deny_*, stack_warn_*) on input.resources.
// Tests use it to run the pack without the pulumi CLI.
package policies

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

//go:embed *.rego
var files embed.FS

// Package is the Rego package, hence the pack's name.
const Package = "drawbridge"

// Finding is one rule's message about one resource (or the stack).
type Finding struct {
	Rule    string
	Message string
}

// Mandatory reports whether the finding blocks a deployment.
func (f Finding) Mandatory() bool { return denyRule.MatchString(f.Rule) }

// The analyzer's rule-name patterns.
var (
	denyRule      = regexp.MustCompile(`^(stack_)?(deny|violation)(_[a-zA-Z0-9]+)*$`)
	warnRule      = regexp.MustCompile(`^(stack_)?warn(_[a-zA-Z0-9]+)*$`)
	stackRuleName = regexp.MustCompile(`^stack_`)
)

// Pack is the compiled policy pack.
type Pack struct {
	query rego.PreparedEvalQuery
}

// Load compiles the embedded Rego files.
func Load(ctx context.Context) (*Pack, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){rego.Query("data." + Package), rego.SetRegoVersion(ast.RegoV0)}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		opts = append(opts, rego.Module(e.Name(), string(b)))
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling the policy pack: %w", err)
	}
	return &Pack{query: q}, nil
}

// Resource builds the analyzer's input object for one resource: its
// properties at the top level plus __type, __name, __urn and (for stack
// rules) propertyDependencies.
func Resource(typ, name, urn string, props map[string]any, propertyDeps map[string][]string) map[string]any {
	obj := map[string]any{"type": typ, "name": name, "urn": urn, "properties": props, "__properties": props}
	for k, v := range props {
		obj[k] = v
	}
	obj["__type"], obj["__name"], obj["__urn"] = typ, name, urn
	if propertyDeps != nil {
		deps := map[string]any{}
		for k, v := range propertyDeps {
			urns := make([]any, len(v))
			for i, u := range v {
				urns[i] = u
			}
			deps[k] = urns
		}
		obj["propertyDependencies"] = deps
	}
	return obj
}

// EvalResource runs the resource rules on one resource input.
func (p *Pack) EvalResource(ctx context.Context, input map[string]any) ([]Finding, error) {
	return p.eval(ctx, input, false)
}

// EvalStack runs the stack rules on all resources.
func (p *Pack) EvalStack(ctx context.Context, resources []map[string]any) ([]Finding, error) {
	list := make([]any, len(resources))
	for i, r := range resources {
		list[i] = r
	}
	return p.eval(ctx, map[string]any{"resources": list}, true)
}

func (p *Pack) eval(ctx context.Context, input map[string]any, stack bool) ([]Finding, error) {
	rs, err := p.query.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, r := range rs {
		for _, e := range r.Expressions {
			rules, _ := e.Value.(map[string]any)
			for name, v := range rules {
				if !denyRule.MatchString(name) && !warnRule.MatchString(name) {
					continue
				}
				if stackRuleName.MatchString(name) != stack {
					continue
				}
				msgs, _ := v.([]any)
				for _, m := range msgs {
					out = append(out, Finding{Rule: name, Message: fmt.Sprint(m)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Message < out[j].Message
	})
	return out, nil
}

// Package deploy drives the drawbridge Pulumi program (cmd/infra, per
// Pulumi.yaml) through the Pulumi Automation API: up, preview, destroy and
// outputs of one stack, with the engine's progress streamed to the terminal.
//
// It never imports pulumi-aws: the program is compiled and run by the pulumi
// CLI, which must be on PATH.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// ErrNoCLI is returned, before anything else is attempted, when the pulumi
// CLI is not on PATH. Its message is one line, meant for the terminal.
var ErrNoCLI = errors.New("pulumi CLI not found on PATH; install it from https://www.pulumi.com/docs/install/ (the deploy commands drive it through the Automation API)")

// InputError is a mistake in the command line (unknown stack, missing
// policy pack, destroy without --yes): exit code 2 territory.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// Operations.
const (
	Up      = "up"
	Preview = "preview"
	Destroy = "destroy"
	Outputs = "outputs"
)

// Options for Run.
type Options struct {
	Op          string
	Stack       string   // stacks/Pulumi.<Stack>.yaml must exist
	PolicyPacks []string // directories holding PulumiPolicy.yaml
	Dir         string   // where to look for the project; "" is the working directory
	Yes         bool     // destroy: the user confirmed
	JSON        bool     // outputs: print JSON instead of key = value lines
	Stdout      io.Writer
	Stderr      io.Writer
}

// CheckCLI reports ErrNoCLI when pulumi is not on PATH.
func CheckCLI() error {
	if _, err := exec.LookPath("pulumi"); err != nil {
		return ErrNoCLI
	}
	return nil
}

// FindRoot walks up from dir to the directory holding Pulumi.yaml.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", inputErrorf("no Pulumi.yaml in %s or above it; run from the drawbridge checkout", dir)
		}
		d = parent
	}
}

// Stacks lists the stacks configured in root/stacks.
func Stacks(root string) []string {
	files, _ := filepath.Glob(filepath.Join(root, "stacks", "Pulumi.*.yaml"))
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(out)
	return out
}

var stackName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Run performs one operation. Input is checked (CLI present, stack file
// exists, policy packs exist) before the engine starts.
func Run(ctx context.Context, o Options) error {
	if err := CheckCLI(); err != nil {
		return err
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if !slices.Contains([]string{Up, Preview, Destroy, Outputs}, o.Op) {
		return inputErrorf("unknown operation %q", o.Op)
	}
	if !stackName.MatchString(o.Stack) {
		return inputErrorf("--stack: %q is not a stack name (e.g. dev, prod)", o.Stack)
	}
	start := o.Dir
	if start == "" {
		var err error
		if start, err = os.Getwd(); err != nil {
			return err
		}
	}
	root, err := FindRoot(start)
	if err != nil {
		return err
	}
	stacks := Stacks(root)
	if !slices.Contains(stacks, o.Stack) {
		return inputErrorf("--stack: no stacks/Pulumi.%s.yaml; configured stacks: %s", o.Stack, strings.Join(stacks, ", "))
	}
	var packs []string
	for _, p := range o.PolicyPacks {
		abs, err := resolvePack(start, root, p)
		if err != nil {
			return err
		}
		packs = append(packs, abs)
	}
	if o.Op == Destroy && !o.Yes {
		return inputErrorf("destroy deletes every resource of stack %s; rerun with --yes to confirm", o.Stack)
	}

	var stack auto.Stack
	if o.Op == Up || o.Op == Preview {
		stack, err = auto.UpsertStackLocalSource(ctx, o.Stack, root)
	} else {
		stack, err = auto.SelectStackLocalSource(ctx, o.Stack, root)
	}
	if err != nil {
		return fmt.Errorf("stack %s: %w", o.Stack, err)
	}

	switch o.Op {
	case Up:
		opts := []optup.Option{optup.ProgressStreams(o.Stdout), optup.ErrorProgressStreams(o.Stderr)}
		if len(packs) > 0 {
			opts = append(opts, optup.PolicyPacks(packs...))
		}
		res, err := stack.Up(ctx, opts...)
		if err != nil {
			return fmt.Errorf("up %s: %w", o.Stack, err)
		}
		return printOutputs(o.Stdout, res.Outputs, o.JSON)
	case Preview:
		opts := []optpreview.Option{optpreview.ProgressStreams(o.Stdout), optpreview.ErrorProgressStreams(o.Stderr)}
		if len(packs) > 0 {
			opts = append(opts, optpreview.PolicyPacks(packs...))
		}
		if _, err := stack.Preview(ctx, opts...); err != nil {
			return fmt.Errorf("preview %s: %w", o.Stack, err)
		}
		return nil
	case Destroy:
		if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(o.Stdout), optdestroy.ErrorProgressStreams(o.Stderr)); err != nil {
			return fmt.Errorf("destroy %s: %w", o.Stack, err)
		}
		return nil
	default:
		outs, err := stack.Outputs(ctx)
		if err != nil {
			return fmt.Errorf("outputs %s: %w", o.Stack, err)
		}
		return printOutputs(o.Stdout, outs, o.JSON)
	}
}

// resolvePack accepts a policy pack path relative to the working directory
// or to the project root ("policies").
func resolvePack(cwd, root, p string) (string, error) {
	for _, base := range []string{cwd, root} {
		cand := p
		if !filepath.IsAbs(p) {
			cand = filepath.Join(base, p)
		}
		if _, err := os.Stat(filepath.Join(cand, "PulumiPolicy.yaml")); err == nil {
			return cand, nil
		}
	}
	return "", inputErrorf("--policy-pack: %s holds no PulumiPolicy.yaml", p)
}

// printOutputs prints stack outputs sorted by name; secrets stay hidden.
func printOutputs(w io.Writer, outs auto.OutputMap, asJSON bool) error {
	plain := map[string]any{}
	for k, v := range outs {
		if v.Secret {
			plain[k] = "[secret]"
		} else {
			plain[k] = v.Value
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(plain)
	}
	keys := make([]string, 0, len(plain))
	for k := range plain {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := plain[k]
		if _, isString := v.(string); !isString {
			b, _ := json.Marshal(v)
			v = string(b)
		}
		if _, err := fmt.Fprintf(w, "%s = %v\n", k, v); err != nil {
			return err
		}
	}
	return nil
}

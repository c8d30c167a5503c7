package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMissingCLIIsOneLine: with no pulumi on PATH every operation stops
// before doing anything, with the one-line install hint.
func TestMissingCLIIsOneLine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, op := range []string{Up, Preview, Destroy, Outputs} {
		err := Run(context.Background(), Options{Op: op, Stack: "dev"})
		if !errors.Is(err, ErrNoCLI) {
			t.Fatalf("%s: err = %v, want ErrNoCLI", op, err)
		}
	}
	msg := ErrNoCLI.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "https://www.pulumi.com/docs/install/") {
		t.Fatalf("message must be one line with the install URL: %q", msg)
	}
}

// fakePulumi puts a "pulumi" on PATH that fails if it is ever run, to
// prove input errors are caught before the CLI is used.
func fakePulumi(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pulumi"), []byte("#!/bin/sh\necho fake pulumi must not run >&2\nexit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
}

func TestInputErrorsBeforeEngine(t *testing.T) {
	fakePulumi(t)
	root := repoRoot(t)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown stack", Options{Op: Up, Stack: "qa"}, "no stacks/Pulumi.qa.yaml; configured stacks: dev, localstack, prod, staging"},
		{"bad stack name", Options{Op: Up, Stack: "../x"}, "is not a stack name"},
		{"missing pack", Options{Op: Preview, Stack: "dev", PolicyPacks: []string{"nope"}}, "--policy-pack: nope holds no PulumiPolicy.yaml"},
		{"destroy unconfirmed", Options{Op: Destroy, Stack: "dev"}, "rerun with --yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = root
			err := Run(context.Background(), tc.o)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InputError containing %q", err, tc.want)
			}
		})
	}
	// the pack resolves relative to the project root too
	if p, err := resolvePack(t.TempDir(), root, "policies"); err != nil || p != filepath.Join(root, "policies") {
		t.Fatalf("resolvePack = %q, %v", p, err)
	}
}

func TestPrintOutputs(t *testing.T) {
	var b bytes.Buffer
	outs := auto.OutputMap{
		"vpcId":           {Value: "vpc-1"},
		"publicSubnetIds": {Value: []any{"subnet-a", "subnet-b"}},
		"token":           {Value: "s3cr3t", Secret: true},
	}
	if err := printOutputs(&b, outs, false); err != nil {
		t.Fatal(err)
	}
	want := "publicSubnetIds = [\"subnet-a\",\"subnet-b\"]\ntoken = [secret]\nvpcId = vpc-1\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// TestBinaryDoesNotLinkPulumiAWS: the drawbridge binary must stay free of
// pulumi-aws (huge, slow to compile); only cmd/infra may import it.
func TestBinaryDoesNotLinkPulumiAWS(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	cmd := exec.Command(gobin, "list", "-deps", "./cmd/drawbridge")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !strings.Contains(string(out), "github.com/pulumi/pulumi/sdk/v3/go/auto\n") {
		t.Fatalf("go list output looks wrong (%d packages)", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/pulumi/pulumi-aws") {
			t.Errorf("cmd/drawbridge depends on %s", d)
		}
	}
}

// TestCommandExitsTwoWithoutCLI runs the real binary: exit code 2 and the
// one-line message on stderr.
func TestCommandExitsTwoWithoutCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the drawbridge binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "drawbridge")
	build := exec.Command(gobin, "build", "-o", bin, "./cmd/drawbridge")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"up", "--stack", "dev"}, {"outputs", "--stack", "prod"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v: err = %v, want exit code 2", args, err)
		}
		want := "drawbridge: " + ErrNoCLI.Error() + "\n"
		if stderr.String() != want {
			t.Fatalf("%v: stderr = %q, want %q", args, stderr.String(), want)
		}
	}
}

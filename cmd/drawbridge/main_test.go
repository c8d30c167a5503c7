package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := execute(root)
	return out.String(), err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func TestValidateExample(t *testing.T) {
	out, err := run(t, "gateway", "validate", "--config", "../../examples/gateway.yaml")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("example config: %v %s", err, out)
	}
}

func TestValidateReportsFileLineAndKeyWithExit2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	cfg := "routes:\n  - name: r\n    pool: p\npools:\n  - name: p\n    strategy: fastest\n    backends: [{address: 127.0.0.1:1}]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "gateway", "validate", "--config", path)
	if exitCode(err) != 2 {
		t.Fatalf("exit code %d (%v), want 2", exitCode(err), err)
	}
	if msg := err.Error(); !strings.Contains(msg, path+":6:") || !strings.Contains(msg, "pools[0].strategy") {
		t.Fatalf("message %q lacks FILE:LINE and key", msg)
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"gateway", "proxy", "--to", "nonsense"},
		{"gateway", "proxy", "--to", "127.0.0.1:1", "--strategy", "fastest"},
		{"gateway", "proxy", "--to", "127.0.0.1:1", "--hash-key", "header:X"},
		{"gateway", "validate"},
		{"gateway", "run", "--config", "/nonexistent/gateway.yaml"},
		{"backend", "--latency", "-1s"},
	} {
		if _, err := run(t, args...); exitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

func TestHelpAndCompletion(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"gateway", "--help"}, {"gateway", "run", "--help"}, {"gateway", "proxy", "--help"},
		{"gateway", "validate", "--help"}, {"backend", "--help"}, {"demo", "--help"}, {"version"},
		{"completion", "bash"}, {"completion", "zsh"},
	} {
		out, err := run(t, args...)
		if err != nil || len(out) == 0 {
			t.Errorf("%v: %v (output %d bytes)", args, err, len(out))
		}
	}
}

// The quick proxy's flag defaults give the safe config: no fixed admin
// port (two side by side must both start), retries and passive ejection.
func TestGatewayProxyFlagDefaults(t *testing.T) {
	f := newGatewayProxyCmd().Flags()
	q := config.QuickProxy{To: "127.0.0.1:1,127.0.0.1:2"}
	for name, dst := range map[string]*string{"listen": &q.Listen, "strategy": &q.Strategy, "admin": &q.Admin, "hash-key": &q.HashKey, "health-path": &q.HealthPath} {
		fl := f.Lookup(name)
		if fl == nil {
			t.Fatalf("no --%s flag", name)
		}
		*dst = fl.DefValue
	}
	cfg, err := config.Quick(q)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Enabled {
		t.Errorf("--admin defaults to %q: an admin listener on a fixed port", q.Admin)
	}
	if cfg.Routes[0].Retry == nil || cfg.Pools[0].Outlier == nil {
		t.Errorf("defaults without retries or passive ejection: retry %+v, outlier %+v", cfg.Routes[0].Retry, cfg.Pools[0].Outlier)
	}
}

// Every command group, at every level, answers a mistyped subcommand with
// exit 2 and the subcommand it was probably meant to be.
func TestMistypedSubcommandAtEveryLevel(t *testing.T) {
	root := newRoot()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	groups := 0
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue // hidden, and help: cobra suggests neither
			}
			if c.HasSubCommands() {
				typo := append(slices.Clone(path), sub.Name()+"x")
				out, err := run(t, typo...)
				if exitCode(err) != 2 || !strings.Contains(err.Error(), "Did you mean this?\n\t"+sub.Name()) {
					t.Errorf("%v: exit %d, error %v (output %q); want 2 suggesting %q", typo, exitCode(err), err, out, sub.Name())
				}
			}
			walk(sub, append(slices.Clone(path), sub.Name()))
		}
		if c.HasSubCommands() {
			groups++
		}
	}
	walk(root, nil)
	if groups < 4 { // root, gateway, autoscaler, completion at least
		t.Fatalf("found %d command groups; the walk missed some", groups)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gatewy"}, "gateway"},
		{[]string{"gateway", "rn"}, "run"},
		{[]string{"gateway", "valdate", "--config", "x.yaml"}, "validate"}, // not "unknown flag --config"
		{[]string{"gatewy", "run", "--config", "x.yaml"}, "gateway"},
		{[]string{"autoscaler", "simulte"}, "simulate"},
		{[]string{"autoscaler", "exlpain"}, "explain"},
		{[]string{"help", "gatewy"}, "gateway"},
		{[]string{"help", "gateway", "rn"}, "run"},
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "Did you mean this?\n\t"+tc.want) {
			t.Errorf("%v: exit %d, error %v; want 2 suggesting %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

// Cobra's own usage errors (flags, argument counts, required flags) exit
// 2 like the commands' input checks.
func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"gateway", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"gateway", "run", "--confg", "x.yaml"}, "Did you mean this?\n\t--config"},
		{[]string{"gateway", "proxy", "--to", "127.0.0.1:1", "--stratgy=random"}, "Did you mean this?\n\t--strategy"},
		{[]string{"gateway", "proxy", "-Z"}, "unknown shorthand flag"},
		{[]string{"gateway", "proxy"}, `required flag(s) "to" not set`},
		{[]string{"version", "extra"}, `unknown command "extra"`},
		{[]string{"gateway", "validate", "a.yaml"}, `unknown command "a.yaml"`},
		{[]string{"autoscaler", "run", "--once=maybe"}, "invalid argument"},
		{[]string{"nothing-like-it"}, `unknown command "nothing-like-it" for "drawbridge"`},
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, error %v; want 2 and %q", tc.args, exitCode(err), err, tc.want)
		}
	}
	// A group alone shows its help; that is not an error.
	for _, args := range [][]string{{}, {"gateway"}, {"autoscaler"}, {"help", "gateway"}} {
		out, err := run(t, args...)
		if err != nil || !strings.Contains(out, "Available Commands:") {
			t.Errorf("%v: %v, output %q; want the group's help and exit 0", args, err, out)
		}
	}
}

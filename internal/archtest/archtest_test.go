package archtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/drawbridge-dev/drawbridge"

// pkg is one line of `go list -test`: a package, or a test variant of one.
type pkg struct {
	path    string   // import path, test-variant suffix removed
	test    bool     // a test variant or an external _test package
	deps    []string // every package it depends on, transitively
	imports []string // the packages it imports directly
}

// listing is shared by the tests: one `go list` of the module is seconds.
var listing = sync.OnceValues(func() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command on PATH: %w", err)
	}
	root, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-test",
		"-f", "{{.ImportPath}}\t{{join .Deps \" \"}}\t{{join .Imports \" \"}}\t{{if .Error}}{{.Error}}{{end}}", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list in %s: %w\n%s", cmd.Dir, err, stderr.String())
	}
	return string(out), nil
})

// list lists every package of the module with its dependencies (what
// `go list -deps` walks), test variants included, so a test file that
// reaches across counts too.
func list(t *testing.T) []pkg {
	t.Helper()
	out, err := listing()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, errs := parse(out)
	for _, e := range errs {
		t.Errorf("go list: %s", e)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages; is the working directory inside the module?", len(pkgs))
	}
	return pkgs
}

func parse(out string) (pkgs []pkg, errs []string) {
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 4 {
			continue
		}
		if f[3] != "" {
			errs = append(errs, f[0]+": "+f[3])
		}
		p := pkg{path: f[0], deps: strings.Fields(f[1]), imports: strings.Fields(f[2])}
		if strings.HasSuffix(p.path, ".test") {
			continue // the generated test main
		}
		if i := strings.Index(p.path, " ["); i >= 0 {
			p.path, p.test = p.path[:i], true
		}
		if s, ok := strings.CutSuffix(p.path, "_test"); ok {
			p.path, p.test = s, true
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, errs
}

// under reports whether path is the module's dir or a package below it.
func under(path, dir string) bool {
	base := module + "/" + dir
	return path == base || strings.HasPrefix(path, base+"/")
}

// crossImports lists every gateway/... package (or test) that depends on
// an autoscaler/... package, and every autoscaler/... one that depends on
// a gateway/... one. Shared code belongs in a neutral package (internal/).
func crossImports(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		for _, pair := range [][2]string{{"gateway", "autoscaler"}, {"autoscaler", "gateway"}} {
			if !under(p.path, pair[0]) {
				continue
			}
			for _, d := range p.deps {
				if under(d, pair[1]) {
					bad = append(bad, describe(p)+" depends on "+d)
				}
			}
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}

// wiring may import both gateway internals and AWS SDK services: the
// binary's commands and the gateway server, which builds the AWS clients
// its discovery and failover use. The gateway package itself may not.
func wiring(path string) bool {
	return under(path, "cmd") || under(path, "gateway/server")
}

// awsMixers lists the packages outside the wiring that import both a
// gateway/... package and an AWS SDK service package directly.
func awsMixers(pkgs []pkg) (prod, tests []string) {
	for _, p := range pkgs {
		if wiring(p.path) {
			continue
		}
		gw := slices.IndexFunc(p.imports, func(s string) bool { return under(s, "gateway") })
		svc := slices.IndexFunc(p.imports, func(s string) bool {
			return strings.HasPrefix(s, "github.com/aws/aws-sdk-go-v2/service/")
		})
		if gw < 0 || svc < 0 {
			continue
		}
		msg := describe(p) + " imports " + p.imports[gw] + " and " + p.imports[svc]
		if p.test {
			tests = append(tests, msg)
		} else {
			prod = append(prod, msg)
		}
	}
	slices.Sort(prod)
	slices.Sort(tests)
	return slices.Compact(prod), slices.Compact(tests)
}

func describe(p pkg) string {
	if p.test {
		return p.path + " (tests)"
	}
	return p.path
}

func TestGatewayAndAutoscalerDoNotImportEachOther(t *testing.T) {
	for _, b := range crossImports(list(t)) {
		t.Error(b)
	}
}

func TestOnlyWiringMixesGatewayAndAWSServices(t *testing.T) {
	prod, tests := awsMixers(list(t))
	for _, b := range prod {
		t.Error(b)
	}
	// Tests may drive a gateway client against the AWS double; say so
	// rather than hide it.
	for _, b := range tests {
		t.Log("test only:", b)
	}
}

// The rules must catch what they are written for; a rule that can never
// fail proves nothing about the tree.
func TestRulesCatchViolations(t *testing.T) {
	out := strings.Join([]string{
		module + "/gateway/failover\t" + module + "/autoscaler/lease " + module + "/clock\t" + module + "/autoscaler/lease\t",
		module + "/autoscaler/actuator [" + module + "/autoscaler/actuator.test]\t" + module + "/gateway/upstream\t\t",
		module + "/internal/lease\t" + module + "/clock\t" + module + "/clock\t",
		module + "/gateway/discovery\tx\t" + module + "/gateway/upstream github.com/aws/aws-sdk-go-v2/service/ec2\t",
		module + "/gateway\tx\t" + module + "/gateway/config github.com/aws/aws-sdk-go-v2/service/ec2\t",
		module + "/gateway/server\tx\t" + module + "/gateway/config github.com/aws/aws-sdk-go-v2/service/ec2\t",
		module + "/cmd/drawbridge\tx\t" + module + "/gateway/config github.com/aws/aws-sdk-go-v2/service/ec2\t",
		module + "/internal/awsdouble_test [" + module + "/internal/awsdouble.test]\tx\t" + module + "/gateway/failover github.com/aws/aws-sdk-go-v2/service/ec2\t",
		module + "/gateway.test\tx\tx\t",
		module + "/broken\t\t\tcannot find package",
	}, "\n")
	pkgs, errs := parse(out)
	if len(errs) != 1 || !strings.Contains(errs[0], "broken") {
		t.Errorf("errors = %q, want the broken package's", errs)
	}
	want := []string{
		module + "/autoscaler/actuator (tests) depends on " + module + "/gateway/upstream",
		module + "/gateway/failover depends on " + module + "/autoscaler/lease",
	}
	if got := crossImports(pkgs); !slices.Equal(got, want) {
		t.Errorf("crossImports:\n got %q\nwant %q", got, want)
	}
	prod, tests := awsMixers(pkgs)
	// The gateway package is not wiring (its server is): it is caught.
	if len(prod) != 2 || !strings.HasPrefix(prod[0], module+"/gateway imports") || !strings.HasPrefix(prod[1], module+"/gateway/discovery imports") {
		t.Errorf("awsMixers prod = %q, want gateway and gateway/discovery only", prod)
	}
	if len(tests) != 1 || !strings.HasPrefix(tests[0], module+"/internal/awsdouble (tests)") {
		t.Errorf("awsMixers tests = %q, want internal/awsdouble's tests only", tests)
	}
}

// peerParsing matches code that reads a client's address out of a
// RemoteAddr itself instead of asking package clientip.
var peerParsing = regexp.MustCompile(`(SplitHostPort|ParseAddrPort|ParseAddr|LastIndexByte)\([^)]*RemoteAddr\b`)

// clientIPParsers lists the non-test files under root/gateway, other than
// package clientip, that parse a RemoteAddr.
func clientIPParsers(t *testing.T, root string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(filepath.Join(root, "gateway"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if filepath.Base(filepath.Dir(path)) == "clientip" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if peerParsing.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				bad = append(bad, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// One client-IP function: ip_hash, rate-limit keys, access lists,
// forwarding headers and the rest cannot key one client differently when
// only package clientip reads the peer address.
func TestOneClientIPParser(t *testing.T) {
	for _, b := range clientIPParsers(t, "../..") {
		t.Errorf("parses RemoteAddr itself (use gateway/clientip): %s", b)
	}
}

func TestClientIPRuleCatchesParsers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gateway", "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package x\n\nfunc f(r *http.Request) {\n\thost, _, _ := net.SplitHostPort(r.RemoteAddr)\n\t_ = host\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := clientIPParsers(t, root); len(got) != 1 || !strings.HasPrefix(got[0], filepath.Join("gateway", "x", "x.go")+":4:") {
		t.Errorf("got %q, want the one parser at x.go:4", got)
	}
}

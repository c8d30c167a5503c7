package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests build the real binary with the go command, as a user or the
// release script would, and run it.

// checkout returns a fresh git clone of this repository at HEAD, with the
// working tree's files (committed or not, ignored ones left out) copied over
// it, so that the build sees the code under test and the toolchain sees a
// plain .git directory: Go embeds no vcs information in a git worktree,
// whose .git is a file. It also returns HEAD's commit.
func checkout(t *testing.T) (dir, head string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH: cannot make a checkout to build from")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not inside a git checkout (%v): the build would embed no commit", err)
	}
	src := strings.TrimSpace(string(root))
	headOut, err := exec.Command("git", "-C", src, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD in %s: %v", src, err)
	}
	head = strings.TrimSpace(string(headOut))
	dir = filepath.Join(t.TempDir(), "drawbridge")
	gitRun(t, "", "clone", "--quiet", "--shared", "--no-checkout", src, dir)
	gitRun(t, dir, "checkout", "--quiet", "--detach", head)
	files, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", src, err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a symlink git already checked out
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir, head
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// goBuild builds ./cmd/drawbridge in dir with the given go build flags and
// extra environment, and returns the binary's path.
func goBuild(t *testing.T, dir string, env []string, flags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "drawbridge")
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out, "./cmd/drawbridge")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, b)
	}
	return out
}

func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestVersionShowsCommitOfCheckout(t *testing.T) {
	dir, head := checkout(t)
	// -buildvcs=true: an environment may set GOFLAGS=-buildvcs=false.
	bin := goBuild(t, dir, nil, "-trimpath", "-buildvcs=true")
	out := runBinary(t, bin, "version")
	if !strings.Contains(out, "commit:  "+head) {
		t.Errorf("drawbridge version = %q; want commit %s", out, head)
	}
	if !strings.Contains(out, "go:      go1.") || strings.Contains(out, "date:    unknown") {
		t.Errorf("drawbridge version = %q; want the Go version and the commit's date", out)
	}
	if flag := runBinary(t, bin, "--version"); flag != out {
		t.Errorf("--version = %q, differs from `version` = %q", flag, out)
	}
}

func TestVersionFromLdflags(t *testing.T) {
	dir, _ := checkout(t)
	const pkg = "github.com/drawbridge-dev/drawbridge/internal/buildinfo"
	bin := goBuild(t, dir, nil, "-trimpath", "-buildvcs=true", "-ldflags",
		"-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=feedface -X "+pkg+".date=2026-01-02T03:04:05Z")
	out := runBinary(t, bin, "--version")
	for _, want := range []string{"drawbridge v9.8.7\n", "commit:  feedface", "date:    2026-01-02T03:04:05Z\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--version = %q; lacks %q", out, want)
		}
	}
}

// The process exit status, not only the error main receives: a typo is 2
// with the suggestion on stderr, a group alone is its help and 0.
func TestBinaryUsageExitStatus(t *testing.T) {
	bin := goBuild(t, "../..", nil, "-trimpath")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"gatewy"}, 2, "drawbridge: unknown command \"gatewy\" for \"drawbridge\"\n\nDid you mean this?\n\tgateway\n"},
		{[]string{"autoscaler", "simulte"}, 2, "Did you mean this?\n\tsimulate\n"},
		{[]string{"gateway", "run", "--confg", "x"}, 2, "Did you mean this?\n\t--config\n"},
		{[]string{"gateway"}, 0, "Available Commands:"},
	} {
		var out bytes.Buffer
		cmd := exec.Command(bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("drawbridge %s: exit %d, output %q; want %d and %q", strings.Join(tc.args, " "), code, out.String(), tc.code, tc.want)
		}
	}
}

package testkit

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/drawbridge-dev/drawbridge/demobackend"
)

// backendEnv, when set, makes the test binary serve as a backend instead
// of running the tests (the os/exec re-exec pattern): tests start real
// backend processes without building drawbridge. Its value is the mode.
const backendEnv = "DRAWBRIDGE_TESTKIT_BACKEND"

// Backend modes for BackendCommand.
const (
	// Serve serves demobackend and stops on SIGTERM, as `drawbridge
	// backend` does.
	Serve = "serve"
	// IgnoreTerm serves demobackend and ignores SIGTERM: only SIGKILL
	// stops it, like a backend that hangs on shutdown.
	IgnoreTerm = "ignore-term"
)

// BackendCommand is the command line and extra environment that start
// this test binary as a backend process in the given mode; append
// "--listen", addr, "--id", id to the command line. The package's
// TestMain must call Main.
func BackendCommand(mode string) (argv, env []string) {
	return []string{os.Args[0], "backend"}, []string{backendEnv + "=" + mode}
}

// Main is the body of a TestMain: in a process BackendCommand started it
// serves as the backend; otherwise it runs the tests and removes the
// binary Drawbridge built. It returns the exit code.
func Main(m *testing.M) int {
	if mode := os.Getenv(backendEnv); mode != "" {
		return runBackend(mode)
	}
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	return code
}

func runBackend(mode string) int {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	listen := fs.String("listen", "", "")
	id := fs.String("id", "", "")
	_ = fs.Parse(os.Args[2:]) // argv: test-binary backend --listen ... --id ...
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if mode == IgnoreTerm {
		signal.Ignore(syscall.SIGTERM)
		ctx = context.Background()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = demobackend.Serve(ctx, ln, demobackend.NewHandler(demobackend.Config{ID: *id}))
	return 0
}

// GoTool is the go command, for a test that builds the program it runs
// (named what); it skips the test with -short or without a toolchain.
func GoTool(t testing.TB, what string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs " + what + "; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH: cannot build " + what)
	}
	return goTool
}

// build is the drawbridge binary, built once per test binary run.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Drawbridge builds cmd/drawbridge once per test run and returns the
// binary's path, for tests that run it as a real process. It skips the
// test with -short or without a go toolchain. The package's TestMain must
// call Main, which removes it.
func Drawbridge(t testing.TB) string {
	t.Helper()
	goTool := GoTool(t, "drawbridge")
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "drawbridge-test")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "drawbridge")
		out, err := exec.Command(goTool, "build", "-o", build.path, "github.com/drawbridge-dev/drawbridge/cmd/drawbridge").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

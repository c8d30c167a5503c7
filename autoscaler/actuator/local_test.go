package actuator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/demobackend"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
)

// The test binary doubles as the backend: with this variable set it runs
// demobackend instead of the tests (the os/exec re-exec pattern).
const backendEnv = "DRAWBRIDGE_ACTUATOR_TEST_BACKEND"

func TestMain(m *testing.M) {
	if mode := os.Getenv(backendEnv); mode != "" {
		os.Exit(runTestBackend(mode))
	}
	os.Exit(m.Run())
}

func runTestBackend(mode string) int {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	listen := fs.String("listen", "", "")
	id := fs.String("id", "", "")
	fs.Parse(os.Args[2:]) // argv: test-binary backend --listen ... --id ...
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if mode == "ignore-term" {
		ctx = context.Background()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	demobackend.Serve(ctx, ln, demobackend.NewHandler(demobackend.Config{ID: *id}))
	return 0
}

type sink struct {
	mu      sync.Mutex
	history [][]backend.Spec
}

func (s *sink) SetBackends(specs []backend.Spec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, specs)
	return nil
}

func (s *sink) last() []backend.Spec {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history) == 0 {
		return nil
	}
	return s.history[len(s.history)-1]
}

func newTestLocal(t *testing.T, mode string, stopTimeout time.Duration, snk *sink) *Local {
	t.Helper()
	l, err := NewLocal(LocalOptions{
		Group: "web", Min: 0, Max: 4,
		Command:     []string{os.Args[0], "backend"},
		Env:         []string{backendEnv + "=" + mode},
		Sink:        snk,
		StopTimeout: stopTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitInService polls Describe until n backends answer, with a deadline.
func waitInService(t *testing.T, l *Local, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := l.Describe(context.Background(), "web")
		if err != nil {
			t.Fatal(err)
		}
		if st.InService == n && st.Warming == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in service %d, warming %d; want %d in service", st.InService, st.Warming, n)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising
	}
}

func answer(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Header.Get("X-Backend-Id") + "|" + string(b), err
}

func ids(specs []backend.Spec) string {
	s := ""
	for _, sp := range specs {
		s += sp.ID + " "
	}
	return s
}

func TestLocalScalesAndRegisters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	snk := &sink{}
	l := newTestLocal(t, "normal", 5*time.Second, snk)
	ctx := context.Background()
	steps := []struct {
		desired int
		want    string // ids registered with the sink
	}{
		{3, "web-0 web-1 web-2 "},
		{1, "web-0 "}, // newest stopped first
		{2, "web-0 web-1 "},
		{9, "web-0 web-1 web-2 web-3 "}, // clipped to Max
		{0, ""},
	}
	for _, s := range steps {
		if err := l.SetDesired(ctx, "web", s.desired, "test"); err != nil {
			t.Fatal(err)
		}
		if got := ids(snk.last()); got != s.want {
			t.Fatalf("SetDesired(%d): sink has %q, want %q", s.desired, got, s.want)
		}
		waitInService(t, l, len(snk.last()))
		for _, sp := range snk.last() {
			got, err := answer(sp.Address)
			if err != nil {
				t.Fatalf("backend %s: %v", sp.ID, err)
			}
			if got[:len(sp.ID)] != sp.ID {
				t.Fatalf("backend at %s answered %q, want id %s", sp.Address, got, sp.ID)
			}
		}
	}
	if err := l.SetDesired(ctx, "api", 1, "x"); err == nil {
		t.Fatal("unknown group accepted")
	}
}

func TestLocalCloseLeavesNoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cases := []struct {
		name string
		mode string
	}{
		{"graceful", "normal"},
		{"SIGTERM ignored, killed after the bound", "ignore-term"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLocal(t, tc.mode, 300*time.Millisecond, &sink{})
			if err := l.SetDesired(context.Background(), "web", 2, "test"); err != nil {
				t.Fatal(err)
			}
			waitInService(t, l, 2)
			var pids []int
			for _, p := range l.procs {
				pids = append(pids, p.cmd.Process.Pid)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, pid := range pids {
				// The process was reaped; its group must be empty too.
				if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("process group %d still alive (err %v)", pid, err)
				}
			}
			if err := l.SetDesired(context.Background(), "web", 1, "x"); err == nil {
				t.Fatal("SetDesired after Close succeeded")
			}
		})
	}
}

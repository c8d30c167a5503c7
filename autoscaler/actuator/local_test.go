package actuator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
)

// The test binary doubles as the backend (testkit.BackendCommand).
func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// sink is a membership sink that remembers what it was given.
type sink struct{ testkit.Log[[]backend.Spec] }

func (s *sink) SetBackends(specs []backend.Spec) error {
	s.Add(specs)
	return nil
}

// last is the newest membership (none before the first).
func (s *sink) last() []backend.Spec {
	specs, _ := s.Last()
	return specs
}

func newTestLocal(t *testing.T, mode string, stopTimeout time.Duration, snk *sink) *Local {
	t.Helper()
	argv, env := testkit.BackendCommand(mode)
	l, err := NewLocal(LocalOptions{
		Group: "web", Min: 0, Max: 4,
		Command:     argv,
		Env:         env,
		Sink:        snk,
		StopTimeout: stopTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitInService polls Describe until n backends answer.
func waitInService(t *testing.T, l *Local, n int) {
	t.Helper()
	var st autoscaler.GroupState
	var err error
	if !testkit.Until(testkit.Patience, func() bool {
		st, err = l.Describe(context.Background(), "web")
		return err != nil || (st.InService == n && st.Warming == 0)
	}) {
		t.Fatalf("in service %d, warming %d; want %d in service", st.InService, st.Warming, n)
	}
	if err != nil {
		t.Fatal(err)
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
	l := newTestLocal(t, testkit.Serve, 5*time.Second, snk)
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
		{"graceful", testkit.Serve},
		{"SIGTERM ignored, killed after the bound", testkit.IgnoreTerm},
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

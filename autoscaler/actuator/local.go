package actuator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler"
	"github.com/drawbridge-dev/drawbridge/internal/backend"
	"github.com/drawbridge-dev/drawbridge/internal/discovery"
)

// LocalOptions configure a Local actuator.
type LocalOptions struct {
	Group    string
	Min, Max int
	// Command is the backend's argv before "--listen ADDR --id ID" (which
	// the actuator appends). Empty means this executable's "backend"
	// subcommand.
	Command []string
	// Env is added to the backends' environment.
	Env []string
	// Host to listen on; default 127.0.0.1.
	Host string
	// BasePort: backend i listens on BasePort+i; 0 picks free ports.
	BasePort int
	// Sink, if set, receives the full membership after every change (the
	// local gateway's pool implements discovery.Sink).
	Sink discovery.Sink
	// StopTimeout bounds the wait after SIGTERM before SIGKILL (default 5 s).
	StopTimeout time.Duration
	Log         *slog.Logger
	// Output receives the backends' stdout and stderr; default os.Stderr.
	Output io.Writer
}

// Local runs a group as `drawbridge backend` processes on this machine.
// Each backend runs in its own process group, with SIGKILL as its
// parent-death signal, so that neither a crash of the daemon nor a
// backend's own children leave orphans behind. Scale-in stops the newest
// backends first, as an ASG's NewestInstance termination policy does.
type Local struct {
	opt LocalOptions

	mu      sync.Mutex
	desired int
	procs   []*localProc // oldest first
	closed  bool
}

type localProc struct {
	id    string
	addr  string
	slot  int
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited and been reaped
	ready bool
}

// NewLocal returns a Local actuator with no backends running.
func NewLocal(opt LocalOptions) (*Local, error) {
	if len(opt.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local actuator: %w", err)
		}
		opt.Command = []string{exe, "backend"}
	}
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = 5 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Local{opt: opt}, nil
}

func (l *Local) check(group string) error {
	if group != l.opt.Group {
		return fmt.Errorf("local actuator for %q: unknown group %q", l.opt.Group, group)
	}
	return nil
}

// Describe reports running backends: those answering /healthz are in
// service, the others (still starting) warming. Backends that exited on
// their own are dropped from the membership.
func (l *Local) Describe(ctx context.Context, group string) (autoscaler.GroupState, error) {
	if err := l.check(group); err != nil {
		return autoscaler.GroupState{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reapLocked() {
		l.publishLocked()
	}
	st := autoscaler.GroupState{Name: group, Min: l.opt.Min, Max: l.opt.Max, Desired: l.desired}
	for _, p := range l.procs {
		if !p.ready {
			p.ready = probeHealthz(ctx, p.addr)
		}
		if p.ready {
			st.InService++
		} else {
			st.Warming++
		}
	}
	return st, nil
}

// SetDesired starts or stops backends until desired (clipped to
// [Min, Max]) run.
func (l *Local) SetDesired(ctx context.Context, group string, desired int, reason string) error {
	if err := l.check(group); err != nil {
		return err
	}
	desired = Clip(desired, l.opt.Min, l.opt.Max)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("local actuator: closed")
	}
	l.reapLocked()
	l.desired = desired
	var errs []error
	for len(l.procs) < desired {
		p, err := l.startLocked()
		if err != nil {
			errs = append(errs, err)
			break
		}
		l.procs = append(l.procs, p)
		l.opt.Log.Info("backend started", "group", group, "id", p.id, "addr", p.addr, "pid", p.cmd.Process.Pid, "reason", reason)
	}
	for len(l.procs) > desired {
		p := l.procs[len(l.procs)-1]
		l.procs = l.procs[:len(l.procs)-1]
		// Deregister before stopping, so the gateway drains it first.
		l.publishLocked()
		l.stop(p)
		l.opt.Log.Info("backend stopped", "group", group, "id", p.id, "addr", p.addr, "reason", reason)
	}
	if err := l.publishLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Backends returns the current membership.
func (l *Local) Backends() []backend.Spec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.specsLocked()
}

// Close stops every backend; the actuator cannot be used afterwards.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	procs := l.procs
	l.procs = nil
	l.publishLocked()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); l.stop(p) }()
	}
	wg.Wait()
	return nil
}

func (l *Local) startLocked() (*localProc, error) {
	slot := l.freeSlotLocked()
	port := 0
	if l.opt.BasePort > 0 {
		port = l.opt.BasePort + slot
	} else {
		var err error
		if port, err = freePort(l.opt.Host); err != nil {
			return nil, fmt.Errorf("local actuator: %w", err)
		}
	}
	addr := net.JoinHostPort(l.opt.Host, strconv.Itoa(port))
	id := fmt.Sprintf("%s-%d", l.opt.Group, slot)
	args := append(append([]string{}, l.opt.Command[1:]...), "--listen", addr, "--id", id)
	cmd := exec.Command(l.opt.Command[0], args...)
	cmd.Env = append(os.Environ(), l.opt.Env...)
	out := l.opt.Output
	if out == nil {
		out = os.Stderr
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("local actuator: start %s: %w", l.opt.Command[0], err)
	}
	p := &localProc{id: id, addr: addr, slot: slot, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }() //nolint:errcheck // exit status is not interesting here
	return p, nil
}

func (l *Local) freeSlotLocked() int {
	used := map[int]bool{}
	for _, p := range l.procs {
		used[p.slot] = true
	}
	for i := 0; ; i++ {
		if !used[i] {
			return i
		}
	}
}

// stop sends SIGTERM to the backend's process group, waits up to
// StopTimeout, then SIGKILLs it.
func (l *Local) stop(p *localProc) {
	pgid := -p.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM) //nolint:errcheck // it may already be gone
	t := time.NewTimer(l.opt.StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		l.opt.Log.Warn("backend ignored SIGTERM, killing it", "id", p.id, "timeout", l.opt.StopTimeout)
		syscall.Kill(pgid, syscall.SIGKILL) //nolint:errcheck
		<-p.done
	}
	// The leader is gone; make sure none of its children outlive it.
	syscall.Kill(pgid, syscall.SIGKILL) //nolint:errcheck
}

// reapLocked drops backends that exited on their own; it reports whether
// the membership changed.
func (l *Local) reapLocked() bool {
	live := l.procs[:0]
	changed := false
	for _, p := range l.procs {
		select {
		case <-p.done:
			changed = true
			l.opt.Log.Warn("backend exited", "group", l.opt.Group, "id", p.id, "state", p.cmd.ProcessState.String())
		default:
			live = append(live, p)
		}
	}
	l.procs = live
	return changed
}

func (l *Local) specsLocked() []backend.Spec {
	specs := make([]backend.Spec, 0, len(l.procs))
	for _, p := range l.procs {
		specs = append(specs, backend.Spec{ID: p.id, Address: p.addr, Weight: 1})
	}
	return specs
}

func (l *Local) publishLocked() error {
	if l.opt.Sink == nil {
		return nil
	}
	if err := l.opt.Sink.SetBackends(l.specsLocked()); err != nil {
		return fmt.Errorf("local actuator: register backends: %w", err)
	}
	return nil
}

func probeHealthz(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return Healthz(ctx, http.DefaultClient, addr)
}

// Healthz reports whether the backend at addr answers GET /healthz with a
// 200 through client: what "ready" means for a backend this actuator
// starts, for whoever waits on one.
func Healthz(ctx context.Context, client *http.Client, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePort picks a free port below the kernel's ephemeral range. A port
// found by binding ":0" comes from that range, and between closing it and
// the backend binding it, anything else binding ":0" (the gateway, in local
// mode) can be handed the same port; ports outside the range are never
// handed out that way.
func freePort(host string) (int, error) {
	lo, hi := 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var elo, ehi int
		if _, err := fmt.Sscan(string(b), &elo, &ehi); err == nil && elo > 2048 && elo <= lo {
			lo, hi = 1024, elo // the range starts low: use the ports below it
		} else if err == nil && elo > 2048 && elo < hi {
			hi = elo
		}
	}
	var lastErr error
	for i := 0; i < 100; i++ {
		port := lo + rand.IntN(hi-lo)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			lastErr = err // taken: try another
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d: %w", lo, hi, lastErr)
}

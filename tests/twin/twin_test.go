// Package twin runs a stack's traffic core, as user data installs it, on a
// twin of the stack's network made of Linux network namespaces, against
// the wire-protocol AWS double (internal/awsdouble).
//
//	inet (client) ──203.0.113.0/30── rtr (VPC router + IGW, forwards)
//	                                  ├─ public subnet per AZ (bridge): gw0, gw1
//	                                  └─ private subnet per AZ (bridge): one namespace per backend instance
//
// inet routes only the EIP (/32, via rtr); rtr routes the EIP to whichever
// gateway the double says it is associated with. So the client reaches the
// gateway holding the EIP and nothing in the private subnets.
package twin

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	eip        = "198.51.100.7"
	apiAddr    = "169.254.170.10:4566" // where the twin's gateways reach the AWS double
	imdsAddr   = "169.254.169.254:80"
	launchWait = 500 * time.Millisecond // the double's modelled instance boot time
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func drawbridge(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drawbridge-twin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "drawbridge")
		if out, err := exec.Command("go", "build", "-o", binPath, "github.com/drawbridge-dev/drawbridge/cmd/drawbridge").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func requireTwin(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the twin needs root for network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the twin needs the ip command (iproute2)")
	}
	if testing.Short() {
		t.Skip("the twin is skipped in -short mode")
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNS runs fn on a thread inside namespace ns: sockets it creates
// (listeners, connections) stay in that namespace. The thread is never
// unlocked, so it exits rather than return to the scheduler there.
func inNS[T any](ns string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := fn()
		res <- result{v, err}
	}()
	r := <-res
	return r.v, r.err
}

func dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return inNS(ns, func() (net.Conn, error) { var d net.Dialer; return d.DialContext(ctx, network, addr) })
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	return time.Since(start)
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// host is one address in prefix p.
func host(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, ns string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv("DRAWBRIDGE_TWIN_LOGS") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
}

func (p *proc) signal(s syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, s)
	<-p.done
}

// answer is one response the client got through the EIP.
type answer struct {
	start, end time.Time
	node       string
	backend    string
	token      uint64
}

// clientErr is one request that got no 200.
type clientErr struct {
	start time.Time
	msg   string
}

type load struct {
	mu      sync.Mutex
	rate    float64 // requests per second
	answers []answer
	errs    []clientErr
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// startLoad sends GETs to the EIP from inet at l.rate, open loop, over
// keep-alive connections as browsers and API clients do: a connection
// lives until the gateway behind it goes away, then the client dials again
// and reaches whichever gateway holds the EIP now.
func startLoad(ns string, rate float64) *load {
	l := &load{rate: rate, stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer(ns), MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}, Timeout: 5 * time.Second}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer client.CloseIdleConnections()
		next := time.Now()
		for {
			l.mu.Lock()
			next = next.Add(time.Duration(float64(time.Second) / l.rate))
			l.mu.Unlock()
			select {
			case <-l.stop:
				return
			case <-time.After(time.Until(next)): // pacing the offered load
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				s := time.Now()
				resp, err := client.Get("http://" + eip + "/")
				if err != nil {
					l.mu.Lock()
					l.errs = append(l.errs, clientErr{s, err.Error()})
					l.mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				l.mu.Lock()
				defer l.mu.Unlock()
				if resp.StatusCode != http.StatusOK {
					l.errs = append(l.errs, clientErr{s, fmt.Sprintf("%d from %s", resp.StatusCode, resp.Header.Get("X-Drawbridge-Node"))})
					return
				}
				tok, _ := strconv.ParseUint(resp.Header.Get("X-Drawbridge-Fence"), 10, 64)
				l.answers = append(l.answers, answer{s, time.Now(), resp.Header.Get("X-Drawbridge-Node"), resp.Header.Get("X-Backend-Id"), tok})
			}()
		}
	}()
	return l
}

func (l *load) setRate(r float64) { l.mu.Lock(); l.rate = r; l.mu.Unlock() }
func (l *load) halt()             { l.once.Do(func() { close(l.stop) }); l.wg.Wait() }
func (l *load) snapshot() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.answers)
}

// errors lists the failed requests that started in [from, to).
func (l *load) errors(from, to time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.errs {
		if !e.start.Before(from) && e.start.Before(to) {
			out = append(out, e.msg)
		}
	}
	return out
}
func (l *load) find(since time.Time, ok func(answer) bool) (answer, bool) {
	for _, a := range l.snapshot() {
		if a.end.After(since) && ok(a) {
			return a, true
		}
	}
	return answer{}, false
}

// checkFence: a request that started after another had been answered never
// carries a lower fencing token, and one token is one node.
func checkFence(t *testing.T, as []answer) {
	t.Helper()
	byEnd := slices.Clone(as)
	slices.SortFunc(byEnd, func(a, b answer) int { return a.end.Compare(b.end) })
	byStart := slices.Clone(as)
	slices.SortFunc(byStart, func(a, b answer) int { return a.start.Compare(b.start) })
	owner := map[uint64]string{}
	var maxTok uint64
	j := 0
	for _, a := range byStart {
		if a.token == 0 {
			t.Fatalf("answer from %s without a fencing token", a.node)
		}
		if o, ok := owner[a.token]; ok && o != a.node {
			t.Fatalf("token %d answered by %s and %s", a.token, o, a.node)
		}
		owner[a.token] = a.node
		for ; j < len(byEnd) && byEnd[j].end.Before(a.start); j++ {
			maxTok = max(maxTok, byEnd[j].token)
		}
		if a.token < maxTok {
			t.Fatalf("fence went backwards: %s answered with token %d after token %d", a.node, a.token, maxTok)
		}
	}
}

func TestTwinProd(t *testing.T)    { runTwin(t, "prod") }
func TestTwinStaging(t *testing.T) { runTwin(t, "staging") }
func TestTwinDev(t *testing.T)     { runTwin(t, "dev") }

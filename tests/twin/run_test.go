package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/infra/boot"
	"github.com/drawbridge-dev/drawbridge/internal/awsdouble"
	"github.com/drawbridge-dev/drawbridge/internal/testkit"
	"github.com/drawbridge-dev/drawbridge/internal/testkit/netns"
)

type gatewayInstance struct {
	ns, id, ip string
	procs      []*netns.Proc
}

func runTwin(t *testing.T, stack string) {
	netns.Require(t)
	bin := testkit.Drawbridge(t)
	cfg, err := boot.LoadStack("../..", stack)
	if err != nil {
		t.Fatal(err)
	}
	// The stack's own config with twin-sized timings: the same keys a user
	// would set, so what runs is still what render produces.
	cfg.FailoverLeaseTTL = 1500 * time.Millisecond
	cfg.DiscoveryInterval = 300 * time.Millisecond
	cfg.AutoscalerInterval = time.Second
	cfg.HealthCheckGracePeriod = 1
	cfg.AutoscalerCapacityPerInstance = 20
	azs := []string{cfg.Region + "a", cfg.Region + "b", cfg.Region + "c"}
	netPlan, err := cfg.PlanNetwork(azs)
	if err != nil {
		t.Fatal(err)
	}

	tag := fmt.Sprintf("tw%d%c", os.Getpid()%10000, stack[0])
	nsName := func(n string) string { return tag + n }
	newNS := func(n string) string { return netns.Add(t, nsName(n)) }
	rtr, inet := newNS("rtr"), newNS("inet")
	if out, err := exec.Command("ip", "netns", "exec", rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("ip_forward: %v %s", err, out)
	}
	netns.IP(t, "link", "add", "eth0", "netns", inet, "type", "veth", "peer", "name", "inet", "netns", rtr)
	netns.IP(t, "-n", rtr, "addr", "add", "203.0.113.1/30", "dev", "inet")
	netns.IP(t, "-n", inet, "addr", "add", "203.0.113.2/30", "dev", "eth0")
	netns.IP(t, "-n", rtr, "link", "set", "inet", "up")
	netns.IP(t, "-n", inet, "link", "set", "eth0", "up")
	// The internet knows only the EIP.
	netns.IP(t, "-n", inet, "route", "add", eip+"/32", "via", "203.0.113.1")
	for i := range netPlan.AZs {
		for _, s := range []struct {
			br string
			p  string
		}{{fmt.Sprintf("pub%d", i), netPlan.Public[i].String()}, {fmt.Sprintf("prv%d", i), netPlan.Private[i].String()}} {
			p := mustPrefix(t, s.p)
			netns.IP(t, "-n", rtr, "link", "add", s.br, "type", "bridge")
			netns.IP(t, "-n", rtr, "addr", "add", fmt.Sprintf("%s/%d", host(p, 1), p.Bits()), "dev", s.br)
			netns.IP(t, "-n", rtr, "link", "set", s.br, "up")
		}
	}
	// attach puts namespace ns on a subnet's bridge at address a.
	attach := func(ns, br string, p string, a string) {
		pp := mustPrefix(t, p)
		peer := "v" + strings.TrimPrefix(ns, tag)
		netns.IP(t, "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", rtr)
		netns.IP(t, "-n", rtr, "link", "set", peer, "master", br)
		netns.IP(t, "-n", rtr, "link", "set", peer, "up")
		netns.IP(t, "-n", ns, "addr", "add", fmt.Sprintf("%s/%d", a, pp.Bits()), "dev", "eth0")
		netns.IP(t, "-n", ns, "link", "set", "eth0", "up")
		netns.IP(t, "-n", ns, "route", "add", "default", "via", host(pp, 1).String())
	}

	d := awsdouble.New(cfg.Region)
	d.LaunchDelay = launchWait
	t.Cleanup(d.Close)
	d.AddTable(boot.LeaseTable(cfg))
	alloc := d.AddAddress(eip)
	bundle, err := boot.Render(cfg, boot.Deployed{AllocationID: alloc}, "../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := bundle.Write(dir, ""); err != nil {
		t.Fatal(err)
	}
	// The units' command lines, with the install paths under dir.
	command := func(unit string) []string {
		args, err := bundle.ExecStart(unit)
		if err != nil {
			t.Fatal(err)
		}
		args[0] = bin
		for i, a := range args {
			if strings.HasPrefix(a, "/etc/drawbridge/") {
				args[i] = filepath.Join(dir, a)
			}
		}
		return args
	}
	env := []string{"AWS_ENDPOINT_URL=http://" + apiAddr, "AWS_ACCESS_KEY_ID=AKIDTWIN", "AWS_SECRET_ACCESS_KEY=twin"}

	serveIn := func(ns, addr string, h http.Handler) {
		ln, err := netns.In(ns, func() (net.Listener, error) { return net.Listen("tcp", addr) })
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	var gws [2]*gatewayInstance
	for i := range gws {
		az := i % len(netPlan.AZs)
		ns := newNS(fmt.Sprintf("g%d", i))
		a := host(netPlan.Public[az], 10+i).String()
		attach(ns, fmt.Sprintf("pub%d", az), netPlan.Public[az].String(), a)
		netns.IP(t, "-n", ns, "addr", "add", eip+"/32", "dev", "lo")
		in := d.AddInstance(a, netPlan.AZs[az], map[string]string{"drawbridge:role": "gateway"})
		gws[i] = &gatewayInstance{ns: ns, id: in.ID, ip: a}
	}
	// IMDS and the AWS endpoints live on the router (the hypervisor and the
	// regional endpoints): reached by routing, IMDS knows the caller by its
	// source address.
	for _, local := range []string{"169.254.169.254/32", "169.254.170.10/32"} {
		netns.IP(t, "-n", rtr, "addr", "add", local, "dev", "lo")
	}
	serveIn(rtr, apiAddr, d)
	serveIn(rtr, imdsAddr, d.IMDSBySource())
	byID := map[string]*gatewayInstance{gws[0].id: gws[0], gws[1].id: gws[1]}
	d.Hooks.Associate = func(_, _, inst string) {
		if g := byID[inst]; g != nil {
			_ = exec.Command("ip", "-n", rtr, "route", "replace", eip+"/32", "via", g.ip).Run()
		}
	}
	// Backends: one namespace per instance in its AZ's private subnet,
	// running `drawbridge backend` on the app port.
	var bmu sync.Mutex
	backends := map[string]*netns.Proc{}
	nextHost := map[int]int{}
	launched := 0
	d.Hooks.Launch = func(in awsdouble.Instance) (string, error) {
		az := slicesIndex(netPlan.AZs, in.AZ)
		bmu.Lock()
		launched++
		n := launched
		nextHost[az]++
		a := host(netPlan.Private[az], 9+nextHost[az]).String()
		bmu.Unlock()
		ns := newNS(fmt.Sprintf("b%d", n))
		attach(ns, fmt.Sprintf("prv%d", az), netPlan.Private[az].String(), a)
		p := netns.Start(t, ns, twinLogs, nil, bin, "backend", "--listen", fmt.Sprintf("%s:%d", a, cfg.AppPort), "--id", in.ID)
		var err error
		if !testkit.Until(testkit.Patience, func() bool { // the process is starting
			var c net.Conn
			if c, err = netns.Dialer(ns)(context.Background(), "tcp", fmt.Sprintf("%s:%d", a, cfg.AppPort)); err == nil {
				c.Close()
			}
			return err == nil
		}) {
			return "", err
		}
		bmu.Lock()
		backends[in.ID] = p
		bmu.Unlock()
		return a, nil
	}
	d.Hooks.Terminate = func(in awsdouble.Instance) {
		bmu.Lock()
		p := backends[in.ID]
		delete(backends, in.ID)
		bmu.Unlock()
		if p != nil {
			p.Stop(syscall.SIGTERM) // EC2 shutdown: systemd stops the service
		}
	}
	if err := d.AddGroup(awsdouble.Group{Name: boot.GroupName(cfg), Min: cfg.MinSize, Max: cfg.MaxSize, Desired: cfg.DesiredCapacity, AZs: netPlan.AZs,
		Tags: map[string]string{"drawbridge:pool": cfg.PoolName, "drawbridge:port": fmt.Sprint(cfg.AppPort)},
		// The stack's termination lifecycle hook (infra: boot.LifecycleHeartbeat),
		// at the twin's timings: AWS's 30 s floor would only slow the test.
		TerminationHook: boot.TerminationDrain(cfg)}); err != nil {
		t.Fatal(err)
	}

	boot1 := func(g *gatewayInstance) {
		g.procs = nil
		for _, u := range bundle.Units {
			g.procs = append(g.procs, netns.Start(t, g.ns, twinLogs, env, command("/etc/systemd/system/"+u)...))
		}
	}
	crash := func(g *gatewayInstance) {
		for _, p := range g.procs {
			p.Stop(syscall.SIGKILL)
		}
	}
	boot1(gws[0])
	testkit.EventuallyWithin(t, 20*time.Second, "gateway 0 to take the EIP", func() bool { return d.Association(alloc) == gws[0].id })
	boot1(gws[1])

	// Wait for the first 200 through the EIP (the gateway has discovered
	// the group), then put the load on.
	probe := &http.Client{Transport: &http.Transport{DialContext: netns.Dialer(inet), DisableKeepAlives: true}, Timeout: 2 * time.Second}
	testkit.EventuallyWithin(t, 20*time.Second, "a 200 through the EIP", func() bool {
		resp, err := probe.Get("http://" + eip + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	capacity := 0.7 * float64(cfg.AutoscalerCapacityPerInstance)
	low := capacity * float64(max(cfg.MinSize, 1)) * 0.5
	began := time.Now()
	l := startLoad(inet, low)
	t.Cleanup(l.halt)
	testkit.EventuallyWithin(t, 20*time.Second, "a 200 from the load", func() bool { _, ok := l.Find(time.Time{}, func(netns.Answer) bool { return true }); return ok })
	// The client cannot reach a backend: no route from the internet side.
	_, states := d.GroupState(boot.GroupName(cfg))
	if in := states["InService"]; len(in) > 0 {
		_, err := netns.Dialer(inet)(context.Background(), "tcp", fmt.Sprintf("%s:%d", in[0].PrivateIP, cfg.AppPort))
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Fatalf("the internet side dialling backend %s: %v, want network unreachable", in[0].PrivateIP, err)
		}
	}

	// Failover: SIGKILL the active instance's processes under load.
	as := l.Answers()
	last := as[len(as)-1]
	killed := time.Now()
	crash(gws[0])
	// The bound: two lease TTLs and a second for the EIP move, plus the
	// longest stretch without an answer the clients saw before the kill:
	// on a loaded machine that wait for a CPU shows in every gap.
	quiet := netns.Quiet(as, began, killed)
	bound := 2*cfg.FailoverLeaseTTL + time.Second + quiet
	testkit.EventuallyWithin(t, 2*bound, "the passive to serve the EIP", func() bool {
		_, ok := l.Find(killed, func(a netns.Answer) bool { return a.Node == gws[1].id && a.Token > last.Token })
		return ok
	})
	first, _ := l.Find(killed, func(a netns.Answer) bool { return a.Node == gws[1].id })
	gap := first.End.Sub(last.End)
	lost := l.Errors(killed, first.End)
	t.Logf("%s: failover gap %v (lease ttl %v, quiet before it %v, bound %v); EIP on %s; %d requests failed while no gateway held it (%s)",
		stack, gap.Round(time.Millisecond), cfg.FailoverLeaseTTL, quiet.Round(time.Millisecond), bound.Round(time.Millisecond), d.Association(alloc), len(lost), summarize(lost))
	if gap > bound || d.Association(alloc) != gws[1].id {
		t.Fatalf("failover gap %v above the bound %v, or EIP not moved", gap, bound)
	}
	if errs := l.Errors(began, killed); len(errs) != 0 {
		t.Errorf("before the failover: %d client errors: %v", len(errs), errs)
	}
	boot1(gws[0]) // systemd's Restart=always, or a reboot: it comes back passive

	// Settle at low load, then a load step.
	name := boot.GroupName(cfg)
	testkit.EventuallyWithin(t, 60*time.Second, "the group to settle at low load", func() bool {
		des, st := d.GroupState(name)
		return len(st["Pending"]) == 0 && leaving(st) == 0 && len(st["InService"]) == des
	})
	desired0, st := d.GroupState(name)
	before := map[string]bool{}
	for _, in := range st["InService"] {
		before[in.ID] = true
	}
	want := min(cfg.MaxSize, desired0+2)
	high := capacity * float64(want) * 1.1
	stepped := time.Now()
	l.setRate(high)
	testkit.EventuallyWithin(t, 90*time.Second, "a request served by a backend launched after the step", func() bool {
		_, ok := l.Find(stepped, func(a netns.Answer) bool { return a.Backend != "" && !before[a.Backend] })
		return ok
	})
	a, _ := l.Find(stepped, func(a netns.Answer) bool { return a.Backend != "" && !before[a.Backend] })
	desired1, _ := d.GroupState(name)
	t.Logf("%s: load step %.0f -> %.0f req/s: desired %d -> %d; first request served by a new backend %v after the step",
		stack, low, high, desired0, desired1, a.End.Sub(stepped).Round(time.Millisecond))

	// Load falls: scale in, with zero client errors while it drains.
	testkit.EventuallyWithin(t, 60*time.Second, "the scale-out to complete", func() bool {
		des, st := d.GroupState(name)
		return des > desired0 && len(st["InService"]) == des
	})
	desiredHigh, _ := d.GroupState(name)
	fell := time.Now()
	l.setRate(low)
	testkit.EventuallyWithin(t, 120*time.Second, "the group to scale in", func() bool {
		des, st := d.GroupState(name)
		return des < desiredHigh && leaving(st) == 0 && len(st["InService"]) == des
	})
	desired2, _ := d.GroupState(name)
	ended := time.Now()
	l.halt()
	t.Logf("%s: load falls to %.0f req/s: desired %d -> %d in %v; client errors: %d in the step, %d in the scale-in",
		stack, low, desiredHigh, desired2, ended.Sub(fell).Round(time.Millisecond), len(l.Errors(stepped, fell)), len(l.Errors(fell, ended)))
	// Once the passive serves, nothing fails: not the restarted gateway
	// joining, not the step, not the scale-in draining.
	if errs := l.Errors(first.End, ended); len(errs) != 0 {
		t.Errorf("after the failover: %d client errors: %s", len(errs), summarize(errs))
	}
	// The autoscaler acts beside the active gateway only: the passive one
	// sees no traffic and would scale in.
	if len(bundle.Units) > 1 {
		for i, g := range gws {
			c := &http.Client{Transport: &http.Transport{DialContext: netns.Dialer(g.ns)}, Timeout: 2 * time.Second}
			var st struct {
				Lease struct {
					Held  bool   `json:"held"`
					Token uint64 `json:"token"`
				} `json:"lease"`
			}
			resp, err := c.Get("http://127.0.0.1:9091/status")
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
			}
			if err != nil || st.Lease.Held != (i == 1) {
				t.Errorf("autoscaler on gateway %d (active: %v): lease %+v, err %v", i, i == 1, st.Lease, err)
			}
		}
	}
	all := l.Answers()
	netns.CheckFencing(t, all)
	t.Logf("%s: %d answers; AWS calls: %v", stack, len(all), d.Calls())
}

// leaving counts instances in any Terminating* lifecycle state.
func leaving(st map[string][]awsdouble.Instance) int {
	n := 0
	for k, v := range st {
		if strings.HasPrefix(k, "Terminating") {
			n += len(v)
		}
	}
	return n
}

// summarize counts errors by kind (the message without addresses and ports).
func summarize(errs []string) string {
	kinds := map[string]int{}
	for _, e := range errs {
		if i := strings.LastIndex(e, ": "); i >= 0 {
			e = e[i+2:]
		}
		kinds[e]++
	}
	return fmt.Sprint(kinds)
}

func slicesIndex(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}

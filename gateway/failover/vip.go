package failover

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
)

// VIP is a virtual IP address moved between hosts of one L2 segment, as
// keepalived does: `ip addr add` on the new holder, then gratuitous ARP so
// clients and routers update their neighbour caches at once instead of
// after their entries go stale. It needs CAP_NET_ADMIN.
type VIP struct {
	Prefix    netip.Prefix // e.g. 10.77.0.100/24
	Interface string       // e.g. eth0

	mu   sync.Mutex
	garp *exec.Cmd // repeated announcements still running
}

func (v *VIP) String() string { return v.Prefix.String() + " dev " + v.Interface }

// Acquire adds the address (replace is idempotent) and announces it.
func (v *VIP) Acquire(ctx context.Context) error {
	if err := run(ctx, "ip", "addr", "replace", v.Prefix.String(), "dev", v.Interface); err != nil {
		return err
	}
	ip := v.Prefix.Addr().String()
	// One unsolicited ARP now, synchronously, so the switch-over does not
	// wait on a process start; then a few more in the background for hosts
	// that missed it (keepalived sends 5 by default).
	if err := run(ctx, "arping", "-q", "-U", "-c", "1", "-I", v.Interface, ip); err != nil {
		return fmt.Errorf("gratuitous ARP: %w", err)
	}
	cmd := exec.Command("arping", "-q", "-U", "-c", "3", "-I", v.Interface, ip)
	if cmd.Start() == nil {
		v.mu.Lock()
		v.stopGARP()
		v.garp = cmd
		v.mu.Unlock()
		go func() { _ = cmd.Wait() }()
	}
	return nil
}

// Release deletes the address; an address already gone is not an error.
func (v *VIP) Release(ctx context.Context) error {
	v.mu.Lock()
	v.stopGARP() // never announce an address we no longer hold
	v.mu.Unlock()
	err := run(ctx, "ip", "addr", "del", v.Prefix.String(), "dev", v.Interface)
	if err != nil && strings.Contains(err.Error(), "Cannot assign requested address") {
		return nil
	}
	return err
}

func (v *VIP) stopGARP() {
	if v.garp != nil && v.garp.Process != nil {
		_ = v.garp.Process.Kill()
	}
	v.garp = nil
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

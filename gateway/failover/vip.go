package failover

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drawbridge-dev/drawbridge/clock"
)

// VIP is a virtual IP address moved between hosts of one L2 segment, as
// keepalived does: `ip addr add` on the new holder, then gratuitous ARP so
// that clients and routers update their neighbour caches at once instead
// of after their entries go stale. It needs CAP_NET_ADMIN and CAP_NET_RAW.
type VIP struct {
	Prefix    netip.Prefix // e.g. 10.77.0.100/24
	Interface string       // e.g. eth0

	mu         sync.Mutex
	stopGARP   context.CancelFunc // the repeated announcements, while held
	announceWG sync.WaitGroup
}

// Announcements after taking the address: Linux ignores a neighbour update
// that comes within locktime (1s by default) of the previous one, so a
// single gratuitous ARP right after a failover may be dropped; repeating
// it every garpInterval for garpFor makes one land just after locktime,
// like keepalived's garp_master_repeat.
const (
	garpInterval = 100 * time.Millisecond
	garpFor      = 2 * time.Second
)

func (v *VIP) String() string { return v.Prefix.String() + " dev " + v.Interface }

// Acquire adds the address (replace is idempotent) and announces it.
func (v *VIP) Acquire(ctx context.Context) error {
	if err := run(ctx, "ip", "addr", "replace", v.Prefix.String(), "dev", v.Interface); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(v.Interface)
	if err != nil {
		return fmt.Errorf("gratuitous ARP: %w", err)
	}
	if err := sendGARP(ifi, v.Prefix.Addr()); err != nil {
		return fmt.Errorf("gratuitous ARP on %s: %w", v.Interface, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stop()
	actx, cancel := context.WithTimeout(context.Background(), garpFor)
	v.stopGARP = cancel
	v.announceWG.Add(1)
	go func() {
		defer v.announceWG.Done()
		clock.Every(actx, clock.Real{}, garpInterval, func(time.Time) { _ = sendGARP(ifi, v.Prefix.Addr()) })
	}()
	return nil
}

// Release deletes the address; an address already gone is not an error.
func (v *VIP) Release(ctx context.Context) error {
	v.mu.Lock()
	v.stop() // never announce an address we no longer hold
	v.mu.Unlock()
	err := run(ctx, "ip", "addr", "del", v.Prefix.String(), "dev", v.Interface)
	if err != nil && (strings.Contains(err.Error(), "Address not found") || strings.Contains(err.Error(), "Cannot assign requested address")) {
		return nil
	}
	return err
}

// stop ends the announcements and waits for them; v.mu is held.
func (v *VIP) stop() {
	if v.stopGARP != nil {
		v.stopGARP()
		v.stopGARP = nil
	}
	v.announceWG.Wait()
}

// sendGARP broadcasts one gratuitous ARP request (sender and target both
// ip, as arping -U sends) from ifi.
func sendGARP(ifi *net.Interface, ip netip.Addr) error {
	if !ip.Is4() || len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("gratuitous ARP needs IPv4 on Ethernet (%v on %s)", ip, ifi.Name)
	}
	const ethPARP = 0x0806
	proto := int(htons(ethPARP))
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, proto)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	spa := ip.As4()
	arp := make([]byte, 0, 28)
	arp = binary.BigEndian.AppendUint16(arp, 1)      // Ethernet
	arp = binary.BigEndian.AppendUint16(arp, 0x0800) // IPv4
	arp = append(arp, 6, 4)
	arp = binary.BigEndian.AppendUint16(arp, 1) // request
	arp = append(arp, ifi.HardwareAddr...)
	arp = append(arp, spa[:]...)
	arp = append(arp, 0, 0, 0, 0, 0, 0)
	arp = append(arp, spa[:]...)
	to := &syscall.SockaddrLinklayer{Protocol: htons(ethPARP), Ifindex: ifi.Index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return syscall.Sendto(fd, arp, 0, to)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

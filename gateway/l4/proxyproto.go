package l4

import (
	"net"
	"net/netip"
	"strconv"
)

// proxyHeaderV1 formats a PROXY protocol v1 header (haproxy's
// proxy-protocol.txt, section 2.1) describing a connection from src to dst,
// the proxy's own address the client connected to. v1 is text, so every
// PROXY-aware server (nginx, HAProxy, MySQL/Percona, Postgres poolers,
// EMQX, Mosquitto) parses it; v2 saves a few bytes but adds nothing here.
// When the addresses are not both TCP, or their families differ after
// unmapping IPv4-in-IPv6, the header is "PROXY UNKNOWN", which the spec
// tells receivers to treat as "use the real connection addresses".
func proxyHeaderV1(src, dst net.Addr) []byte {
	s, ok1 := tcpAddrPort(src)
	d, ok2 := tcpAddrPort(dst)
	if !ok1 || !ok2 || s.Addr().Is4() != d.Addr().Is4() {
		return []byte("PROXY UNKNOWN\r\n")
	}
	proto := "TCP6"
	if s.Addr().Is4() {
		proto = "TCP4"
	}
	b := make([]byte, 0, 108) // the spec's maximum v1 header length
	b = append(b, "PROXY "...)
	b = append(b, proto...)
	b = append(b, ' ')
	b = s.Addr().AppendTo(b)
	b = append(b, ' ')
	b = d.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(d.Port()), 10)
	return append(b, "\r\n"...)
}

// tcpAddrPort extracts a TCP address with IPv4-in-IPv6 unmapped (a dual
// stack listener reports IPv4 clients as ::ffff:a.b.c.d) and any zone
// dropped (v1 has no syntax for zones).
func tcpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

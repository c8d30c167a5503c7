// Package clientip names the client of a request the one way the whole
// gateway uses: the connection's peer address, without its port. The
// gateway never believes forwarding headers, not even a trusted proxy's
// (it extends them, see hygiene), so the peer is the client it speaks for.
// X-Forwarded-For and Forwarded, the {client_ip} placeholder, the ip hash
// of pools and L4 listeners, sticky splits, rate-limit and auth-failure
// keys, access lists, trusted proxies and trace attributes all read it
// here, so that no two of them can key one client differently.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Of is r's client address without the port.
func Of(r *http.Request) string { return FromAddr(r.RemoteAddr) }

// FromAddr strips the port from a RemoteAddr-style address: "1.2.3.4:5"
// and "[::1]:5" give "1.2.3.4" and "::1"; an address without a port is
// returned whole. It does not allocate.
func FromAddr(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if end := strings.IndexByte(addr, ']'); end > 0 {
			return addr[1:end]
		}
		return addr
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr[:i], ':') < 0 {
		return addr[:i]
	}
	return addr // bare IPv4, or bare IPv6 (several colons, no brackets)
}

// Addr is r's client as an address, IPv4-mapped IPv6 unmapped and any
// zone dropped, for matching against prefixes; ok is false when the peer
// is not an IP address (a Unix socket, a test's made-up peer).
func Addr(r *http.Request) (a netip.Addr, ok bool) {
	a, err := netip.ParseAddr(FromAddr(r.RemoteAddr))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Prefixes is a set of networks clients are matched against (access
// lists, trusted proxies).
type Prefixes []netip.Prefix

// ParsePrefixes parses CIDRs, masking each to its network.
func ParsePrefixes(cidrs []string) (Prefixes, error) {
	var ps Prefixes
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// Contains reports whether a lies in one of the networks.
func (ps Prefixes) Contains(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

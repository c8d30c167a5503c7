package proxy

import (
	"net/http"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
)

// hopByHop reports whether a (canonical) request or response header is
// connection-specific (RFC 9110 §7.6.1) and so must not be forwarded.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// rewritten reports headers the proxy regenerates itself rather than copies.
func rewritten(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
		"Via", "Content-Length", "Expect", "Host":
		return true
	}
	return false
}

// connectionTokens returns the header names listed in Connection, which are
// hop-by-hop for this message. Nil in the common case of no such header.
func connectionTokens(h http.Header) []string {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	var out []string
	for _, v := range vv {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, http.CanonicalHeaderKey(tok))
			}
		}
	}
	return out
}

func listed(tokens []string, k string) bool {
	for _, t := range tokens {
		if t == k {
			return true
		}
	}
	return false
}

// forwardedFor renders a node for the Forwarded header (RFC 7239 §6):
// IPv6 addresses are bracketed and quoted.
func forwardedNode(ip string) string {
	if strings.IndexByte(ip, ':') >= 0 {
		return `"[` + ip + `]"`
	}
	return ip
}

// appendList joins prior values of a list header with one more element.
func appendList(prior []string, v string) string {
	switch len(prior) {
	case 0:
		return v
	case 1:
		return prior[0] + ", " + v
	}
	return strings.Join(prior, ", ") + ", " + v
}

// forwardingHeaders computes the headers the proxy adds for one request.
type forwardingHeaders struct {
	xff, proto, xfh, forwarded, via string
}

func makeForwardingHeaders(r *http.Request) forwardingHeaders {
	ip := clientip.Of(r)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	via := "1.1 drawbridge"
	if r.ProtoMajor == 2 {
		via = "2 drawbridge"
	}
	fwd := "for=" + forwardedNode(ip) + ";proto=" + proto
	if r.Host != "" && validForwardedHost(r.Host) {
		fwd += ";host=" + r.Host
	}
	return forwardingHeaders{
		xff:       appendList(r.Header["X-Forwarded-For"], ip),
		proto:     proto,
		xfh:       r.Host,
		forwarded: appendList(r.Header["Forwarded"], fwd),
		via:       appendList(r.Header["Via"], via),
	}
}

// validForwardedHost reports whether host can stand unquoted as a token in
// Forwarded; anything odd is left out rather than forwarded half-escaped.
func validForwardedHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}

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

// stringWriter is where a request head is written: a backend connection's
// bufio.Writer, or a strings.Builder for a header value.
type stringWriter interface {
	WriteString(string) (int, error)
}

// forwardingHeaders are the headers the proxy adds for one request, kept
// as their parts and written straight into the request head: building
// their values as strings would cost allocations per request.
type forwardingHeaders struct {
	ip, proto, via string
	xfh            string // X-Forwarded-Host: the client's Host
	fwdHost        string // Forwarded's host=, "" when r.Host cannot stand unquoted
	// The client's values, each list extended with ours.
	priorXFF, priorFwd, priorVia []string
}

func makeForwardingHeaders(r *http.Request) forwardingHeaders {
	fh := forwardingHeaders{
		ip:       clientip.Of(r),
		proto:    "http",
		via:      "1.1 drawbridge",
		xfh:      r.Host,
		priorXFF: r.Header["X-Forwarded-For"],
		priorFwd: r.Header["Forwarded"],
		priorVia: r.Header["Via"],
	}
	if r.TLS != nil {
		fh.proto = "https"
	}
	if r.ProtoMajor == 2 {
		fh.via = "2 drawbridge"
	}
	if r.Host != "" && validForwardedHost(r.Host) {
		fh.fwdHost = r.Host
	}
	return fh
}

// writePrior writes the prior values of a list header, each followed by
// the separator before the next element.
func writePrior(w stringWriter, prior []string) {
	for _, v := range prior {
		w.WriteString(v)
		w.WriteString(", ")
	}
}

func (fh *forwardingHeaders) writeXFF(w stringWriter) {
	writePrior(w, fh.priorXFF)
	w.WriteString(fh.ip)
}

// writeForwarded writes the Forwarded element (RFC 7239): an IPv6 node is
// bracketed and quoted (§6).
func (fh *forwardingHeaders) writeForwarded(w stringWriter) {
	writePrior(w, fh.priorFwd)
	w.WriteString("for=")
	if strings.IndexByte(fh.ip, ':') >= 0 {
		w.WriteString(`"[`)
		w.WriteString(fh.ip)
		w.WriteString(`]"`)
	} else {
		w.WriteString(fh.ip)
	}
	w.WriteString(";proto=")
	w.WriteString(fh.proto)
	if fh.fwdHost != "" {
		w.WriteString(";host=")
		w.WriteString(fh.fwdHost)
	}
}

func (fh *forwardingHeaders) writeVia(w stringWriter) {
	writePrior(w, fh.priorVia)
	w.WriteString(fh.via)
}

// writeFields writes the forwarding header fields into a request head.
func (fh *forwardingHeaders) writeFields(w stringWriter) {
	writeFieldWith(w, "X-Forwarded-For", fh.writeXFF)
	writeField(w, "X-Forwarded-Proto", fh.proto)
	if fh.xfh != "" {
		writeField(w, "X-Forwarded-Host", fh.xfh)
	}
	writeFieldWith(w, "Forwarded", fh.writeForwarded)
	writeFieldWith(w, "Via", fh.writeVia)
}

// value renders what write writes as a string, for a request built as a
// Header (the HTTP/2 path).
func value(write func(stringWriter)) []string {
	var b strings.Builder
	write(&b)
	return []string{b.String()}
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

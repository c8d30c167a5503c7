package hygiene

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// The canonical request. Every field that routing, the access rules and
// the backend's HTTP/1.1 request line read is checked here once, before
// routing, so all three see the same request (SECURITY.md has the rules):
//
//   - the method is a token (RFC 9110 §9.1); CONNECT is not served (501);
//   - the target is origin-form ("/..."), or "*" for OPTIONS, or, over
//     HTTP/1, absolute-form http(s) without userinfo, which is rewritten
//     to origin-form (its authority is the Host, RFC 9112 §3.2.2);
//   - the target has no SP, CTL, DEL, raw "#", backslash or non-ASCII
//     byte; the path's percent-escapes are well formed and do not encode
//     a control character or a backslash;
//   - Host is host[:port]: a reg-name of letters, digits, "-", "_" and
//     "." without empty labels, an IPv4 address, or a bracketed IPv6 one;
//     it is lower-cased and one trailing dot is removed; over HTTP/2 a
//     Host header must agree with :authority;
//   - header names are tokens and values hold no CR, LF, NUL or other
//     control character but HTAB.
//
// HTTP/1 parsing in net/http already enforces parts of this; HTTP/2 hands
// :method, :path and :authority over almost verbatim, and they would be
// written into the backend's request line as they came.

func badRequest(msg string) *Refusal { return &Refusal{http.StatusBadRequest, msg, false} }

// checkTarget validates the method and request target and rewrites an
// absolute-form target to origin-form.
func checkTarget(r *http.Request) *Refusal {
	if !httpguts.ValidHeaderFieldName(r.Method) { // the token rule
		return badRequest("invalid method\n")
	}
	if r.Method == http.MethodConnect {
		// A reverse proxy has no tunnel to offer (nginx and Envoy refuse it too).
		return &Refusal{http.StatusNotImplemented, "CONNECT is not supported\n", false}
	}
	uri, ref := targetForm(r)
	if ref != nil {
		return ref
	}
	return checkTargetBytes(uri)
}

// targetForm checks the form of r's target and rewrites an absolute-form
// one to origin-form. It returns the target whose bytes are yet to check
// ("" for "*").
func targetForm(r *http.Request) (string, *Refusal) {
	uri := r.RequestURI
	switch {
	case len(uri) > 0 && uri[0] == '/':
		return uri, nil
	case uri == "*":
		if r.Method != http.MethodOptions {
			return "", badRequest("asterisk-form request target is only for OPTIONS\n")
		}
		return "", nil
	case r.ProtoMajor == 1 && r.URL.Host != "":
		if !strings.EqualFold(r.URL.Scheme, "http") && !strings.EqualFold(r.URL.Scheme, "https") {
			return "", badRequest("absolute-form request target must be http or https\n")
		}
		if r.URL.User != nil {
			return "", badRequest("userinfo in request target\n") // RFC 9110 §4.2.4
		}
		uri = originForm(uri)
		r.RequestURI = uri
		if r.URL.Path == "" {
			r.URL.Path = "/" // "http://h?q" asks for "/?q"
		}
		return uri, nil
	}
	return "", badRequest("request target must be an absolute path\n")
}

// checkTargetBytes refuses bytes no origin-form target may hold.
func checkTargetBytes(uri string) *Refusal {
	inQuery := false
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c <= ' ' || c >= 0x7f:
			return badRequest("invalid byte in request target\n")
		case c == '#':
			return badRequest("fragment (#) in request target\n")
		case c == '\\':
			// Some servers read a backslash as a slash: /admin\..\x.
			return badRequest("backslash in request target\n")
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2]) {
				return badRequest("malformed percent-encoding in path\n")
			}
			if d := unhex(uri[i+1])<<4 | unhex(uri[i+2]); d < ' ' || d == 0x7f || d == '\\' {
				return badRequest("encoded control character or backslash in path\n")
			}
			i += 2
		}
	}
	return nil
}

// originForm is the path and query of an absolute-form target whose
// scheme is known to be followed by "://".
func originForm(uri string) string {
	rest := uri[strings.Index(uri, "://")+3:]
	i := strings.IndexAny(rest, "/?")
	switch {
	case i < 0:
		return "/"
	case rest[i] == '?':
		return "/" + rest[i:]
	}
	return rest[i:]
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// checkHost validates r.Host and makes it canonical. Over HTTP/2 a Host
// header may come besides :authority; it must name the same host (RFC
// 9113 §8.3.1) and is dropped, since the gateway writes Host itself.
func checkHost(r *http.Request) *Refusal {
	h, ok := canonicalHost(r.Host)
	if !ok {
		return badRequest("invalid host\n")
	}
	r.Host = h
	if vv, present := r.Header["Host"]; present {
		if len(vv) != 1 {
			return badRequest("more than one Host header\n")
		}
		if other, ok := canonicalHost(vv[0]); !ok || other != h {
			return badRequest("Host header differs from the request's authority\n")
		}
		delete(r.Header, "Host")
	}
	return nil
}

// canonicalHost validates host[:port] and returns it lower-cased without
// one trailing dot on the name. It allocates only when it changes h.
func canonicalHost(h string) (string, bool) {
	if h == "" {
		return h, true // HTTP/1.0 without Host; routes with a host never match it
	}
	name, port, ok := splitHost(h)
	if !ok || name == "" {
		return "", false // name "": ":80", a port without a host
	}
	changed := false
	if name[0] != '[' {
		if name, changed, ok = canonicalRegName(name); !ok {
			return "", false
		}
	} else if strings.ContainsAny(name, "ABCDEF") {
		changed = true
	}
	if !changed {
		return h, true
	}
	return strings.ToLower(name) + port, true
}

// splitHost splits a Host value into its name (an IPv6 literal keeps its
// brackets) and its port (":N", or ""), and checks both but the name's
// reg-name or IPv4 form.
func splitHost(h string) (name, port string, ok bool) {
	name = h
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", false
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", false
		}
		name, port = h[:end+1], h[end+1:]
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
	}
	if port == "" {
		return name, port, true
	}
	if port[0] != ':' || len(port) < 2 || len(port) > 6 {
		return "", "", false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", "", false
		}
	}
	return name, port, true
}

// canonicalRegName checks a non-empty reg-name or IPv4 address and
// removes one trailing dot. changed: the name has upper-case letters to
// lower, or lost its dot.
func canonicalRegName(name string) (_ string, changed, ok bool) {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_':
		case 'A' <= c && c <= 'Z':
			changed = true
		case c == '.':
			if i == 0 || name[i-1] == '.' {
				return "", false, false // empty label
			}
		default:
			return "", false, false
		}
	}
	if name[len(name)-1] == '.' {
		return name[:len(name)-1], true, true // "admin.test." is "admin.test"
	}
	return name, changed, true
}

// Hop is what a request's connection-level headers asked for, kept
// after checkHeaders removed them.
type Hop struct {
	// Upgrade holds the Upgrade header's values when an HTTP/1.1 request's
	// Connection header named "upgrade": the protocols it offers.
	Upgrade []string
	// SawUpgrade: an HTTP/1 request carried an Upgrade header at all. The
	// framing guard stops following such a connection, so unless the
	// protocol switch happens the connection closes after the response.
	SawUpgrade bool
}

// checkHeaders applies the client's Connection list and the header rules.
// The Connection list goes first, before auth or anything else of the
// gateway's sets a header, so a client cannot name a header the gateway
// asserts (X-Auth-Subject) and have it removed on the way out (the
// CVE-2022-1388 class); Connection itself is removed with it.
func checkHeaders(r *http.Request, rs *Rules, hop *Hop) *Refusal {
	h := r.Header
	connUpgrade := false
	if vv, ok := h["Connection"]; ok {
		for _, v := range vv {
			for v != "" {
				var tok string
				tok, v, _ = strings.Cut(v, ",")
				switch tok = textproto.TrimString(tok); {
				case tok == "":
				case strings.EqualFold(tok, "upgrade"):
					connUpgrade = true // Upgrade stays for the route to decide on
				case strings.EqualFold(tok, "close"):
					// net/http acted on it; no header is named so
				case strings.EqualFold(tok, "keep-alive"):
					delete(h, "Keep-Alive") // the common case, without canonicalising
				default:
					delete(h, http.CanonicalHeaderKey(tok))
				}
			}
		}
		delete(h, "Connection")
	}
	// Only an h2c upgrade uses it, and that is never relayed.
	delete(h, "Http2-Settings")
	// The gateway speaks for the client's address and scheme; only a
	// trusted proxy in front of it may have spoken before.
	untrusted := !rs.trustsPeer(r)
	if up := h["Upgrade"]; len(up) > 0 && r.ProtoMajor == 1 {
		hop.SawUpgrade = true
		if connUpgrade && r.ProtoMinor >= 1 {
			hop.Upgrade = up
		}
	}
	dropUnderscores := rs.srv.UnderscoresInHeaders != config.UnderscoresAllow
	// net/http's HTTP/1 server refuses invalid names and values with these
	// same functions before the handler runs; HTTP/2 fields cross into an
	// HTTP/1.1 head here, so they are checked again whatever the HTTP/2
	// implementation did.
	checkFields := r.ProtoMajor != 1
	for k, vv := range h {
		// CGI, WSGI and PHP map "-" and "_" alike: X_Auth_Subject would
		// reach them as X-Auth-Subject, past the gateway's own.
		if strings.IndexByte(k, '_') >= 0 && (dropUnderscores || rs.asserts(k)) ||
			overridesPath(k) || untrusted && forwarding(k) {
			delete(h, k)
			continue
		}
		if !checkFields {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return badRequest("invalid header name\n")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return badRequest("invalid header value\n")
			}
		}
	}
	return nil
}

// forwarding reports the client-address and scheme headers a proxy adds.
// (One pass over the request's headers costs less than a delete per name.)
func forwarding(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Scheme",
		"X-Forwarded-Prefix", "X-Forwarded-Server", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Forwarded":
		return true
	}
	return false
}

// overridesPath reports the headers IIS, Symfony and Zend take the request
// path from, behind the gateway's routing and access rules: only the
// request line decides.
func overridesPath(k string) bool { return k == "X-Original-Url" || k == "X-Rewrite-Url" }

// trustsPeer reports whether r's peer is a configured trusted proxy.
func (rs *Rules) trustsPeer(r *http.Request) bool {
	if len(rs.trusted) == 0 {
		return false
	}
	a, ok := clientip.Addr(r)
	return ok && rs.trusted.Contains(a)
}

// asserts reports whether k is an underscore spelling of a header the
// gateway sets itself.
func (rs *Rules) asserts(k string) bool {
	for _, a := range rs.asserted {
		if sameHeaderCGI(k, a) {
			return true
		}
	}
	return false
}

// sameHeaderCGI reports whether a and b name the same CGI variable:
// equal but for case and "_" for "-".
func sameHeaderCGI(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if cgiByte(a[i]) != cgiByte(b[i]) {
			return false
		}
	}
	return true
}

func cgiByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// PickUpgrade returns the protocol to ask the backend for: the first one
// offered that the route allows, never h2c (RFC 9113 §3.1: a switch to
// HTTP/2 would hand the client a connection to the backend beyond routing
// and access rules). "" serves the request as a plain one.
func PickUpgrade(allowed, offered []string) string {
	if len(offered) == 0 || len(allowed) == 0 {
		return ""
	}
	for _, v := range offered {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = textproto.TrimString(tok)
			name, version, _ := strings.Cut(tok, "/")
			if strings.EqualFold(name, "h2c") || !httpguts.ValidHeaderFieldName(name) ||
				version != "" && !httpguts.ValidHeaderFieldName(version) {
				continue
			}
			for _, p := range allowed {
				if strings.EqualFold(name, p) {
					return tok
				}
			}
		}
	}
	return ""
}

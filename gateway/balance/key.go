package balance

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"golang.org/x/net/http/httpguts"
)

// KeyFunc extracts a request's hash key for ip_hash and consistent_hash
// (Request.Hash). It never allocates: it reads the raw header, cookie and
// query strings in place.
type KeyFunc func(r *http.Request) uint64

// MissingKey is the hash of a request that lacks the key, or whose key is
// empty. All such requests share it and so land on one backend (the usual
// hash-balancing behaviour: "no session" is one session); pair a hash
// strategy with BoundedLoad if many keyless requests are expected.
const MissingKey uint64 = 0

// maxDecoded bounds a percent-decoded query name or value; a longer value
// is hashed as sent (still deterministic, merely encoding-sensitive).
const maxDecoded = 256

// ParseKey builds a KeyFunc from a spec:
//
//	header:NAME  the first value of header NAME (header:Host reads r.Host)
//	cookie:NAME  the value of cookie NAME, surrounding quotes removed
//	query:NAME   the first value of query parameter NAME, percent-decoded
//	path         the URL path
//	ip           the client IP from r.RemoteAddr, without the port
//
// Keys are hashed with a fixed-seed 64-bit hash, so every gateway process
// maps a key the same way.
func ParseKey(spec string) (KeyFunc, error) {
	kind, name, hasName := strings.Cut(spec, ":")
	switch kind {
	case "path", "ip":
		if hasName {
			return nil, fmt.Errorf("balance: hash key %q: %s takes no name", spec, kind)
		}
	case "header", "cookie", "query":
		if name == "" {
			return nil, fmt.Errorf("balance: hash key %q: %s needs a name, as in %s:NAME", spec, kind, kind)
		}
		if kind != "query" && !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("balance: hash key %q: %q is not a valid %s name", spec, name, kind)
		}
	default:
		return nil, fmt.Errorf("balance: hash key %q: want header:NAME, cookie:NAME, query:NAME, path or ip", spec)
	}
	switch kind {
	case "header":
		name = textproto.CanonicalMIMEHeaderKey(name)
		if name == "Host" { // net/http moves Host out of the header map
			return func(r *http.Request) uint64 { return hashKey(r.Host) }, nil
		}
		return func(r *http.Request) uint64 {
			if v := r.Header[name]; len(v) > 0 {
				return hashKey(v[0])
			}
			return MissingKey
		}, nil
	case "cookie":
		return func(r *http.Request) uint64 {
			v, _ := cookieValue(r.Header, name)
			return hashKey(v)
		}, nil
	case "query":
		return func(r *http.Request) uint64 {
			if r.URL == nil {
				return MissingKey
			}
			v, _ := queryValue(r.URL.RawQuery, name)
			return hashQueryValue(v)
		}, nil
	case "path":
		return func(r *http.Request) uint64 {
			if r.URL == nil {
				return MissingKey
			}
			return hashKey(r.URL.Path)
		}, nil
	default: // ip
		return func(r *http.Request) uint64 { return hashKey(clientip.Of(r)) }, nil
	}
}

func hashKey(v string) uint64 {
	if v == "" {
		return MissingKey
	}
	return hashBytes(v)
}

// cookieValue finds cookie name in the Cookie header lines without
// r.Cookie's parse-everything allocations. Like net/http it takes the first
// match and strips one pair of surrounding double quotes; unlike it, it does
// not validate the value's characters (the value is only hashed).
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		if v, _, ok := findPair(line, name, ';'); ok {
			v = strings.TrimRight(v, " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// queryValue returns the raw (still escaped) value of the first parameter
// called name in a raw query string; "&" separates parameters (";" does
// not, as in net/url since Go 1.17). A plain search finds the name unless
// an earlier parameter name is escaped (and so might decode to it), in
// which case the names are decoded one by one.
func queryValue(raw, name string) (string, bool) {
	v, at, ok := findPair(raw, name, '&')
	if !strings.ContainsAny(raw[:at], "%+") {
		return v, ok
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == name {
			return v, true
		}
		if strings.ContainsAny(k, "%+") {
			var buf [maxDecoded]byte
			if d, ok := unescape(buf[:0], k); ok && string(d) == name {
				return v, true
			}
		}
	}
	return "", false
}

// findPair finds the first pair "name=value" (or a bare "name") in the
// sep-separated list s (spaces after a ';' allowed, as cookies are written
// "a=1; b=2"), and returns the
// value and the offset of the pair; at is len(s) when there is none. It
// looks for the name with strings.Index, which is vectorised, instead of
// splitting s into parts.
func findPair(s, name string, sep byte) (value string, at int, ok bool) {
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], name)
		if i < 0 {
			break
		}
		i += from
		from = i + 1
		if !pairStart(s[:i], sep) {
			continue
		}
		rest := s[i+len(name):]
		switch {
		case rest == "" || rest[0] == sep:
			return "", i, true
		case rest[0] != '=':
			continue
		}
		rest = rest[1:]
		if j := strings.IndexByte(rest, sep); j >= 0 {
			rest = rest[:j]
		}
		return rest, i, true
	}
	return "", len(s), false
}

// pairStart reports whether a name right after prefix starts a pair:
// prefix is empty or ends in sep (for ';', possibly followed by spaces).
func pairStart(prefix string, sep byte) bool {
	if sep == ';' {
		prefix = strings.TrimRight(prefix, " \t")
	}
	return prefix == "" || prefix[len(prefix)-1] == sep
}

// hashQueryValue hashes the decoded form of a query value, so a=x%20y,
// a=x+y and a=x%20%79 land together.
func hashQueryValue(v string) uint64 {
	if !strings.ContainsAny(v, "%+") {
		return hashKey(v)
	}
	var buf [maxDecoded]byte
	d, ok := unescape(buf[:0], v)
	if !ok {
		return hashKey(v)
	}
	if len(d) == 0 {
		return MissingKey
	}
	return hashBytes(d)
}

// unescape appends the query-unescaped s to dst (which must have room for
// len(s) bytes) and reports false for a malformed escape or when s does not
// fit.
func unescape(dst []byte, s string) ([]byte, bool) {
	if len(s) > cap(dst) {
		return dst, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

package cache

import (
	"net/http"
	"strings"
	"time"
)

// maxDelta caps delta-seconds values: RFC 9111 §1.2.2 says a value too large
// to represent is to be treated as 2^31 seconds.
const maxDelta = 1 << 31

// directives is the subset of Cache-Control this shared cache acts on.
// Durations are -1 when the directive is absent.
type directives struct {
	maxAge, sMaxAge int64
	noStore         bool
	noCache         bool // any form: unqualified or no-cache="field"
	private         bool // any form: private="field" is treated as private
	public          bool
	mustRevalidate  bool // must-revalidate or proxy-revalidate
}

// parseCacheControl parses all Cache-Control field lines. It never fails:
// unknown directives are ignored and an invalid or repeated max-age/s-maxage
// is treated as 0 (stale), which is the conservative reading RFC 9111 §4.2.1
// asks for ("consider invalid freshness information stale").
func parseCacheControl(lines []string) directives {
	d := directives{maxAge: -1, sMaxAge: -1}
	for _, line := range lines {
		for len(line) > 0 {
			var tok string
			tok, line = nextDirective(line)
			name, val, hasVal := strings.Cut(tok, "=")
			name = strings.TrimSpace(name)
			val = strings.TrimSpace(val)
			switch {
			case strings.EqualFold(name, "max-age"):
				d.maxAge = mergeDelta(d.maxAge, val, hasVal)
			case strings.EqualFold(name, "s-maxage"):
				d.sMaxAge = mergeDelta(d.sMaxAge, val, hasVal)
			case strings.EqualFold(name, "no-store"):
				d.noStore = true
			case strings.EqualFold(name, "no-cache"):
				d.noCache = true
			case strings.EqualFold(name, "private"):
				d.private = true
			case strings.EqualFold(name, "public"):
				d.public = true
			case strings.EqualFold(name, "must-revalidate"), strings.EqualFold(name, "proxy-revalidate"):
				d.mustRevalidate = true
			}
		}
	}
	return d
}

// nextDirective splits off the first comma-separated directive, honouring
// quoted strings so that no-cache="a, b" stays one directive.
func nextDirective(s string) (tok, rest string) {
	inQuote, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// mergeDelta parses a delta-seconds value. A second occurrence of the same
// directive, a missing value or a malformed value all yield 0.
func mergeDelta(prev int64, val string, hasVal bool) int64 {
	if prev != -1 || !hasVal {
		return 0
	}
	val = strings.Trim(val, `"`) // tolerate max-age="60", as browsers do
	if val == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(val); i++ {
		c := val[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
		if n >= maxDelta {
			return maxDelta
		}
	}
	return n
}

// heuristicStatus lists the status codes RFC 9110 §15.1 defines as
// heuristically cacheable; this cache stores no other status.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// freshness returns how long a response stays fresh for a shared cache
// (s-maxage, then max-age, then Expires - Date, then def) and whether that
// lifetime came from the response itself.
func freshness(h http.Header, d directives, date time.Time, def time.Duration) (time.Duration, bool) {
	switch {
	case d.sMaxAge >= 0:
		return time.Duration(d.sMaxAge) * time.Second, true
	case d.maxAge >= 0:
		return time.Duration(d.maxAge) * time.Second, true
	}
	if exp, ok := h["Expires"]; ok {
		if len(exp) == 0 {
			return 0, true
		}
		t, err := http.ParseTime(exp[0])
		if err != nil { // e.g. "Expires: 0" means already expired
			return 0, true
		}
		if t.Before(date) {
			return 0, true
		}
		return t.Sub(date), true
	}
	return def, false
}

// notModified reports whether a client's conditional GET/HEAD (RFC 9110
// §13.1.2, §13.1.3) is satisfied by a representation with the given
// validators. If-None-Match takes precedence over If-Modified-Since.
func notModified(req http.Header, etag, lastModified string) bool {
	if inm := req.Get("If-None-Match"); inm != "" {
		return etag != "" && etagListMatches(inm, etag)
	}
	ims := req.Get("If-Modified-Since")
	if ims == "" || lastModified == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(lastModified)
	if err != nil {
		return false
	}
	return !lm.After(t)
}

// etagListMatches does the weak comparison If-None-Match requires.
func etagListMatches(list, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for list != "" {
		var tok string
		tok, list, _ = strings.Cut(list, ",")
		tok = strings.TrimSpace(tok)
		if tok == "*" || strings.TrimPrefix(tok, "W/") == etag {
			return true
		}
	}
	return false
}

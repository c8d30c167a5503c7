// Package hygiene makes each client request the canonical one that
// routing, the access rules and the backend all see, or refuses it: the
// framing guard follows HTTP/1 connections byte by byte (framing.go), the
// canonical checks validate target, Host and headers (canonical.go), and
// Rules.Check applies them with the server's size, rate and path rules.
package hygiene

import (
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// Refusal is a request the gateway answers itself, before routing: status,
// a short body, and whether the connection must close (after anything
// that may have desynchronised the framing).
type Refusal struct {
	Status int
	Msg    string
	Close  bool
}

// Rules are a configuration's request rules (its server section), ready
// for Check.
type Rules struct {
	srv config.Server
	// asserted are the headers the gateway sets itself (identities,
	// X-Forwarded-*): their underscore spellings never reach a backend.
	asserted []string
	// trusted are the peers whose forwarding headers are extended, not
	// replaced (server.trusted_proxies).
	trusted clientip.Prefixes
}

// NewRules compiles srv (validated by config); asserted are the headers
// the gateway sets itself.
func NewRules(srv config.Server, asserted []string) *Rules {
	return &Rules{srv: srv, asserted: asserted, trusted: mustPrefixes(srv.TrustedProxies)}
}

// Check applies the connection- and server-level rules and makes r the
// canonical request (canonical.go) that routing, the access rules and the
// backend all see. It fills r.TLS for a connection the gateway terminated,
// may rewrite r's target, Host and path (normalisation), removes the
// client's connection-level headers (what they asked for goes to hop), and
// wraps r.Body with the size and rate limits.
func (rs *Rules) Check(w http.ResponseWriter, r *http.Request, hop *Hop) *Refusal {
	restoreTLS(r)
	if ref := framingRefusal(r, rs.srv.MaxHeaders); ref != nil {
		return ref
	}
	// Connection first: the upgrade decision needs it even for a Refusal.
	if ref := checkHeaders(r, rs, hop); ref != nil {
		return ref
	}
	srv := &rs.srv
	if len(r.RequestURI) > srv.MaxURIBytes {
		return &Refusal{http.StatusRequestURITooLong, "request target too long\n", false}
	}
	if ref := checkTarget(r); ref != nil {
		return ref
	}
	if ref := checkHost(r); ref != nil {
		return ref
	}
	if max := srv.MaxBodyBytes; max > 0 {
		if r.ContentLength > max {
			return &Refusal{http.StatusRequestEntityTooLarge, "request body too large\n", true}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
	}
	if rate := srv.MinBodyRate; rate > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		r.Body = &minRateReader{body: r.Body, rc: http.NewResponseController(w), rate: rate, grace: srv.BodyGrace, total: r.ContentLength}
	}
	if strings.Contains(r.URL.RawPath, "%2F") || strings.Contains(r.URL.RawPath, "%2f") {
		switch srv.EncodedSlashes {
		case "reject":
			return &Refusal{http.StatusBadRequest, "encoded slash in path\n", false}
		case "decode":
			r.URL.RawPath = ""
			r.RequestURI = requestURI(r)
		}
	}
	normalizePath(r)
	return nil
}

// normalizePath resolves dot segments and repeated slashes so that routing
// and the backend see the same path, and "/v1/../admin" cannot reach a
// route it does not match. Routing ignores segment parameters (route.
// RoutingPath), and so do servlet containers, which read "/public/..;/admin"
// as "/admin": a dot or empty segment with parameters is resolved like one
// without. Paths that are already clean are left alone, byte for byte.
func normalizePath(r *http.Request) {
	p := r.URL.Path
	if p == "" || p == "*" {
		return
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if strings.IndexByte(p, ';') >= 0 {
		p = dropDotParams(p)
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean == r.URL.Path {
		return
	}
	r.URL.Path, r.URL.RawPath = clean, ""
	r.RequestURI = requestURI(r)
}

// dropDotParams removes the parameters of segments whose name is empty,
// "." or "..", so that path.Clean resolves them.
func dropDotParams(p string) string {
	var b []byte // nil until something changes
	seg := 0     // start of the current segment
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		s := p[seg:i]
		if name, _, params := strings.Cut(s, ";"); params && (name == "" || name == "." || name == "..") {
			if b == nil {
				b = append(make([]byte, 0, len(p)), p[:seg]...)
			}
			b = append(b, name...)
		} else if b != nil {
			b = append(b, s...)
		}
		if b != nil && i < len(p) {
			b = append(b, '/')
		}
		seg = i + 1
	}
	if b == nil {
		return p
	}
	return string(b)
}

func requestURI(r *http.Request) string {
	u := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// ErrTooSlow fails a request body that falls below the minimum rate.
var ErrTooSlow = errors.New("request body below the minimum transfer rate")

// minRateReader fails a body that trickles in (slow-body attacks): after
// the grace period the average rate must stay at or above rate. It works
// through the connection's read deadline, so it runs on real time, and it
// clears the deadline once the body is complete: a deadline left behind
// would fire in net/http's background read and cancel the request.
type minRateReader struct {
	body  interface{ Read([]byte) (int, error) }
	rc    *http.ResponseController
	rate  int64
	grace time.Duration
	total int64 // Content-Length, or -1
	start time.Time
	n     int64
}

func (m *minRateReader) Read(p []byte) (int, error) {
	if m.start.IsZero() {
		m.start = time.Now()
	}
	// The deadline by which the bytes read so far plus this read must
	// have arrived for the average to hold.
	due := m.start.Add(m.grace + time.Duration(float64(m.n+1)/float64(m.rate)*float64(time.Second)))
	_ = m.rc.SetReadDeadline(due)
	n, err := m.body.Read(p)
	m.n += int64(n)
	if err != nil && isTimeoutErr(err) {
		return n, ErrTooSlow
	}
	if err != nil || m.total >= 0 && m.n >= m.total {
		_ = m.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (m *minRateReader) Close() error {
	_ = m.rc.SetReadDeadline(time.Time{})
	if c, ok := m.body.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

func isTimeoutErr(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// mustPrefixes parses CIDRs that the config has validated.
func mustPrefixes(cidrs []string) clientip.Prefixes {
	ps, err := clientip.ParsePrefixes(cidrs)
	if err != nil {
		panic("hygiene: unvalidated trusted_proxies: " + err.Error())
	}
	return ps
}

package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/drawbridge-dev/drawbridge/gateway/config"
)

// accessLog is the JSON access logger of one configuration and how it
// logs query strings.
type accessLog struct {
	log   *slog.Logger
	query string          // config.QueryRedact, QueryFull or QueryOmit
	keep  map[string]bool // lower-cased names of the parameters redacted
}

// openAccessLog returns the JSON access logger for c (nil when disabled) and
// what to close when the configuration is replaced.
func (g *Gateway) openAccessLog(c config.AccessLog) (*accessLog, io.Closer, error) {
	if !c.Enabled {
		return nil, nil, nil
	}
	var w io.Writer
	var closer io.Closer
	switch {
	case g.opts.AccessLogWriter != nil:
		w = g.opts.AccessLogWriter
	case c.Path == "" || c.Path == "stdout":
		w = os.Stdout
	case c.Path == "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("access_log.path: %w", err)
		}
		w, closer = f, f
	}
	al := &accessLog{log: slog.New(slog.NewJSONHandler(w, nil)), query: c.Query}
	if al.query == "" { // a configuration built in code: the secure default
		al.query = config.QueryRedact
	}
	params := c.RedactParams
	if params == nil {
		params = config.DefaultRedactParams()
	}
	al.keep = make(map[string]bool, len(params))
	for _, p := range params {
		al.keep[strings.ToLower(p)] = true
	}
	return al, closer, nil
}

// queryOf is r's query string as the access log shows it.
func (al *accessLog) queryOf(r *http.Request) string {
	switch al.query {
	case config.QueryFull:
		return r.URL.RawQuery
	case config.QueryOmit:
		return ""
	}
	return redactQuery(r.URL.RawQuery, al.keep)
}

// redactQuery replaces the values of the parameters named in secret
// (lower-cased) with REDACTED, keeping the rest of the query as sent. Names
// are compared decoded and without regard to case, so tok%65n and TOKEN
// are caught; ';' separates parameters too, as some backends split on it.
func redactQuery(raw string, secret map[string]bool) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(raw))
	for rest := raw; ; {
		i := strings.IndexAny(rest, "&;")
		part := rest
		if i >= 0 {
			part = rest[:i]
		}
		name, _, hasValue := strings.Cut(part, "=")
		if hasValue && secret[paramName(name)] {
			b.WriteString(name)
			b.WriteString("=REDACTED")
		} else {
			b.WriteString(part)
		}
		if i < 0 {
			return b.String()
		}
		b.WriteByte(rest[i])
		rest = rest[i+1:]
	}
}

func paramName(raw string) string {
	if n, err := url.QueryUnescape(raw); err == nil {
		raw = n
	}
	return strings.ToLower(strings.TrimSpace(raw))
}

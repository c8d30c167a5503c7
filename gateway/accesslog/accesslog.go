package accesslog

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Logger writes one JSON line per request.
type Logger struct {
	log    *slog.Logger
	query  string          // QueryRedact, QueryFull or QueryOmit
	secret map[string]bool // lower-cased names of the parameters redacted
}

// Open returns the logger for c (nil when disabled) and what to close when
// the configuration is replaced. A non-nil to replaces c.Path (tests).
func Open(c Config, to io.Writer) (*Logger, io.Closer, error) {
	if !c.Enabled {
		return nil, nil, nil
	}
	w, closer := to, io.Closer(nil)
	switch {
	case w != nil:
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
	l := &Logger{log: slog.New(slog.NewJSONHandler(w, nil)), query: c.Query}
	if l.query == "" { // a configuration built in code: the secure default
		l.query = QueryRedact
	}
	params := c.RedactParams
	if params == nil {
		params = DefaultRedactParams()
	}
	l.secret = make(map[string]bool, len(params))
	for _, p := range params {
		l.secret[strings.ToLower(p)] = true
	}
	return l, closer, nil
}

// Entry is what the gateway knows of a request once it has ended.
type Entry struct {
	Status            int
	BytesOut, BytesIn int64
	Duration          time.Duration
	Route, Pool       string
	Backend, Upstream string // the backend's id and address
	Tries             int
	Subject           string // the authenticated identity
	TraceID           string
	Error             string
}

// Log writes e for r, the request as the client sent it.
func (l *Logger) Log(r *http.Request, e *Entry) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("query", l.queryOf(r)),
		slog.String("proto", r.Proto),
		slog.String("client", r.RemoteAddr),
		slog.String("user_agent", r.UserAgent()),
		slog.String("subject", e.Subject),
		slog.Int("status", e.Status),
		slog.Int64("bytes", e.BytesOut),
		slog.Int64("bytes_in", e.BytesIn),
		slog.Float64("duration_ms", float64(e.Duration.Microseconds())/1000),
		slog.String("route", e.Route),
		slog.String("pool", e.Pool),
		slog.String("backend", e.Backend),
		slog.String("upstream", e.Upstream),
		slog.Int("tries", e.Tries),
		slog.String("trace_id", e.TraceID),
	}
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
	}
	l.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// queryOf is r's query string as the log shows it.
func (l *Logger) queryOf(r *http.Request) string {
	switch l.query {
	case QueryFull:
		return r.URL.RawQuery
	case QueryOmit:
		return ""
	}
	return redactQuery(r.URL.RawQuery, l.secret)
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

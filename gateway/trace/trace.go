// Package trace carries W3C trace context and the OpenTelemetry spans of
// the gateway's request path: a valid traceparent passes on unchanged, a
// missing or malformed one is replaced, and with tracing on each request
// gets its server span.
package trace

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/drawbridge-dev/drawbridge/gateway/clientip"
	"github.com/drawbridge-dev/drawbridge/gateway/resilience"
	"github.com/drawbridge-dev/drawbridge/gateway/upstream"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
)

// OpenTelemetry tracing of the request path. With tracing on, every request
// gets a server span (named by its route once routed), auth and the cache
// add child spans where they run, and each try to a backend is a client
// span (gateway/proxy) whose context the backend receives as traceparent.
// With tracing off none of this runs: the wrapper is not installed and the
// hooks below find no recording span.

// Attribute keys of drawbridge's own, beside the semantic conventions.
var (
	routeKey   = attribute.Key("drawbridge.route")
	poolKey    = attribute.Key("drawbridge.pool")
	backendKey = attribute.Key("drawbridge.backend")
)

// Start builds the tracer provider of a tracing block and wraps srv's
// handler in the server span. The block is read at start, as Traefik's and
// Envoy's tracing are: changing it takes a restart. stop exports what is
// buffered; it is a no-op with tracing off.
func Start(srv *http.Server, c telemetry.Config, log *slog.Logger) (stop func(), err error) {
	p, err := telemetry.New(c, "drawbridge-gateway", log)
	if err != nil || p == nil {
		return func() {}, err
	}
	srv.Handler = traced(p.Tracer(), srv.Handler)
	log.Info("tracing on", "endpoint", c.Endpoint, "sample_ratio", c.SampleRatio)
	return func() {
		if err := p.ShutdownWithin(5 * time.Second); err != nil {
			log.Warn("tracing", "error", err.Error())
		}
	}, nil
}

// traced starts the server span of each request: a child of the client's
// traceparent when it sent a valid one, a new trace otherwise.
// ensureTraceparent then passes the span's context on (and the access
// log's trace_id is the span's trace).
func traced(tracer oteltrace.Tracer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := telemetry.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if !oteltrace.SpanContextFromContext(ctx).IsValid() {
			// tracestate belongs to the traceparent it came with, which
			// was absent or malformed.
			delete(r.Header, "Tracestate")
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		ctx, span := tracer.Start(ctx, r.Method, oteltrace.WithSpanKind(oteltrace.SpanKindServer), oteltrace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			semconv.URLScheme(scheme),
			semconv.ClientAddress(clientip.Of(r)),
			semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)),
		))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Route names a request's route for its span.
type Route struct{ Name, PathPrefix, Pool string }

// Outcome names the request's server span after its route (zero: none
// matched) and records the answer; the request's one record calls it.
func Outcome(r *http.Request, rt Route, b *upstream.Backend, status int, errMsg string) {
	span := oteltrace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	if rt.Name != "" {
		span.SetName(r.Method + " " + rt.Name)
		span.SetAttributes(routeKey.String(rt.Name), semconv.HTTPRoute(rt.PathPrefix))
		if rt.Pool != "" {
			span.SetAttributes(poolKey.String(rt.Pool))
		}
	}
	if b != nil {
		span.SetAttributes(backendKey.String(b.ID()))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	// 4xx answers are the client's doing, not a failure of the gateway
	// (the semantic conventions for server spans).
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, errMsg)
	}
}

// BreakerRefused notes on the request's span that b's circuit breaker
// turned the request away.
func BreakerRefused(ctx context.Context, b *upstream.Backend) {
	if span := oteltrace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("breaker_refused", oteltrace.WithAttributes(backendKey.String(b.ID())))
	}
}

// BreakerDone reports a try's outcome to b's breaker and notes on the
// request's span when that outcome moved the breaker (opened it, or closed
// it after a probe).
func BreakerDone(ctx context.Context, br *resilience.Breaker, b *upstream.Backend, failed bool) {
	span := oteltrace.SpanFromContext(ctx)
	if !span.IsRecording() {
		br.Done(failed)
		return
	}
	from := br.State()
	br.Done(failed)
	if to := br.State(); to != from {
		span.AddEvent("breaker", oteltrace.WithAttributes(backendKey.String(b.ID()),
			attribute.String("from", from.String()), attribute.String("to", to.String())))
	}
}

const hexDigits = "0123456789abcdef"

// EnsureTraceparent passes a valid W3C traceparent on unchanged, or starts
// a new trace when it is absent or malformed; with tracing on, it passes
// the request span's. It returns the trace id.
func EnsureTraceparent(r *http.Request) string {
	if sc := oteltrace.SpanContextFromContext(r.Context()); sc.IsValid() {
		// Tracing is on: the request's span is the trace (a child of the
		// client's when it sent one). Written here, after the hygiene
		// checks, so it never counts against the client's header limit.
		telemetry.Propagator.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
		return sc.TraceID().String()
	}
	if vv := r.Header["Traceparent"]; len(vv) == 1 && ValidTraceparent(vv[0]) {
		return vv[0][3:35]
	}
	tp, vv := newTraceparent(fillTraceparent)
	r.Header["Traceparent"] = vv
	// tracestate belongs to the trace it came with, which we replaced.
	delete(r.Header, "Tracestate")
	return tp[3:35]
}

// fillTraceparent writes a new trace's traceparent, sampled.
func fillTraceparent(buf *[tpLen]byte) {
	copy(buf[:], "00-")
	putHex(buf[3:19], rand.Uint64())
	putHex(buf[19:35], rand.Uint64()|1) // never the all-zero invalid id
	buf[35] = '-'
	putHex(buf[36:52], rand.Uint64()|1)
	copy(buf[52:], "-01")
}

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// ValidTraceparent checks the version-00 layout
// "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"; future versions
// may append fields after the flags.
func ValidTraceparent(s string) bool {
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	if s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) || (len(s) > 55 && s[55] != '-') {
		return false
	}
	return lowerHex(s[:2]) && lowerHex(s[3:35]) && lowerHex(s[36:52]) && lowerHex(s[53:55]) &&
		!allZero(s[3:35]) && !allZero(s[36:52])
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

package proxy

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/drawbridge-dev/drawbridge/internal/telemetry"
)

// Attribute keys of drawbridge's own, beside the semantic conventions.
var (
	tryKey       = attribute.Key("drawbridge.try")
	discardedKey = attribute.Key("drawbridge.discarded")
)

// kindNames are the error.type values of a failed try.
var kindNames = [...]string{
	ErrNone:       "",
	ErrConnect:    "connect",
	ErrTimeout:    "timeout",
	ErrProtocol:   "protocol",
	ErrClientGone: "client_gone",
	ErrClientBody: "client_body",
}

// forwardTraced is one try under the request's recording span: a client
// span for the try, whose context the backend receives as its traceparent,
// and a retry event on the request's span for every try after the first.
func (u *Upstream) forwardTraced(w http.ResponseWriter, r *http.Request, a *Attempt) Result {
	host, port := u.addr, 0
	if h, p, err := net.SplitHostPort(u.addr); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	if a.Tries > 1 {
		trace.SpanFromContext(r.Context()).AddEvent("retry", trace.WithAttributes(
			tryKey.Int(a.Tries), semconv.ServerAddress(host), semconv.ServerPort(port)))
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.ServerAddress(host), semconv.ServerPort(port),
		tryKey.Int(a.Tries),
	}
	if a.Tries > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(a.Tries-1))
	}
	ctx, span := telemetry.Child(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	// The backend's parent is this try, not the client's span nor the
	// gateway's: the header is rewritten on every try.
	telemetry.Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	res := u.forward(w, r, a)
	if res.Status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(res.Status))
	}
	if res.Discarded {
		span.SetAttributes(discardedKey.Bool(true))
	}
	switch {
	case res.Kind != ErrNone:
		span.SetAttributes(semconv.ErrorTypeKey.String(kindNames[res.Kind]))
		span.SetStatus(codes.Error, errText(res.Err))
	case res.Status >= 500:
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(res.Status)))
		span.SetStatus(codes.Error, "")
	}
	return res
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

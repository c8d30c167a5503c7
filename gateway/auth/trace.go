package auth

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// traceOutcome puts the result of a check on the request's auth span: the
// scheme and whether it passed. The subject stays out of traces, as
// credentials-derived names are not for every trace reader's eyes.
func traceOutcome(span trace.Span, id Identity, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		e := err.(*Error)
		span.SetAttributes(attribute.String("auth.method", e.Method), attribute.Int("auth.status", e.Status),
			attribute.String("auth.reason", e.Reason))
		return
	}
	span.SetAttributes(attribute.String("auth.method", id.Method), attribute.Int("auth.status", 200))
}

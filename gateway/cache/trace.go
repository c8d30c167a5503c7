package cache

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// traceResult ends the request's cache span with what the cache did, as
// its X-Cache header told the client (HIT, MISS, REVALIDATED, BYPASS).
func traceResult(span trace.Span, h http.Header) {
	if v := h["X-Cache"]; len(v) > 0 {
		span.SetAttributes(attribute.String("cache.result", v[0]))
	}
	span.End()
}

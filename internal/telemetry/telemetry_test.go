package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/telemetry/otlptest"
)

func TestEndpointURLAddsTracesPath(t *testing.T) {
	for in, want := range map[string]string{
		"http://c:4318":             "http://c:4318/v1/traces",
		"https://c:4318/":           "https://c:4318/v1/traces",
		"http://c:4318/otlp/traces": "http://c:4318/otlp/traces",
	} {
		if got, err := endpointURL(in); err != nil || got != want {
			t.Errorf("endpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "c:4318", "grpc://c:4317", "http://"} {
		if _, err := endpointURL(bad); err == nil {
			t.Errorf("endpointURL(%q) accepted", bad)
		}
	}
}

// Off means no provider at all; a nil provider shuts down as a no-op.
func TestDisabledBuildsNothing(t *testing.T) {
	var c Config
	c.SetDefaults()
	p, err := New(c, "svc")
	if err != nil || p != nil {
		t.Fatalf("New(disabled) = %v, %v; want nil, nil", p, err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Child starts a span only under a recording parent; otherwise it hands
// back the same context and a span that does nothing.
func TestChildOnlyUnderRecordingParent(t *testing.T) {
	ctx := context.Background()
	if c2, span := Child(ctx, "x"); c2 != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("a child span without a recording parent")
	}
	recv := otlptest.Start(t)
	var c Config
	c.SetDefaults()
	c.Enabled, c.Endpoint, c.ServiceName = true, recv.URL(), "unit"
	p, err := New(c, "svc")
	if err != nil {
		t.Fatal(err)
	}
	pctx, parent := p.Tracer().Start(ctx, "parent")
	_, child := Child(pctx, "child")
	child.End()
	parent.End()
	if err := p.ShutdownWithin(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool { return len(ss) == 2 })
	byName := map[string]otlptest.Span{spans[0].Name: spans[0], spans[1].Name: spans[1]}
	if byName["child"].ParentID() != byName["parent"].ID() || byName["parent"].Service != "unit" {
		t.Fatalf("child's parent %s, want %s; service %q", byName["child"].ParentID(), byName["parent"].ID(), byName["parent"].Service)
	}
}

package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	p, err := New(c, "svc", slog.New(slog.DiscardHandler))
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
	exportParentAndChild(t, otlptest.Start(t), ProtocolHTTP)
}

// exportParentAndChild exports a span and its Child to recv over protocol
// and checks they arrive linked, from the configured service.
func exportParentAndChild(t *testing.T, recv *otlptest.Receiver, protocol string) {
	t.Helper()
	var c Config
	c.SetDefaults()
	c.Enabled, c.Protocol, c.Endpoint, c.ServiceName = true, protocol, recv.URL(), "unit"
	p, err := New(c, "svc", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pctx, parent := p.Tracer().Start(context.Background(), "parent")
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

// An unreachable collector is reported once in the process's log, and
// neither the export nor the shutdown fails.
func TestExportFailureLoggedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	out := exportTwice(t, dead)
	if n := strings.Count(out, "tracing: export failed"); n != 1 || !strings.Contains(out, dead+"/v1/traces") {
		t.Fatalf("%d failure lines, want 1 naming the endpoint:\n%s", n, out)
	}
}

// Exports that work again after failing say so, with the spans lost.
func TestExportRecoveryLogged(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "not now", http.StatusBadRequest) // not retried by the exporter
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	out := exportTwice(t, srv.URL)
	if !strings.Contains(out, "tracing: export failed") || !strings.Contains(out, `"msg":"tracing: export works again","endpoint":"`+srv.URL+`/v1/traces","spans_dropped":1`) {
		t.Fatalf("log:\n%s", out)
	}
}

// exportTwice exports two batches of one span each to endpoint and
// returns what the provider logged; neither exports nor the shutdown may
// fail, whatever the collector does.
func exportTwice(t *testing.T, endpoint string) string {
	t.Helper()
	var logs bytes.Buffer
	var c Config
	c.SetDefaults()
	c.Enabled, c.Endpoint = true, endpoint
	p, err := New(c, "svc", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, span := p.Tracer().Start(context.Background(), "s")
		span.End()
		if err := p.tp.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ShutdownWithin(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

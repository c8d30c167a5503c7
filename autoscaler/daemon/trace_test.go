package daemon

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/autoscaler/config"
	"github.com/drawbridge-dev/drawbridge/clock"
	"github.com/drawbridge-dev/drawbridge/internal/telemetry/otlptest"
)

// With the tracing block on, a decision round reaches a real OTLP endpoint
// as a span of the autoscaler's service, with the decision as attributes.
func TestRoundSpanExported(t *testing.T) {
	recv := otlptest.Start(t)
	// A metric source nobody answers: the round still decides (holds at
	// min) and says why.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cfg, err := config.Parse("a.yaml", []byte(`
groups:
  - name: web
    min: 2
    metric: {source: gateway, url: "http://`+dead+`"}
    policies:
      - type: target_tracking
tracing:
  enabled: true
  endpoint: `+recv.URL()+`
`))
	if err != nil {
		t.Fatal(err)
	}
	d, closeFn, err := FromConfig(context.Background(), cfg, Env{Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	rounds := d.RunOnce(context.Background())
	if err := closeFn(); err != nil { // exports the buffered spans
		t.Fatal(err)
	}
	spans := recv.Wait(t, 10*time.Second, func(ss []otlptest.Span) bool { return len(ss) > 0 })
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 (one round)", len(spans))
	}
	s := spans[0]
	if s.Service != "drawbridge-autoscaler" || s.Name != "autoscaler.round" || s.ParentID() != "" {
		t.Errorf("span %q of %q, parent %q; want a root autoscaler.round of drawbridge-autoscaler", s.Name, s.Service, s.ParentID())
	}
	r := rounds[0]
	for key, want := range map[string]any{
		"autoscaler.group":   "web",
		"autoscaler.desired": int64(r.Decision.Desired),
		"autoscaler.current": int64(r.Decision.Current),
		"autoscaler.reason":  r.Decision.Reason,
		"autoscaler.min":     int64(2),
		"autoscaler.acted":   r.Acted,
	} {
		if got := s.Attr(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if r.Decision.Desired != 2 || s.Attr("autoscaler.source_error") == nil {
		t.Errorf("desired %d, source_error %v: want the min, 2, and the failed scrape", r.Decision.Desired, s.Attr("autoscaler.source_error"))
	}
}

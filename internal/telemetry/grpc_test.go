package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge-dev/drawbridge/internal/telemetry/otlptest"
)

func TestGRPCEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		DefaultEndpoint:     DefaultGRPCEndpoint, // the protocol switched, the endpoint left alone
		"http://c:4317":     "http://c:4317",
		"https://c:4317/":   "https://c:4317",
		"http://10.0.0.1:1": "http://10.0.0.1:1",
	} {
		if got, err := grpcEndpointURL(in); err != nil || got != want {
			t.Errorf("grpcEndpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for bad, msg := range map[string]string{
		"c:4317":                  "want an http:// or https:// URL",
		"grpc://c:4317":           "want an http:// or https:// URL",
		"http://c:4317/v1/traces": "without a path",
	} {
		c := Config{Enabled: true, Protocol: ProtocolGRPC, Endpoint: bad, SampleRatio: 1, Timeout: time.Second}
		if ps := c.validate(); len(ps) != 1 || ps[0].Key != "tracing.endpoint" || !strings.Contains(ps[0].Msg, msg) {
			t.Errorf("grpc endpoint %q: problems %v, want tracing.endpoint: ...%s...", bad, ps, msg)
		}
	}
	c := Config{Protocol: "thrift", Endpoint: DefaultEndpoint, SampleRatio: 1, Timeout: time.Second}
	if ps := c.validate(); len(ps) != 1 || ps[0].Msg != `want http/protobuf or grpc, got "thrift"` {
		t.Errorf("unknown protocol: %v", ps)
	}
}

// Spans reach an OTLP/gRPC receiver with their parent and service.
func TestGRPCExport(t *testing.T) {
	exportParentAndChild(t, otlptest.StartGRPC(t), ProtocolGRPC)
}

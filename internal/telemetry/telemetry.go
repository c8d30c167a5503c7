// Package telemetry builds the OpenTelemetry tracer provider that the
// gateway and the autoscaler export spans with, from one `tracing:` config
// block, and holds the few span helpers their packages share. Tracing is
// off by default; while it is off no provider exists, no span is started
// and the helpers cost a context lookup.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"
)

// The exporter protocols: OTLP over HTTP with protobuf bodies (the
// default: every collector serves it), or over gRPC (what some agents and
// vendors' endpoints take only).
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// DefaultEndpoint is the collector's standard OTLP/HTTP address;
// DefaultGRPCEndpoint its OTLP/gRPC one, used when the protocol is grpc
// and the endpoint is left at the default.
const (
	DefaultEndpoint     = "http://localhost:4318"
	DefaultGRPCEndpoint = "http://localhost:4317"
)

// Config is the `tracing:` block of the gateway's and the autoscaler's
// configuration files.
type Config struct {
	Enabled     bool              `yaml:"enabled"`      // export spans over OTLP; default false
	Endpoint    string            `yaml:"endpoint"`     // collector URL, http:// (plain text) or https://; default http://localhost:4318 (grpc: http://localhost:4317); with http/protobuf a URL without a path gets /v1/traces; with grpc it has no path
	Protocol    string            `yaml:"protocol"`     // http/protobuf | grpc; default http/protobuf
	SampleRatio float64           `yaml:"sample_ratio"` // share of new traces recorded, 0..1; a client's traceparent decision is followed; default 1
	ServiceName string            `yaml:"service_name"` // service.name of the spans; default drawbridge-gateway or drawbridge-autoscaler
	Headers     map[string]string `yaml:"headers"`      // sent with every export, e.g. an authorization token
	Timeout     time.Duration     `yaml:"timeout"`      // one export's deadline; default 10s
}

// SetDefaults fills the defaults before the block's keys are decoded.
func (c *Config) SetDefaults() {
	c.Endpoint = DefaultEndpoint
	c.Protocol = ProtocolHTTP
	c.SampleRatio = 1
	c.Timeout = 10 * time.Second
}

// Problem is one invalid key of a config file, by its dotted path
// ("tracing.endpoint").
type Problem struct{ Key, Msg string }

// Check validates the blocks this package reads from a config file: the
// tracing block (whether or not it is enabled, so a block kept written
// down but switched off is still a valid one to switch on) and log.level.
func Check(c *Config, logLevel string) []Problem {
	ps := c.validate()
	if _, err := ParseLevel(logLevel); err != nil {
		ps = append(ps, Problem{Key: "log.level", Msg: err.Error()})
	}
	return ps
}

func (c *Config) validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "tracing." + key, Msg: fmt.Sprintf(format, args...)})
	}
	switch c.Protocol {
	case ProtocolHTTP:
		if _, err := endpointURL(c.Endpoint); err != nil {
			add("endpoint", "%v", err)
		}
	case ProtocolGRPC:
		if _, err := grpcEndpointURL(c.Endpoint); err != nil {
			add("endpoint", "%v", err)
		}
	default:
		add("protocol", "want %s or %s, got %q", ProtocolHTTP, ProtocolGRPC, c.Protocol)
	}
	if !(c.SampleRatio >= 0 && c.SampleRatio <= 1) { // NaN too
		add("sample_ratio", "want a number from 0 to 1, got %v", c.SampleRatio)
	}
	if c.Timeout <= 0 {
		add("timeout", "must be positive")
	}
	for k := range c.Headers {
		if k == "" {
			add("headers", "a header name is empty")
		}
	}
	return ps
}

// endpointURL is the export URL: the endpoint, with the standard traces
// path when it names none.
func endpointURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("want an http:// or https:// URL such as %s, got %q", DefaultEndpoint, s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// grpcEndpointURL is the gRPC export address: scheme (http:// plain
// text, https:// TLS), host and port, no path (gRPC names the service).
func grpcEndpointURL(s string) (string, error) {
	if s == DefaultEndpoint {
		return DefaultGRPCEndpoint, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("want an http:// or https:// URL such as %s, got %q", DefaultGRPCEndpoint, s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("a grpc endpoint is a scheme, host and port, without a path: got %q", s)
	}
	u.Path = ""
	return u.String(), nil
}

// exporter builds c's OTLP exporter; u is the endpoint it exports to.
func exporter(c Config) (exp sdktrace.SpanExporter, u string, err error) {
	if c.Protocol == ProtocolGRPC {
		u, _ = grpcEndpointURL(c.Endpoint)
		exp, err = otlptracegrpc.New(context.Background(),
			options(c, u, otlptracegrpc.WithEndpointURL, otlptracegrpc.WithTimeout, otlptracegrpc.WithHeaders)...)
		return exp, u, err
	}
	u, _ = endpointURL(c.Endpoint)
	exp, err = otlptracehttp.New(context.Background(),
		options(c, u, otlptracehttp.WithEndpointURL, otlptracehttp.WithTimeout, otlptracehttp.WithHeaders)...)
	return exp, u, err
}

// options are c's exporter options in either protocol's option type.
// Headers are set only when configured, so that the standard
// OTEL_EXPORTER_OTLP_HEADERS still applies otherwise.
func options[O any](c Config, u string, endpoint func(string) O, timeout func(time.Duration) O, headers func(map[string]string) O) []O {
	opts := []O{endpoint(u), timeout(c.Timeout)}
	if len(c.Headers) > 0 {
		opts = append(opts, headers(c.Headers))
	}
	return opts
}

// Provider owns the SDK's tracer provider and its exporter.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// Scope is the instrumentation scope of every drawbridge span.
const Scope = "github.com/drawbridge-dev/drawbridge"

// New builds the provider for c, or returns nil when tracing is off.
// defaultService names the service when c does not; log receives export
// failures. Nothing is dialled here: the exporter connects when the first
// batch leaves.
func New(c Config, defaultService string, log *slog.Logger) (*Provider, error) {
	if !c.Enabled {
		return nil, nil
	}
	if ps := c.validate(); len(ps) > 0 {
		return nil, fmt.Errorf("%s: %s", ps[0].Key, ps[0].Msg)
	}
	exp, u, err := exporter(c)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	name := c.ServiceName
	if name == "" {
		name = defaultService
	}
	// Not merged with resource.Default(): its schema URL may differ from
	// ours, and the SDK's defaults (telemetry.sdk.*) add nothing an
	// operator filters on.
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: log, endpoint: u}),
		sdktrace.WithResource(res),
		// A client that sent a sampled traceparent is followed either way,
		// so one trace is whole across services.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	return &Provider{tp: tp, tracer: tp.Tracer(Scope)}, nil
}

// Tracer is the tracer every drawbridge span starts from.
func (p *Provider) Tracer() trace.Tracer { return p.tracer }

// Shutdown exports what is buffered and stops the exporter. A nil
// Provider (tracing off) has nothing to do.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// ShutdownWithin is Shutdown bounded by d, for the deferred call at exit:
// an unreachable collector must not hold the process.
func (p *Provider) ShutdownWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := p.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tracing: spans not exported within %v at shutdown", d)
	}
	return err
}

// Propagator is the W3C Trace Context propagator (traceparent and
// tracestate headers).
var Propagator = propagation.TraceContext{}

// noSpan is what Child returns when there is nothing to record: ending it
// does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Child starts a span named name under the span in ctx when that one is
// recording. Otherwise it returns ctx itself and a span whose methods do
// nothing, at no cost beyond a context lookup, so callers can always
// defer End.
func Child(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noSpan
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, opts...)
}

// loggedExporter reports failed exports in the process's own log, once
// when exports start failing and once when they work again. Left to the
// SDK, each failed batch would be a plain-text line from its global error
// handler among the JSON ones.
type loggedExporter struct {
	sdktrace.SpanExporter
	log      *slog.Logger
	endpoint string

	mu      sync.Mutex
	failing bool
	dropped int
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil && !e.failing:
		e.failing, e.dropped = true, len(spans)
		e.log.Warn("tracing: export failed; spans are dropped until it works again", "endpoint", e.endpoint, "error", err.Error())
	case err != nil:
		e.dropped += len(spans)
	case e.failing:
		e.failing = false
		e.log.Info("tracing: export works again", "endpoint", e.endpoint, "spans_dropped", e.dropped)
	}
	return nil // reported above; the batch is gone either way
}

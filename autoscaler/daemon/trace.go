package daemon

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// round runs one decision for g at now, as a span of its own when tracing
// is on: the decision, its inputs and what was done with it are the span's
// attributes, so a trace backend can answer "why did it scale at 03:12".
func (d *Daemon) round(ctx context.Context, g *group, now time.Time) Round {
	if d.opt.Tracer == nil {
		return d.decide(ctx, g, now)
	}
	// A round is the root of its own trace: nothing upstream asked for it.
	ctx, span := d.opt.Tracer.Start(ctx, "autoscaler.round", trace.WithNewRoot(),
		trace.WithAttributes(attribute.String("autoscaler.group", g.Name)))
	defer span.End()
	r := d.decide(ctx, g, now)
	span.SetAttributes(
		attribute.Int("autoscaler.current", r.Decision.Current),
		attribute.Int("autoscaler.desired", r.Decision.Desired),
		attribute.String("autoscaler.reason", r.Decision.Reason),
		attribute.Int("autoscaler.min", r.Min),
		attribute.Int("autoscaler.max", r.Max),
		attribute.Int("autoscaler.in_service", r.Group.InService),
		attribute.Int("autoscaler.warming", r.Group.Warming),
		attribute.Bool("autoscaler.acted", r.Acted),
		attribute.Bool("autoscaler.standby", r.Standby),
	)
	if r.Load != nil {
		span.SetAttributes(attribute.Float64("autoscaler.load", r.Load.Value))
	}
	for _, p := range r.Decision.Proposals {
		span.AddEvent("proposal", trace.WithAttributes(
			attribute.String("policy", p.Policy),
			attribute.Int("capacity", p.Capacity),
			attribute.Bool("abstain", p.Abstain),
			attribute.String("reason", p.Reason)))
	}
	if r.SourceError != "" {
		span.SetAttributes(attribute.String("autoscaler.source_error", r.SourceError))
	}
	if r.ActError != "" {
		span.SetStatus(codes.Error, r.ActError)
	}
	return r
}

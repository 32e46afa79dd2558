package outbox

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TraceParentHeader is the Kafka record header (and outbox column) that carries the W3C trace
// context of the change an event describes.
const TraceParentHeader = "traceparent"

var traceContext = propagation.TraceContext{}

// TraceParent is the W3C traceparent of ctx's span, or "" when ctx is not traced: what a writer
// stores with its event (NewRow puts it in the row).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c[TraceParentHeader]
}

// WithTraceParent returns ctx continuing the trace of a traceparent ("" or malformed: ctx).
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{TraceParentHeader: traceparent})
}

// publishSpan starts the relay's span for one event of a traced change; its context goes into
// the record's traceparent, so the consumer's span is its child.
func publishSpan(traceparent, topic, eventType string) (trace.Span, string) {
	ctx, span := otel.Tracer("github.com/careslot/careslot/internal/outbox").Start(
		WithTraceParent(context.Background(), traceparent), "outbox publish "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", topic), attribute.String("cloudevents.event_type", eventType)))
	if tp := TraceParent(ctx); tp != "" {
		return span, tp
	}
	return span, traceparent // no tracer here: pass the writer's context on
}

package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// consumeSpan starts the consumer's span for a record that carries a W3C traceparent header
// (written by the outbox relay), as a child of it, so the handler's work joins the trace of the
// change that produced the event. Records without one are not traced.
func consumeSpan(ctx context.Context, group string, r *kgo.Record, eventType string) (context.Context, func(error)) {
	var tp string
	for _, h := range r.Headers {
		if h.Key == "traceparent" {
			tp = string(h.Value)
		}
	}
	if tp == "" {
		return ctx, func(error) {}
	}
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
	ctx, span := otel.Tracer("github.com/careslot/careslot/internal/kafka").Start(ctx, "consume "+r.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.consumer.group.name", group),
			attribute.String("messaging.destination.name", r.Topic),
			attribute.Int("messaging.destination.partition.id", int(r.Partition)),
			attribute.Int64("messaging.kafka.offset", r.Offset),
			attribute.String("cloudevents.event_type", eventType)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

package outbox_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/internal/telemetry/otlptest"
)

// TestTraceContextTravelsThroughTheOutbox: an event written inside a traced request keeps the
// request's trace context in its outbox row; the relay publishes it under a span of that trace
// and sends the span's context as the record's traceparent header; the consumer's handler runs in
// a span that is its child. All three reach a real OTLP receiver as one trace.
func TestTraceContextTravelsThroughTheOutbox(t *testing.T) {
	rec := otlptest.New(t)
	_, shutdown, err := telemetry.SetupTracing(context.Background(), rec.URL(), "outbox-test")
	if err != nil {
		t.Fatal(err)
	}
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	ctx := testContext(t, 60*time.Second)
	pool := newDatabase(t)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}

	reqCtx, req := otel.Tracer("test").Start(ctx, "request")
	ev := newEvent(t, "prac-traced", 1)
	inTx(ctx, t, pool, func(tx pgx.Tx) error { return outbox.Add(reqCtx, tx, events.BookingEvents, "prac-traced", ev) })
	untraced := newEvent(t, "prac-untraced", 2)
	inTx(ctx, t, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, events.BookingEvents, "prac-untraced", untraced) })
	req.End()
	traceID := req.SpanContext().TraceID().String()

	var stored string
	if err := pool.QueryRow(ctx, `SELECT traceparent FROM outbox WHERE id = $1`, ev.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != outbox.TraceParent(reqCtx) || !strings.Contains(stored, traceID) {
		t.Fatalf("outbox row traceparent %q, want the request's (%s)", stored, traceID)
	}

	var (
		mu      sync.Mutex
		handled = map[string]trace.SpanContext{}
		headers = map[string]string{}
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Group: "trace-" + prefix,
		Topics: []string{kafka.Topic(prefix, events.BookingEvents)}, Logger: testLogger(t),
		Handler: func(ctx context.Context, e events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			handled[e.ID] = trace.SpanContextFromContext(ctx)
			for _, h := range kafka.RecordFrom(ctx).Headers {
				if h.Key == outbox.TraceParentHeader {
					headers[e.ID] = string(h.Value)
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	startRelay(t, ctx, pool, brokers, prefix, nil)
	waitFor(ctx, t, "both events consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := shutdown(ctx); err != nil { // flush the spans
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if got := handled[ev.ID].TraceID().String(); got != traceID {
		t.Errorf("consumer handled the traced event in trace %s, want %s", got, traceID)
	}
	if handled[untraced.ID].IsValid() || headers[untraced.ID] != "" {
		t.Errorf("an untraced event got trace context %v (header %q)", handled[untraced.ID], headers[untraced.ID])
	}
	spans := map[string]otlptest.Span{}
	for _, s := range rec.Trace(traceID) {
		spans[strings.Fields(s.Name)[0]] = s
	}
	request, publish, consume := spans["request"], spans["outbox"], spans["consume"]
	if request.SpanID == "" || publish.ParentID != request.SpanID || consume.ParentID != publish.SpanID {
		t.Fatalf("trace %s: %+v; want request → outbox publish → consume", traceID, rec.Trace(traceID))
	}
	if !strings.Contains(headers[ev.ID], publish.SpanID) {
		t.Errorf("record traceparent %q, want the publish span %s", headers[ev.ID], publish.SpanID)
	}
}

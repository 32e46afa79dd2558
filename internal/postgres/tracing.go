package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

var traceQueries atomic.Bool

// TraceQueries makes the pools Connect opens from now on trace their statements (when the
// process exports traces; without it pgx calls no tracer at all).
func TraceQueries() { traceQueries.Store(true) }

// QueryTracer makes a client span of every statement of a pool (pgx's tracing hook), named by
// the statement's first word, with the statement text (never its arguments).
type QueryTracer struct{}

var _ pgx.QueryTracer = QueryTracer{}

type spanKey struct{}

func (QueryTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	op := data.SQL
	for i, c := range op {
		if c == ' ' || c == '\n' || c == '(' {
			op = op[:i]
			break
		}
	}
	ctx, span := otel.Tracer("github.com/careslot/careslot/internal/postgres").Start(ctx, "postgres "+op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "postgresql"),
			attribute.String("db.namespace", conn.Config().Database),
			attribute.String("db.query.text", data.SQL),
		))
	return context.WithValue(ctx, spanKey{}, span)
}

func (QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	}
	span.End()
}

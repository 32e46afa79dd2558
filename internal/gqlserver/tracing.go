package gqlserver

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/careslot/careslot/internal/apperr"
)

// tracer comes from the global provider telemetry.SetupTracing installs (a no-op when tracing
// is off); taken before it is installed, it follows it.
var tracer = otel.Tracer("github.com/careslot/careslot/internal/gqlserver")

// operationSpans is the gqlgen extension that runs each query and mutation under a span named
// "<subgraph> <root fields>" ("booking bookAppointment"), a child of the request's server span:
// the resolvers' PostgreSQL, Redis and outgoing HTTP spans then sit under the operation they
// serve. Subscriptions get none (they live as long as the connection).
type operationSpans struct{}

var (
	_ graphql.HandlerExtension    = operationSpans{}
	_ graphql.ResponseInterceptor = operationSpans{}
)

func (operationSpans) ExtensionName() string                   { return "CareslotOperationSpans" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (operationSpans) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, span := tracer.Start(ctx, serviceOf(ctx)+" "+rootFields(oc.Operation),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("graphql.operation.type", string(oc.Operation.Operation)),
			attribute.String("graphql.operation.name", oc.OperationName),
		))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		// Every code is recorded; only a failure of ours (not a refusal such as SLOT_UNAVAILABLE,
		// which is an answer) marks the span as an error.
		codesSeen := make([]string, 0, len(resp.Errors))
		failed := false
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			switch code {
			case "":
				code = "UNKNOWN"
				failed = true
			case string(apperr.Internal), "TIMEOUT":
				failed = true
			}
			codesSeen = append(codesSeen, code)
		}
		span.SetAttributes(attribute.StringSlice("careslot.graphql.error_codes", codesSeen))
		if failed {
			span.SetStatus(codes.Error, strings.Join(codesSeen, ","))
		}
	}
	return resp
}

package gqlserver

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/vektah/gqlparser/v2/ast"
)

// Per-operation metrics of every subgraph, labelled by subgraph (not "service", which Prometheus
// sets to the Kubernetes Service scraped) and by the operation's root
// fields (bounded by the schema, unlike client operation names): rate, errors by code, latency.
// A booking is operation="bookAppointment" outcome="ok"; a refusal is an error with its code.
var (
	operationsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_graphql_operations_total",
		Help: "GraphQL operations a subgraph answered, by root fields, type and outcome (ok or error).",
	}, []string{"subgraph", "operation", "type", "outcome"})
	operationErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_graphql_errors_total",
		Help: "Errors in GraphQL responses by extensions.code (refusals such as SLOT_UNAVAILABLE included).",
	}, []string{"subgraph", "operation", "code"})
	operationDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "careslot_graphql_operation_duration_seconds",
		Help:    "Time to answer a query or mutation, by root fields.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"subgraph", "operation", "type"})
	subscriptionEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "careslot_graphql_subscription_events_total",
		Help: "Messages pushed to subscribers, by root field.",
	}, []string{"subgraph", "operation"})
)

type serviceKey struct{}

// Instrument labels the metrics of the GraphQL requests h serves with the service's name.
func Instrument(service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serviceKey{}, service)))
	})
}

func serviceOf(ctx context.Context) string {
	if s, ok := ctx.Value(serviceKey{}).(string); ok {
		return s
	}
	return "unknown"
}

// metrics is the gqlgen extension that records the operation metrics.
type metrics struct{}

var (
	_ graphql.HandlerExtension     = metrics{}
	_ graphql.ResponseInterceptor  = metrics{}
	_ graphql.OperationInterceptor = metrics{}
)

func (metrics) ExtensionName() string                   { return "CareslotMetrics" }
func (metrics) Validate(graphql.ExecutableSchema) error { return nil }
func (metrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(ctx)
}

func (metrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	start := time.Now()
	resp := next(ctx)
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return resp
	}
	service, op, kind := serviceOf(ctx), rootFields(oc.Operation), string(oc.Operation.Operation)
	if oc.Operation.Operation == ast.Subscription {
		if resp != nil {
			subscriptionEvents.WithLabelValues(service, op).Inc()
		}
		return resp
	}
	operationDuration.WithLabelValues(service, op, kind).Observe(time.Since(start).Seconds())
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = "UNKNOWN"
			}
			operationErrors.WithLabelValues(service, op, code).Inc()
		}
	}
	operationsTotal.WithLabelValues(service, op, kind, outcome).Inc()
	return resp
}

// rootFields names an operation by its root fields, sorted and joined with "+" (at most three,
// so the label stays bounded).
func rootFields(op *ast.OperationDefinition) string {
	var names []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && f.Name != "__typename" {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > 3 {
		names = append(names[:3], "…")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

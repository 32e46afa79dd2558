// Package httpclient builds the HTTP clients a Careslot process calls out with (another service's
// internal endpoints, OpenSearch, the identity provider's JWKS), so that every outgoing call joins
// the caller's trace in one place. Use New (or Transport, to keep a library's own client).
package httpclient

import (
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
)

// New returns a client whose calls give up after timeout (0: never; then bound them by the
// request's context) and carry the caller's trace context; see Transport.
func New(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: Transport(nil)}
}

// Transport wraps base (nil: http.DefaultTransport). A request whose context holds a span (an
// incoming request's, a Kafka consumer's) is sent under a client span "<METHOD> <path>" with
// that span's W3C traceparent header, through the global tracer provider and propagator that
// telemetry.SetupTracing installs; with tracing off both are no-ops and the request goes out
// as it came. A request outside any trace (start-up probes, background JWKS refreshes) starts
// no trace of its own.
func Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithFilter(inTrace),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + r.URL.Path
		}),
	)
}

func inTrace(r *http.Request) bool {
	return trace.SpanContextFromContext(r.Context()).IsValid()
}

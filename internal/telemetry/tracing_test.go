package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/internal/telemetry/otlptest"
	"github.com/careslot/careslot/internal/testenv"
)

// TestTracesReachTheCollector: with an OTLP endpoint a request carrying a W3C traceparent (as
// the router sends) gets a server span in the caller's trace, and the PostgreSQL statements it
// runs are its children, all exported to a real OTLP receiver; without one nothing is set up.
func TestTracesReachTheCollector(t *testing.T) {
	if enabled, _, err := telemetry.SetupTracing(context.Background(), "", "x"); enabled || err != nil {
		t.Fatalf("tracing without endpoint: %v %v", enabled, err)
	}
	rec := otlptest.New(t)
	enabled, shutdown, err := telemetry.SetupTracing(context.Background(), rec.URL(), "careslot-test")
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	postgres.TraceQueries()
	_, dsn := testenv.NewDatabase(t, "patient")
	pool, err := postgres.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	srv := httptest.NewServer(otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var one int
		if err := pool.QueryRow(r.Context(), "SELECT 1").Scan(&one); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}), "test"))
	defer srv.Close()
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader("{}"))
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil { // flushes
		t.Fatal(err)
	}
	otel.SetTracerProvider(trace.NewNoopTracerProvider())

	spans := rec.Trace(traceID)
	var server, query *otlptest.Span
	for i, s := range spans {
		if s.Service != "careslot-test" {
			t.Errorf("span %q of service %q", s.Name, s.Service)
		}
		switch {
		case s.ParentID == callerSpan:
			server = &spans[i]
		case s.Name == "postgres SELECT":
			query = &spans[i]
		}
	}
	if server == nil || query == nil || query.ParentID != server.SpanID {
		t.Fatalf("spans of the trace %+v: want the server span under the caller's and the query under it", spans)
	}
}

package httpclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careslot/careslot/internal/httpclient"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/internal/telemetry/otlptest"
)

// callee is a service's internal endpoint: it records the traceparent of each call by path.
type callee struct {
	mu          sync.Mutex
	traceparent map[string]string
}

func (c *callee) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.traceparent[r.URL.Path] = r.Header.Get("traceparent")
	c.mu.Unlock()
	_, _ = w.Write([]byte(`{}`))
}

func (c *callee) got(path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.traceparent[path]
}

func get(t *testing.T, ctx context.Context, c *http.Client, url string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
}

// TestOutgoingCallsJoinTheCallersTrace: with tracing off a call goes out untouched; on, a call
// made while serving a traced request is a client span of that request and carries its W3C
// traceparent, so the callee's server span continues the same trace, all read back from a real
// OTLP receiver; a call outside any trace starts none.
func TestOutgoingCallsJoinTheCallersTrace(t *testing.T) {
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	defer otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: must(trace.TraceIDFromHex(traceID)), SpanID: must(trace.SpanIDFromHex("00f067aa0ba902b7")), TraceFlags: trace.FlagsSampled,
	})
	rec := &callee{traceparent: map[string]string{}}

	// Tracing off (no SetupTracing): the client adds nothing, even inside a caller's trace.
	off := httptest.NewServer(rec)
	defer off.Close()
	get(t, trace.ContextWithRemoteSpanContext(context.Background(), sc), httpclient.New(5*time.Second), off.URL+"/off")
	if tp := rec.got("/off"); tp != "" {
		t.Fatalf("tracing off, yet traceparent %q sent", tp)
	}

	collector := otlptest.New(t)
	enabled, shutdown, err := telemetry.SetupTracing(context.Background(), collector.URL(), "careslot-test")
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	// Both ends as the services run them: server spans by otelhttp, the client from New.
	exports := httptest.NewServer(serverSpans(rec, "booking"))
	defer exports.Close()
	client := httpclient.New(5 * time.Second)
	caller := httptest.NewServer(serverSpans(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get(t, r.Context(), client, exports.URL+"/internal/export")
	}), "patient"))
	defer caller.Close()
	req, _ := http.NewRequest(http.MethodPost, caller.URL+"/graphql", strings.NewReader("{}"))
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	get(t, context.Background(), client, exports.URL+"/untraced")
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	if tp := rec.got("/internal/export"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
		t.Fatalf("the call carried traceparent %q, want the caller's trace %s", tp, traceID)
	}
	if tp := rec.got("/untraced"); tp != "" {
		t.Fatalf("a call outside any trace carried traceparent %q", tp)
	}
	spans := collector.Trace(traceID)
	byName := map[string]otlptest.Span{}
	for _, sp := range spans {
		byName[sp.Name] = sp
	}
	server, clientSpan, remote := byName["patient POST /graphql"], byName["GET /internal/export"], byName["booking GET /internal/export"]
	switch {
	case server.SpanID == "" || clientSpan.SpanID == "" || remote.SpanID == "":
		t.Fatalf("trace %s: %+v, want the caller's request, its client span and the callee's request", traceID, spans)
	case clientSpan.ParentID != server.SpanID:
		t.Errorf("client span's parent %s, want the caller's request %s", clientSpan.ParentID, server.SpanID)
	case remote.ParentID != clientSpan.SpanID:
		t.Errorf("callee's request's parent %s, want the client span %s", remote.ParentID, clientSpan.SpanID)
	case !strings.HasSuffix(rec.got("/internal/export"), "-"+clientSpan.SpanID+"-01"):
		t.Errorf("traceparent %q does not name the client span %s", rec.got("/internal/export"), clientSpan.SpanID)
	}
	for _, sp := range collector.All() {
		if sp.Name == "GET /untraced" {
			t.Errorf("a call outside any trace got a client span: %+v", sp)
		}
	}
}

// serverSpans traces requests as cmd/careslot serves them.
func serverSpans(h http.Handler, service string) http.Handler {
	return otelhttp.NewHandler(h, service, otelhttp.WithSpanNameFormatter(func(service string, r *http.Request) string {
		return service + " " + r.Method + " " + r.URL.Path
	}))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

package router_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/router"
	"github.com/careslot/careslot/internal/telemetry/otlptest"
)

// TestRouterExportsTracesToTheGivenCollector: with an OTLP endpoint the router exports its
// spans there (one explicit exporter) and sends the subgraph a W3C traceparent of the same
// trace, so a subgraph's spans join it.
func TestRouterExportsTracesToTheGivenCollector(t *testing.T) {
	rec := otlptest.New(t)
	up := newUpstream(t)
	e := startWith(t, up, newJWKS(t), func(o *router.Options) {
		o.TracingEndpoint = rec.URL()
		o.ServiceName = "careslot-router-test"
	})
	if status, resp, raw := e.post(t, `{ hello }`, ""); status != http.StatusOK || resp.Data["hello"] != "world" {
		t.Fatalf("status %d, body %s", status, raw)
	}
	up.mu.Lock()
	tp := up.traceparent[len(up.traceparent)-1]
	up.mu.Unlock()
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 {
		t.Fatalf("subgraph got traceparent %q, want W3C trace context", tp)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		spans := rec.Trace(parts[1])
		if len(spans) > 0 {
			for _, s := range spans {
				if s.Service != "careslot-router-test" {
					t.Errorf("span %q from service %q", s.Name, s.Service)
				}
			}
			t.Logf("trace %s: %d spans", parts[1], len(spans))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of trace %s reached the collector (%d spans in all)", parts[1], len(rec.All()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

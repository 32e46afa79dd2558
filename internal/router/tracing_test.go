package router_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/careslot/careslot/internal/router"
)

// otlpReceiver is an OTLP/HTTP trace receiver built on the official protos: it keeps every
// span it is sent.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans map[string][]string // hex trace id → span names
	svc   map[string]bool     // service.name of the senders
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{spans: map[string][]string{}, svc: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want protobuf on /v1/traces", http.StatusNotFound)
			return
		}
		var src io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			src = zr
		}
		body, err := io.ReadAll(src)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					r.svc[a.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					id := hexID(sp.GetTraceId())
					r.spans[id] = append(r.spans[id], sp.GetName())
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestRouterExportsTracesToTheGivenCollector: with an OTLP endpoint the router exports its
// spans there (and nowhere else: there is one exporter) and sends the subgraph a W3C traceparent
// of the same trace, so a subgraph's spans join it.
func TestRouterExportsTracesToTheGivenCollector(t *testing.T) {
	rec := newOTLPReceiver(t)
	up := newUpstream(t)
	e := startWith(t, up, newJWKS(t), func(o *router.Options) {
		o.TracingEndpoint = rec.srv.URL
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
	traceID := parts[1]
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec.mu.Lock()
		names, svc := append([]string(nil), rec.spans[traceID]...), rec.svc["careslot-router-test"]
		rec.mu.Unlock()
		if len(names) > 0 && svc {
			t.Logf("trace %s: %v", traceID, names)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of trace %s reached the collector (have traces %d)", traceID, len(rec.spans))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

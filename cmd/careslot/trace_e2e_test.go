package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/telemetry/otlptest"
)

// TestOneBookingIsOneTraceAcrossKafka starts a system that exports traces to a real OTLP
// receiver, books once through the router, and reads back one trace holding the router, the
// booking subgraph's request, its PostgreSQL statements, the outbox relay's publish to Kafka and
// the availability and notification consumers' handling of the event.
func TestOneBookingIsOneTraceAcrossKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole system")
	}
	rec := otlptest.New(t)
	s, stop, err := newStackWith(t, func(c *config.Config) { c.OTLPEndpoint = rec.URL() })
	if stop != nil {
		defer stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	prID, typeID, _, _ := livePractice(t, s, "Traced")
	_, patientTok := registerPatient(t, s, "Traced")
	apptID := bookThrough(t, s, patientTok, prID, typeID, tomorrowAt(11, 0), "traced-1")

	bookingTopic := s.cfg.KafkaTopicPrefix + events.BookingEvents
	eventually(t, "the booking's trace", func() string {
		// The booking's trace is the one holding its INSERT (the only booking of this system).
		byTrace := map[string][]otlptest.Span{}
		for _, sp := range rec.All() {
			byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
		}
		var best string
		for id, spans := range byTrace {
			if hasSpan(spans, func(sp otlptest.Span) bool {
				return strings.HasPrefix(sp.Name, "postgres ") && strings.Contains(sp.Attributes["db.query.text"], "INSERT INTO appointments")
			}) {
				best = id
			}
		}
		if best == "" {
			return "no trace with the booking's INSERT yet"
		}
		spans := byTrace[best]
		index := map[string]otlptest.Span{}
		for _, sp := range spans {
			index[sp.SpanID] = sp
		}
		isRequest := func(sp otlptest.Span) bool { return sp.Name == "booking POST /graphql" }
		isOperation := func(sp otlptest.Span) bool { return sp.Name == "booking bookAppointment" }
		want := map[string]func(otlptest.Span) bool{
			"router": func(sp otlptest.Span) bool { return sp.Name == "Operation - Execute" },
			"booking request under the router's fetch": func(sp otlptest.Span) bool {
				return isRequest(sp) && descendsFrom(index, sp, func(p otlptest.Span) bool { return p.Name == "Engine - Fetch" })
			},
			"bookAppointment operation under the request": func(sp otlptest.Span) bool {
				return isOperation(sp) && sp.Attributes["graphql.operation.type"] == "mutation" && descendsFrom(index, sp, isRequest)
			},
			"booking's INSERT under the operation": func(sp otlptest.Span) bool {
				return strings.Contains(sp.Attributes["db.query.text"], "INSERT INTO appointments") && descendsFrom(index, sp, isOperation)
			},
			"outbox publish under the request": func(sp otlptest.Span) bool {
				return sp.Name == "outbox publish "+bookingTopic && descendsFrom(index, sp, isRequest)
			},
			"availability consumer under the publish": consumerOf(index, bookingTopic, "availability"),
			// Availability updates its Redis bitmaps inside its consumer's span.
			"Redis under a consumer": func(sp otlptest.Span) bool {
				return (sp.Attributes["db.system"] == "redis" || sp.Attributes["db.system.name"] == "redis") &&
					descendsFrom(index, sp, func(p otlptest.Span) bool { return strings.HasPrefix(p.Name, "consume ") })
			},
			"notification consumer under the publish": consumerOf(index, bookingTopic, "notification"),
		}
		var missing []string
		for what, ok := range want {
			if !hasSpan(spans, ok) {
				missing = append(missing, what)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Sprintf("trace %s lacks %v (has %d spans)", best, missing, len(spans))
		}
		t.Logf("booking %s: trace %s, %d spans", apptID, best, len(spans))
		return ""
	})

	// The GDPR export gathers the booking and notification services' parts over their internal
	// endpoints: those calls carry the export's trace, so each owner's request is a child of the
	// patient subgraph's client span under the exportMyData operation.
	var export struct {
		ExportMyData struct{ Data json.RawMessage } `json:"exportMyData"`
	}
	s.run(t, patientTok, `mutation ExportMyData { exportMyData { data } }`, nil, &export)
	if !strings.Contains(string(export.ExportMyData.Data), apptID) {
		t.Fatalf("the export does not hold the booking %s: %.300s", apptID, export.ExportMyData.Data)
	}
	eventually(t, "the export's trace", func() string {
		spans := rec.All()
		index := map[string]otlptest.Span{}
		for _, sp := range spans {
			index[sp.SpanID] = sp
		}
		isExport := func(sp otlptest.Span) bool { return sp.Name == "patient exportMyData" }
		var missing []string
		for _, owner := range []string{"booking", "notification"} {
			if !hasSpan(spans, func(sp otlptest.Span) bool {
				p, ok := index[sp.ParentID]
				return sp.Name == owner+" GET /internal/export" && ok && p.Name == "GET /internal/export" &&
					descendsFrom(index, p, isExport)
			}) {
				missing = append(missing, owner)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("no internal export request of %v under patient exportMyData's client span", missing)
		}
		return ""
	})
}

func consumerOf(index map[string]otlptest.Span, topic, service string) func(otlptest.Span) bool {
	return func(sp otlptest.Span) bool {
		// Groups are <topic prefix><service>.<what it keeps>.
		return sp.Name == "consume "+topic && strings.Contains(sp.Attributes["messaging.consumer.group.name"], "."+service+".") &&
			descendsFrom(index, sp, func(p otlptest.Span) bool { return strings.HasPrefix(p.Name, "outbox publish") })
	}
}

func hasSpan(spans []otlptest.Span, ok func(otlptest.Span) bool) bool {
	for _, sp := range spans {
		if ok(sp) {
			return true
		}
	}
	return false
}

func descendsFrom(index map[string]otlptest.Span, sp otlptest.Span, ancestor func(otlptest.Span) bool) bool {
	for i := 0; i < 64 && sp.ParentID != ""; i++ {
		p, ok := index[sp.ParentID]
		if !ok {
			return false
		}
		if ancestor(p) {
			return true
		}
		sp = p
	}
	return false
}

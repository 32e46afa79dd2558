package availability_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
)

// rejectAll verifies no token: the fields are public, so none is needed.
type rejectAll struct{}

func (rejectAll) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, apperr.E(apperr.Unauthenticated, "no tokens in this test")
}

const entitiesQuery = `query($reps: [_Any!]!, $type1: ID!, $type2: ID!, $from: Date!, $to: Date!) {
  _entities(representations: $reps) {
    ... on Practitioner {
      id
      nextAvailableSlot
      a: availableSlots(appointmentTypeId: $type1, from: $from, to: $to) { startsAt endsAt location { id } }
      b: availableSlots(appointmentTypeId: $type2, from: $from, to: $to) { startsAt }
    }
  }
}`

func TestEntitiesThroughTheHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	p1, p2 := snapshot("g1", 1), snapshot("g2", 1)
	p2.OpeningHours = p2.OpeningHours[1:] // g2 is closed on Monday mornings
	mustApplyP(t, e, p1)
	mustApplyP(t, e, p2)
	mustApplyA(t, e, appointment(p1, "x1", "consult-g1", at(0, 9, 0), 1, eventdata.StatusConfirmed))

	srv := httptest.NewServer(e.sg.Handler()) // no token: the fields are public
	t.Cleanup(srv.Close)

	// Both practitioners in one request; each representation may ask the same field with other arguments.
	reps := []map[string]any{{"__typename": "Practitioner", "id": "g1"}, {"__typename": "Practitioner", "id": "g2"}, {"__typename": "Practitioner", "id": "unknown"}}
	res := gqltest.Do(t, srv.URL, "", entitiesQuery, map[string]any{"reps": reps, "type1": "consult-g1", "type2": "follow-g1", "from": date(0), "to": date(6)})
	// g2 and unknown do not have type consult-g1: INVALID_INPUT on their field only; unknown has none.
	var data struct {
		Entities []*struct {
			ID                string     `json:"id"`
			NextAvailableSlot *time.Time `json:"nextAvailableSlot"`
			A                 []struct {
				StartsAt time.Time           `json:"startsAt"`
				EndsAt   time.Time           `json:"endsAt"`
				Location struct{ ID string } `json:"location"`
			} `json:"a"`
			B []struct {
				StartsAt time.Time `json:"startsAt"`
			} `json:"b"`
		} `json:"_entities"`
	}
	if err := json.Unmarshal(res.Data, &data); err != nil {
		t.Fatalf("%v: %s", err, res.Data)
	}
	if len(data.Entities) != 3 || data.Entities[0] == nil || data.Entities[0].ID != "g1" {
		t.Fatalf("entities: %s, errors %+v", res.Data, res.Errors)
	}
	g1 := data.Entities[0]
	want := list(t, e.svc, "g1", "consult-g1", date(0), date(6))
	if len(g1.A) != len(want) || len(want) == 0 || !g1.A[0].StartsAt.Equal(want[0].Start) || g1.A[0].Location.ID != "loc-g1" {
		t.Errorf("g1 consultations: %d, want %d", len(g1.A), len(want))
	}
	if !g1.A[0].StartsAt.Equal(at(0, 9, 20)) || !g1.A[0].EndsAt.Equal(at(0, 9, 40)) {
		t.Errorf("first g1 slot: %+v", g1.A[0])
	}
	if len(g1.B) != len(list(t, e.svc, "g1", "follow-g1", date(0), date(6))) {
		t.Errorf("g1 follow-ups: %d", len(g1.B))
	}
	if g1.NextAvailableSlot == nil || !g1.NextAvailableSlot.Equal(at(0, 9, 20)) {
		t.Errorf("g1 next: %v", g1.NextAvailableSlot)
	}
	codes := map[string]string{}
	for _, er := range res.Errors {
		codes[jsonString(er.Path)], _ = er.Extensions["code"].(string)
	}
	if len(res.Errors) != 2 || codes[`["_entities",1,"a"]`] != "INVALID_INPUT" || codes[`["_entities",1,"b"]`] != "INVALID_INPUT" {
		t.Errorf("errors: %+v", res.Errors)
	}

	// g2 with its own types: Monday closed, Tuesday open; unknown practitioners have no slots.
	// Its next slot is the first a new patient may book (Monday's follow-ups are closed to them).
	res = gqltest.Do(t, srv.URL, "", entitiesQuery, map[string]any{"reps": reps[1:], "type1": "consult-g2", "type2": "follow-g2", "from": date(0), "to": date(1)})
	if err := json.Unmarshal(res.Data, &data); err != nil || len(res.Errors) != 0 {
		t.Fatalf("%v %s %+v", err, res.Data, res.Errors)
	}
	g2, unknown := data.Entities[0], data.Entities[1]
	if g2 == nil || len(g2.A) == 0 || !g2.A[0].StartsAt.Equal(at(1, 9, 0)) || g2.NextAvailableSlot == nil || !g2.NextAvailableSlot.Equal(at(1, 9, 0)) {
		t.Errorf("g2: %+v", g2)
	}
	if unknown != nil && (unknown.NextAvailableSlot != nil || len(unknown.A) != 0) {
		t.Errorf("unknown: %+v", unknown)
	}

	// Bad ranges.
	for _, rg := range [][2]string{{date(3), date(2)}, {date(0), date(62)}} {
		res = gqltest.Do(t, srv.URL, "", entitiesQuery, map[string]any{"reps": reps[:1], "type1": "consult-g1", "type2": "consult-g1", "from": rg[0], "to": rg[1]})
		if len(res.Errors) == 0 || res.Errors[0].Extensions["code"] != "INVALID_INPUT" {
			t.Errorf("range %v: %+v", rg, res.Errors)
		}
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestConsumersEndToEnd produces a practitioner snapshot and booking events
// to the broker and watches the slots change, AvailabilityChanged arrive on
// availability-events and the change on the Redis channel.
func TestConsumersEndToEnd(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.Brokers(t)
	topicPrefix := kafkatest.TopicPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, topicPrefix); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, brokers, topicPrefix)
	sub := e.rdb.Subscribe(ctx, e.prefix+"avail-changes:k1")
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 3)
	for _, w := range e.sg.Workers() {
		go func() { done <- w(wctx) }()
	}
	t.Cleanup(func() {
		stop()
		for range e.sg.Workers() {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		}
	})

	prod, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	send := func(topic, typ, key string, data any) {
		t.Helper()
		ev, err := events.New("/careslot/test", typ, key, data)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ev.Encode()
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: kafka.Topic(topicPrefix, topic), Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	p := snapshot("k1", 1)
	send(events.PractitionerEvents, "careslot.practitioner.PractitionerUpdated.v1", p.ID, p)
	slot := at(1, 9, 0)
	waitFor("slots after the snapshot", func() bool { return containsStart(list(t, e.svc, "k1", "consult-k1", date(1), date(1)), slot) })
	a := appointment(p, "ka", "consult-k1", slot, 1, eventdata.StatusConfirmed)
	send(events.BookingEvents, eventdata.AppointmentBooked, p.ID, a)
	waitFor("the booked slot to go", func() bool { return !containsStart(list(t, e.svc, "k1", "consult-k1", date(1), date(1)), slot) })

	// The Redis channel got the snapshot's change, then the booking's (merged
	// with the snapshot's when the booking was applied before the snapshot's
	// change was acknowledged by Kafka and cleared).
	var msgs []eventdata.Availability
	for len(msgs) < 2 {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var av eventdata.Availability
		if err := json.Unmarshal([]byte(m.Payload), &av); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, av)
	}
	if msgs[1].PractitionerID != "k1" || !slices.Contains(msgs[1].ChangedDates, date(1)) {
		t.Errorf("redis messages: %+v", msgs)
	}

	// availability-events carries AvailabilityChanged keyed by practitioner.
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.Topic(topicPrefix, events.AvailabilityEvents)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []eventdata.Availability
	for len(got) < 2 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			ev, err := events.Decode(r.Value)
			if err != nil || ev.Type != eventdata.AvailabilityChanged || string(r.Key) != "k1" {
				t.Errorf("record %s: %v %s", r.Key, err, ev.Type)
				return
			}
			var av eventdata.Availability
			if err := ev.DataAs(&av); err != nil {
				t.Error(err)
			}
			got = append(got, av)
		})
	}
	if !slices.Contains(got[1].ChangedDates, date(1)) || got[0].NextAvailableSlot == nil || !got[0].NextAvailableSlot.Equal(at(0, 9, 0)) {
		t.Errorf("availability-events: %+v", got)
	}

	// A redelivered (duplicate) booking event changes nothing and publishes nothing more.
	send(events.BookingEvents, eventdata.AppointmentBooked, p.ID, a)
	cancelled := a
	cancelled.Version, cancelled.Status = 2, eventdata.StatusCancelled
	send(events.BookingEvents, eventdata.AppointmentCancelled, p.ID, cancelled)
	waitFor("the cancelled slot to come back", func() bool { return containsStart(list(t, e.svc, "k1", "consult-k1", date(1), date(1)), slot) })
}

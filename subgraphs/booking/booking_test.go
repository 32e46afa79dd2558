package booking_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/auth/authtest"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/gqltest"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// fakeVerifier accepts "role:subject[:practitioners]" tokens.
type fakeVerifier = authtest.Verifier

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// practice is a practice in Paris open every day 08:00–18:00 on a 15-minute
// step for one 30-minute type.
func practice(id, typeID string, version int64) eventdata.Practitioner {
	loc := uuid.NewString()
	p := eventdata.Practitioner{ID: id, Version: version, Country: "fr", FirstName: "Claire", LastName: "Dubois",
		DisplayName: "Dr Claire Dubois", AcceptsNewPatients: true,
		Locations: []eventdata.Location{{ID: loc, Name: "Cabinet", TimeZone: "Europe/Paris", Country: "fr"}},
		AppointmentTypes: []eventdata.AppointmentType{{ID: typeID, Name: "Consultation", DurationMinutes: 30,
			VisitMode: "IN_PERSON", NewPatientsAllowed: true, OnlineBookable: true, BookingHorizonDays: 90}}}
	for wd := 1; wd <= 7; wd++ {
		p.OpeningHours = append(p.OpeningHours, eventdata.OpeningHours{ID: uuid.NewString(), LocationID: loc, Weekday: wd,
			StartTime: "08:00", EndTime: "18:00", StepMinutes: 15, AppointmentTypeIDs: []string{typeID}})
	}
	return p
}

func envelope(t *testing.T, source, eventType, subject string, data any) events.Envelope {
	t.Helper()
	ev, err := events.New(source, eventType, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// slotAt is hh:mm in Paris two days from now: inside the horizon, never
// inside the cancellation cut-off.
func slotAt(hh, mm int) time.Time {
	paris, _ := time.LoadLocation("Europe/Paris")
	d := time.Now().In(paris).AddDate(0, 0, 2)
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, paris)
}

type fixture struct {
	srv *httptest.Server
	sg  *booking.Subgraph
	// practitioner is the practice's id: the account of the test identity prSub.
	practitioner, prSub string
	typeID              string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "booking")
	if err := booking.EnsurePartitions(context.Background(), pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := booking.New(context.Background(), booking.Deps{Pool: pool, Countries: countries.MustDefault(),
		Verifier: fakeVerifier{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{sg: sg, prSub: "doc-" + uuid.NewString(), typeID: uuid.NewString()}
	f.practitioner = authtest.Account(f.prSub)
	if err := sg.Service.ApplyPractitionerEvent(context.Background(), envelope(t, "/careslot/practitioner",
		"careslot.practitioner.PractitionerRegistered.v1", f.practitioner, practice(f.practitioner, f.typeID, 1))); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(sg.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// patient feeds a patient into the replica and returns the test identity
// whose account it is (its id: authtest.Account of it).
func (f fixture) patient(t *testing.T, first string) string {
	t.Helper()
	sub := "pat-" + uuid.NewString()
	id := authtest.Account(sub)
	if err := f.sg.Service.ApplyPatientEvent(context.Background(), envelope(t, "/careslot/patient",
		"careslot.patient.PatientRegistered.v1", id, eventdata.Patient{ID: id, Version: 1, FirstName: first, LastName: "Martin",
			Phone: "+33612345678"})); err != nil {
		t.Fatal(err)
	}
	return sub
}

// The contract's operations, as the router sends them to this subgraph
// (fields owned by other subgraphs are fetched from them).
const bookOp = `mutation BookAppointment($input: BookAppointmentInput!) {
  bookAppointment(input: $input) {
    appointment { id status startsAt endsAt practitioner { id } location { id } appointmentType { id } relative { id } }
  }
}`

const holdOp = `mutation HoldSlot($input: HoldSlotInput!) {
  holdSlot(input: $input) { hold { id startsAt endsAt expiresAt } }
}`

const rescheduleOp = `mutation RescheduleAppointment($input: RescheduleAppointmentInput!) {
  rescheduleAppointment(input: $input) { appointment { id status startsAt endsAt } previous { id status } }
}`

const cancelOp = `mutation CancelAppointment($input: CancelAppointmentInput!) {
  cancelAppointment(input: $input) { appointment { id status cancelledAt cancellationReason } }
}`

const myAppointmentsOp = `query ($representations: [_Any!]!, $upcoming: Boolean, $first: Int, $after: String) {
  _entities(representations: $representations) {
    ... on Patient {
      id
      appointments(upcoming: $upcoming, first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id status startsAt endsAt practitioner { id } location { id } appointmentType { id } } }
      }
    }
  }
}`

const myAgendaOp = `query ($representations: [_Any!]!, $from: Date!, $to: Date!) {
  _entities(representations: $representations) {
    ... on Practitioner { id agenda(from: $from, to: $to) { id status startsAt endsAt appointmentType { id } location { id } patientName patientPhone note } }
  }
}`

const markNoShowOp = `mutation MarkNoShow($appointmentId: ID!) {
  markNoShow(appointmentId: $appointmentId) { appointment { id status } }
}`

func bookVars(f fixture, start time.Time, key string) map[string]any {
	return map[string]any{"input": map[string]any{"practitionerId": f.practitioner, "appointmentTypeId": f.typeID,
		"startsAt": start.Format(time.RFC3339), "idempotencyKey": key, "note": "first visit"}}
}

func TestBookingThroughGraphQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, bob := f.patient(t, "Alice"), f.patient(t, "Bob")

	// Bob holds 11:00; Alice books 10:00.
	r := gqltest.Do(t, f.srv.URL, "patient:"+bob, holdOp, map[string]any{"input": map[string]any{"practitionerId": f.practitioner,
		"appointmentTypeId": f.typeID, "startsAt": slotAt(11, 0).Format(time.RFC3339)}})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"expiresAt"`) {
		t.Fatalf("hold: %s %+v", r.Data, r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "patient:"+alice, bookOp, bookVars(f, slotAt(10, 0), "a-1"))
	if len(r.Errors) > 0 {
		t.Fatalf("book: %+v", r.Errors)
	}
	var booked struct {
		BookAppointment struct {
			Appointment struct {
				ID, Status   string
				Practitioner struct{ ID string }
				Relative     *struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &booked); err != nil {
		t.Fatal(err)
	}
	a := booked.BookAppointment.Appointment
	if a.Status != "CONFIRMED" || a.Practitioner.ID != f.practitioner || a.Relative != nil {
		t.Fatalf("booked %s", r.Data)
	}
	// The same key again: the first answer.
	if again := gqltest.Do(t, f.srv.URL, "patient:"+alice, bookOp, bookVars(f, slotAt(10, 0), "a-1")); string(again.Data) != string(r.Data) {
		t.Fatalf("retry answered %s, first %s", again.Data, r.Data)
	}

	// Bob on a slot overlapping Alice's; Alice on the slot Bob holds; a
	// start outside the opening hours; no token.
	r = gqltest.Do(t, f.srv.URL, "patient:"+bob, bookOp, bookVars(f, slotAt(10, 15), "b-1"))
	if strings.Join(r.Codes(), ",") != "SLOT_UNAVAILABLE" || r.Errors[0].Extensions["reason"] != "SLOT_TAKEN" {
		t.Fatalf("second booking: %+v", r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "patient:"+alice, bookOp, bookVars(f, slotAt(11, 0), "a-2"))
	if strings.Join(r.Codes(), ",") != "SLOT_UNAVAILABLE" {
		t.Fatalf("booking a held slot: %+v", r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "patient:"+bob, bookOp, bookVars(f, slotAt(7, 0), "b-2"))
	if strings.Join(r.Codes(), ",") != "INVALID_INPUT" || r.Errors[0].Extensions["reason"] != "OUTSIDE_OPENING_HOURS" {
		t.Fatalf("outside hours: %+v", r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "", bookOp, bookVars(f, slotAt(12, 0), "anon"))
	if strings.Join(r.Codes(), ",") != "UNAUTHENTICATED" {
		t.Fatalf("anonymous: %+v", r.Errors)
	}

	// Alice moves to 12:00 (the same appointment), then cancels.
	r = gqltest.Do(t, f.srv.URL, "patient:"+alice, rescheduleOp, map[string]any{"input": map[string]any{"appointmentId": a.ID,
		"startsAt": slotAt(12, 0).Format(time.RFC3339), "idempotencyKey": "a-move"}})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"previous":{"id":"`+a.ID+`","status":"CONFIRMED"}`) {
		t.Fatalf("move: %s %+v", r.Data, r.Errors)
	}

	// The practitioner's agenda, through a secretary.
	day := slotAt(0, 0).Format(time.DateOnly)
	r = gqltest.Do(t, f.srv.URL, "secretary:"+uuid.NewString()+":"+f.practitioner, myAgendaOp, map[string]any{
		"representations": []any{map[string]any{"__typename": "Practitioner", "id": f.practitioner}}, "from": day, "to": day})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"patientName":"Alice Martin"`) ||
		!strings.Contains(string(r.Data), `"note":"first visit"`) {
		t.Fatalf("agenda: %s %+v", r.Data, r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "practitioner:"+uuid.NewString(), myAgendaOp, map[string]any{
		"representations": []any{map[string]any{"__typename": "Practitioner", "id": f.practitioner}}, "from": day, "to": day})
	if strings.Join(r.Codes(), ",") != "FORBIDDEN" {
		t.Fatalf("someone else's agenda: %+v", r.Errors)
	}
	r = gqltest.Do(t, f.srv.URL, "practitioner:"+f.prSub, markNoShowOp, map[string]any{"appointmentId": a.ID})
	if strings.Join(r.Codes(), ",") != "INVALID_INPUT" {
		t.Fatalf("no-show before the start: %+v", r.Errors)
	}

	r = gqltest.Do(t, f.srv.URL, "patient:"+alice, cancelOp, map[string]any{"input": map[string]any{"appointmentId": a.ID, "reason": "better now"}})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"status":"CANCELLED"`) || !strings.Contains(string(r.Data), `"cancellationReason":"better now"`) {
		t.Fatalf("cancel: %s %+v", r.Data, r.Errors)
	}
}

// MyAppointments as the router sends it: Patient entities, then the
// appointments field, paginated.
func TestMyAppointments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.patient(t, "Alice")
	var want []string
	for i, h := range []int{9, 10, 11} {
		r := gqltest.Do(t, f.srv.URL, "patient:"+alice, bookOp, bookVars(f, slotAt(h, 0), "k"+string(rune('0'+i))))
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		var out struct {
			BookAppointment struct{ Appointment struct{ ID string } }
		}
		_ = json.Unmarshal(r.Data, &out)
		want = append(want, out.BookAppointment.Appointment.ID)
	}
	reps := []any{map[string]any{"__typename": "Patient", "id": authtest.Account(alice)}}
	var got []string
	var after any
	for page := 0; ; page++ {
		r := gqltest.Do(t, f.srv.URL, "patient:"+alice, myAppointmentsOp, map[string]any{"representations": reps, "upcoming": true, "first": 2, "after": after})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		var out struct {
			Entities []struct {
				Appointments struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct {
						Cursor string
						Node   struct {
							ID, Status      string
							Location        struct{ ID string }
							AppointmentType struct{ ID string }
						}
					}
				}
			} `json:"_entities"`
		}
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatal(err)
		}
		conn := out.Entities[0].Appointments
		for _, e := range conn.Edges {
			if e.Node.Status != "CONFIRMED" || e.Node.Location.ID == "" || e.Node.AppointmentType.ID != f.typeID {
				t.Fatalf("node %+v", e.Node)
			}
			got = append(got, e.Node.ID)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		if page > 3 || conn.PageInfo.EndCursor == nil {
			t.Fatalf("pagination does not end: %s", r.Data)
		}
		after = *conn.PageInfo.EndCursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("appointments %v, want %v", got, want)
	}
	// Nobody else reads them.
	r := gqltest.Do(t, f.srv.URL, "patient:"+uuid.NewString(), myAppointmentsOp, map[string]any{"representations": reps})
	if strings.Join(r.Codes(), ",") != "FORBIDDEN" {
		t.Fatalf("another patient: %+v", r.Errors)
	}
}

// The replicas are fed by the practitioner-events and patient-events
// consumers the subgraph runs as workers.
func TestReplicaConsumers(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.NewDatabase(t, "booking")
	if err := booking.EnsurePartitions(ctx, pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: countries.MustDefault(), Verifier: fakeVerifier{},
		Logger: quiet(), KafkaBrokers: brokers, TopicPrefix: prefix, HoldTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 3)
	workers := sg.Workers()
	if len(workers) != 3 {
		t.Fatalf("%d workers, want 3", len(workers))
	}
	for _, w := range workers {
		go func() { done <- w(wctx) }()
	}
	defer func() {
		stop()
		for range workers {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()

	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	docSub, typ, patSub := "doc-"+uuid.NewString(), uuid.NewString(), "pat-"+uuid.NewString()
	doc, pat := authtest.Account(docSub), authtest.Account(patSub)
	produce := func(topic, key string, ev events.Envelope) {
		b, _ := ev.Encode()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kafka.Topic(prefix, topic), Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(events.PractitionerEvents, doc, envelope(t, "/careslot/practitioner", "careslot.practitioner.PractitionerRegistered.v1", doc,
		practice(doc, typ, 1)))
	produce(events.PatientEvents, pat, envelope(t, "/careslot/patient", "careslot.patient.PatientRegistered.v1", pat,
		eventdata.Patient{ID: pat, Version: 1, FirstName: "Kafka", LastName: "Reader"}))

	srv := httptest.NewServer(sg.Handler())
	defer srv.Close()
	f := fixture{srv: srv, sg: sg, practitioner: doc, typeID: typ}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := gqltest.Do(t, srv.URL, "patient:"+patSub, bookOp, bookVars(f, slotAt(10, 0), "kafka"))
		if len(r.Errors) == 0 {
			break
		}
		if strings.Join(r.Codes(), ",") != "NOT_FOUND" || time.Now().After(deadline) {
			t.Fatalf("booking after the practitioner event: %+v", r.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	day := slotAt(0, 0).Format(time.DateOnly)
	for {
		r := gqltest.Do(t, srv.URL, "practitioner:"+docSub, myAgendaOp, map[string]any{
			"representations": []any{map[string]any{"__typename": "Practitioner", "id": doc}}, "from": day, "to": day})
		if strings.Contains(string(r.Data), `"patientName":"Kafka Reader"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the patient replica was not fed: %s %+v", r.Data, r.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

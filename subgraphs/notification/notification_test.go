package notification_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/careslot/careslot/subgraphs/notification"
	"github.com/careslot/careslot/subgraphs/notification/business"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// fakeVerifier accepts "role:subject[:practitioners]" tokens.
type fakeVerifier = authtest.Verifier

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func envelope(t *testing.T, source, typ, subject string, data any) events.Envelope {
	t.Helper()
	ev, err := events.New(source, typ, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

type fixture struct {
	practitioner, location, typeID string
}

func practiceEvent(t *testing.T) (fixture, events.Envelope) {
	f := fixture{practitioner: uuid.NewString(), location: uuid.NewString(), typeID: uuid.NewString()}
	return f, envelope(t, "/careslot/practitioner", "careslot.practitioner.PractitionerRegistered.v1", f.practitioner,
		eventdata.Practitioner{ID: f.practitioner, Version: 1, Country: "de", DisplayName: "Dr. Jonas Weber",
			Locations: []eventdata.Location{{ID: f.location, Name: "Praxis Weber", Line1: "Unter den Linden 1", PostalCode: "10117",
				City: "Berlin", Country: "de", TimeZone: "Europe/Berlin"}},
			AppointmentTypes: []eventdata.AppointmentType{{ID: f.typeID, Name: "Sprechstunde", DurationMinutes: 20}}})
}

func patientEvent(t *testing.T, id string) events.Envelope {
	return envelope(t, "/careslot/patient", "careslot.patient.PatientRegistered.v1", id, eventdata.Patient{ID: id, Version: 1,
		Email: "anna@example.de", FirstName: "Anna", LastName: "Schmidt", Phone: "+4915112345678", Locale: "de-DE", Country: "de",
		NotificationPreferences: eventdata.NotificationPreferences{Email: true, SMS: true}})
}

func bookedEvent(t *testing.T, f fixture, patientID string, start time.Time) events.Envelope {
	a := eventdata.Appointment{ID: uuid.NewString(), Version: 1, PractitionerID: f.practitioner, Country: "de", PatientID: patientID,
		AppointmentTypeID: f.typeID, LocationID: f.location, Status: eventdata.StatusConfirmed, StartsAt: start,
		EndsAt: start.Add(20 * time.Minute), BlockedFrom: start, BlockedUntil: start.Add(20 * time.Minute)}
	return envelope(t, "/careslot/booking", eventdata.AppointmentBooked, f.practitioner, a)
}

const myNotificationsOp = `query($reps: [_Any!]!, $first: Int, $after: String) { _entities(representations: $reps) {
	... on Patient { id notifications(first: $first, after: $after) {
		edges { cursor node { id kind channel status sentAt subject body appointmentId dueAt attempts } }
		pageInfo { hasNextPage endCursor } } } } }`

type connection struct {
	Edges []struct {
		Node struct {
			ID, Kind, Channel, Status string
			SentAt                    *time.Time
			Subject, Body             *string
		}
	}
	PageInfo struct {
		HasNextPage bool
		EndCursor   *string
	}
}

// Patient.notifications through the subgraph's handler: only the patient
// themself reads their messages, as sent.
func TestGraphQLNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.NewDatabase(t, "notification")
	sg, err := notification.New(ctx, notification.Deps{Pool: pool, Countries: countries.MustDefault(), Verifier: fakeVerifier{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f, pe := practiceEvent(t)
	if err := sg.Service.ApplyPractitionerEvent(ctx, pe); err != nil {
		t.Fatal(err)
	}
	annaSub := "anna-" + uuid.NewString()
	anna := authtest.Account(annaSub)
	if err := sg.Service.ApplyPatientEvent(ctx, patientEvent(t, anna)); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	if err := sg.Service.ApplyBookingEvent(ctx, bookedEvent(t, f, anna, start)); err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Service.SendDue(ctx); err != nil { // the log sender
		t.Fatal(err)
	}
	srv := httptest.NewServer(sg.Handler())
	defer srv.Close()

	reps := []any{map[string]any{"__typename": "Patient", "id": anna}}
	r := gqltest.Do(t, srv.URL, "patient:"+annaSub, myNotificationsOp, map[string]any{"reps": reps, "first": 10})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var ents []struct {
		ID            string
		Notifications connection
	}
	if err := json.Unmarshal(r.Field("_entities"), &ents); err != nil || len(ents) != 1 {
		t.Fatalf("entities = %s, %v", r.Field("_entities"), err)
	}
	conn := ents[0].Notifications
	// Two confirmations (email, SMS) sent; four reminders due.
	if len(conn.Edges) != 6 || conn.PageInfo.HasNextPage {
		t.Fatalf("notifications = %+v", conn)
	}
	wantWhen := business.FormatWhen("de-DE", start, mustZone("Europe/Berlin"))
	kinds := map[string]int{}
	for _, e := range conn.Edges {
		n := e.Node
		kinds[n.Kind+"/"+n.Channel+"/"+n.Status]++
		if n.Kind == "CONFIRMATION" {
			if n.SentAt == nil || n.Body == nil || !strings.Contains(*n.Body, wantWhen) {
				t.Errorf("confirmation = %+v", n)
			}
			if n.Channel == "EMAIL" && (n.Subject == nil || *n.Subject != "Termin bestätigt: Dr. Jonas Weber, "+wantWhen) {
				t.Errorf("subject = %v", n.Subject)
			}
			if n.Channel == "SMS" && n.Subject != nil {
				t.Errorf("an SMS has a subject: %v", *n.Subject)
			}
		}
	}
	want := map[string]int{"CONFIRMATION/EMAIL/SENT": 1, "CONFIRMATION/SMS/SENT": 1, "REMINDER/EMAIL/PENDING": 2, "REMINDER/SMS/PENDING": 2}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, kinds[k], v, kinds)
		}
	}

	// Pages.
	r = gqltest.Do(t, srv.URL, "patient:"+annaSub, myNotificationsOp, map[string]any{"reps": reps, "first": 4})
	_ = json.Unmarshal(r.Field("_entities"), &ents)
	if len(ents[0].Notifications.Edges) != 4 || !ents[0].Notifications.PageInfo.HasNextPage {
		t.Fatalf("page 1 = %+v", ents[0].Notifications)
	}
	r = gqltest.Do(t, srv.URL, "patient:"+annaSub, myNotificationsOp, map[string]any{"reps": reps, "first": 4, "after": *ents[0].Notifications.PageInfo.EndCursor})
	_ = json.Unmarshal(r.Field("_entities"), &ents)
	if len(ents[0].Notifications.Edges) != 2 || ents[0].Notifications.PageInfo.HasNextPage {
		t.Fatalf("page 2 = %+v", ents[0].Notifications)
	}

	// Nobody else reads them.
	if r := gqltest.Do(t, srv.URL, "patient:"+uuid.NewString(), myNotificationsOp, map[string]any{"reps": reps}); strings.Join(r.Codes(), ",") != "FORBIDDEN" {
		t.Fatalf("another patient: %+v", r.Errors)
	}
	if r := gqltest.Do(t, srv.URL, "practitioner:"+f.practitioner, myNotificationsOp, map[string]any{"reps": reps}); strings.Join(r.Codes(), ",") != "FORBIDDEN" {
		t.Fatalf("a practitioner: %+v", r.Errors)
	}
	if r := gqltest.Do(t, srv.URL, "", myNotificationsOp, map[string]any{"reps": reps}); strings.Join(r.Codes(), ",") != "UNAUTHENTICATED" {
		t.Fatalf("anonymous: %+v", r.Errors)
	}

	// The internal export: the caller's own data, with their token only.
	exp := httptest.NewServer(sg.ExportHandler())
	defer exp.Close()
	get := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, exp.URL+notification.ExportPath, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	code, body := get("patient:" + annaSub)
	msgs, _ := body["messages"].([]any)
	contact, _ := body["contact"].(map[string]any)
	if code != http.StatusOK || body["patientId"] != anna || len(msgs) != 6 || contact["email"] != "anna@example.de" {
		t.Fatalf("export = %d %v", code, body)
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous export: %d", code)
	}
	if code, _ := get("practitioner:" + f.practitioner); code != http.StatusForbidden {
		t.Fatalf("practitioner export: %d", code)
	}
	if code, _ := get("nonsense"); code != http.StatusUnauthorized {
		t.Fatalf("bad token export: %d", code)
	}
	if code, body := get("patient:" + uuid.NewString()); code != http.StatusOK || len(body["messages"].([]any)) != 0 || body["contact"] != nil {
		t.Fatalf("a stranger's export = %d %v", code, body)
	}
}

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// The workers consume the three topics and send: events in Kafka end as a
// sent confirmation, and an erasure on patient-events deletes it.
func TestWorkersConsumeAndSend(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.NewDatabase(t, "notification")
	sg, err := notification.New(ctx, notification.Deps{Pool: pool, Countries: countries.MustDefault(), Verifier: fakeVerifier{},
		Logger: quiet(), KafkaBrokers: brokers, TopicPrefix: prefix, SendInterval: 50 * time.Millisecond,
		Options: business.Options{RetryBase: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxAttempts: 100}})
	if err != nil {
		t.Fatal(err)
	}
	workers := sg.Workers()
	if len(workers) != 4 {
		t.Fatalf("%d workers, want the sender and 3 consumers", len(workers))
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, len(workers))
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
	produce := func(topic, key string, ev events.Envelope) {
		b, _ := ev.Encode()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kafka.Topic(prefix, topic), Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	f, pe := practiceEvent(t)
	annaSub := "anna-" + uuid.NewString()
	anna := authtest.Account(annaSub)
	booked := bookedEvent(t, f, anna, time.Now().Add(72*time.Hour))
	waitFor := func(what, q string, want int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var n int
			if err := pool.QueryRow(ctx, q, anna).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want %d", what, n, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The booking first (and redelivered): the patient is unknown yet, so
	// email, the default channel — a confirmation and two reminders — which
	// waits for the patient and practitioner replicas.
	produce(events.BookingEvents, f.practitioner, booked)
	produce(events.BookingEvents, f.practitioner, booked)
	waitFor("messages", `SELECT count(*) FROM messages WHERE patient_id = $1`, 3)
	produce(events.PatientEvents, anna, patientEvent(t, anna))
	produce(events.PractitionerEvents, f.practitioner, pe)
	waitFor("sent confirmations", `SELECT count(*) FROM messages WHERE patient_id = $1 AND kind = 'CONFIRMATION' AND status = 'SENT'
		AND channel = 'EMAIL' AND recipient = 'anna@example.de'`, 1)
	waitFor("messages", `SELECT count(*) FROM messages WHERE patient_id = $1`, 3)

	produce(events.PatientEvents, anna, envelope(t, "/careslot/patient", eventdata.PatientErased, anna, eventdata.Patient{ID: anna, Version: 2}))
	waitFor("messages after erasure", `SELECT count(*) FROM messages WHERE patient_id = $1`, 0)
}

package business_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// recorder is a sender that records what it sends and fails while fail says so.
type recorder struct {
	mu   sync.Mutex
	sent []sender.Message
	fail func(n int) bool // n: the call number, from 1
	n    int
}

func (r *recorder) Send(_ context.Context, m sender.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail != nil && r.fail(r.n) {
		return errors.New("provider unavailable")
	}
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) messages() []sender.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sender.Message(nil), r.sent...)
}

type env struct {
	svc   *business.Service
	st    *store.Store
	pool  *pgxpool.Pool
	clock *clock
	out   *recorder
}

// t0 is "now" in most tests: 1 March 2026, 10:00 UTC.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, tune func(*business.Options)) *env {
	t.Helper()
	pool, _ := testenv.NewDatabase(t, "notification")
	e := &env{pool: pool, st: store.New(pool), clock: &clock{t: t0}, out: &recorder{}}
	opts := business.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Sender: e.out, Now: e.clock.Now,
		RetryBase: time.Minute, RetryMax: 10 * time.Minute, MaxAttempts: 4}
	if tune != nil {
		tune(&opts)
	}
	e.svc = business.New(e.st, countries.MustDefault(), opts)
	return e
}

func envelope(t *testing.T, source, typ, subject string, data any) events.Envelope {
	t.Helper()
	ev, err := events.New(source, typ, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// practice is a practitioner with two locations: Paris, and Cayenne (French
// Guiana, UTC−3), both in the "fr" country.
type practice struct {
	id, paris, cayenne, typeID string
}

func newPractice(t *testing.T, e *env) practice {
	t.Helper()
	p := practice{id: uuid.NewString(), paris: uuid.NewString(), cayenne: uuid.NewString(), typeID: uuid.NewString()}
	data := eventdata.Practitioner{ID: p.id, Version: 1, Country: "fr", FirstName: "Claire", LastName: "Dubois",
		DisplayName: "Dr Claire Dubois",
		Locations: []eventdata.Location{
			{ID: p.paris, Name: "Cabinet Dubois", Line1: "12 rue de Rivoli", PostalCode: "75004", City: "Paris", Country: "fr", TimeZone: "Europe/Paris"},
			{ID: p.cayenne, Name: "Centre de santé", Line1: "3 avenue du Général de Gaulle", PostalCode: "97300", City: "Cayenne", Country: "fr", TimeZone: "America/Cayenne"},
		},
		AppointmentTypes: []eventdata.AppointmentType{{ID: p.typeID, Name: "Consultation", DurationMinutes: 30}},
	}
	if err := e.svc.ApplyPractitionerEvent(context.Background(),
		envelope(t, "/careslot/practitioner", "careslot.practitioner.PractitionerRegistered.v1", p.id, data)); err != nil {
		t.Fatal(err)
	}
	return p
}

// patient registers a patient replica.
func patient(t *testing.T, e *env, locale string, sms bool, tune func(*eventdata.Patient)) eventdata.Patient {
	t.Helper()
	p := eventdata.Patient{ID: uuid.NewString(), Version: 1, Email: "camille@example.fr", FirstName: "Camille", LastName: "Martin",
		Phone: "+33612345678", BirthDate: "1990-04-12", Locale: locale, Country: "fr",
		NotificationPreferences: eventdata.NotificationPreferences{Email: true, SMS: sms}, Relatives: []eventdata.Relative{}}
	if tune != nil {
		tune(&p)
	}
	applyPatient(t, e, "careslot.patient.PatientRegistered.v1", p)
	return p
}

func applyPatient(t *testing.T, e *env, typ string, p eventdata.Patient) {
	t.Helper()
	if err := e.svc.ApplyPatientEvent(context.Background(), envelope(t, "/careslot/patient", typ, p.ID, p)); err != nil {
		t.Fatal(err)
	}
}

// appointment is a confirmed appointment (version 1) of 30 minutes.
func appointment(pr practice, patientID, locationID string, start time.Time) eventdata.Appointment {
	return eventdata.Appointment{ID: uuid.NewString(), Version: 1, PractitionerID: pr.id, Country: "fr", PatientID: patientID,
		AppointmentTypeID: pr.typeID, LocationID: locationID, Status: eventdata.StatusConfirmed,
		StartsAt: start, EndsAt: start.Add(30 * time.Minute), BlockedFrom: start, BlockedUntil: start.Add(30 * time.Minute)}
}

func bookingEvent(t *testing.T, typ string, a eventdata.Appointment) events.Envelope {
	return envelope(t, "/careslot/booking", typ, a.ID, a)
}

func apply(t *testing.T, e *env, ev events.Envelope) {
	t.Helper()
	if err := e.svc.ApplyBookingEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func sendDue(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.svc.SendDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func messagesOf(t *testing.T, e *env, appointmentID string) []store.Message {
	t.Helper()
	m, err := e.st.MessagesOfAppointment(context.Background(), appointmentID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func count(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func asPatient(id string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: auth.RolePatient})
}

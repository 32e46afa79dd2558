package business_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// base is the tests' "now" when they start: Monday 3 June 2030, 07:00 in Paris.
var base = time.Date(2030, 6, 3, 7, 0, 0, 0, paris)

// tuesday returns Tuesday 4 June 2030 at hh:mm in Paris.
func tuesday(hh, mm int) time.Time { return time.Date(2030, 6, 4, hh, mm, 0, 0, paris) }

// clock runs from base at real speed, plus whatever a test advances it by.
type clock struct {
	mu     sync.Mutex
	start  time.Time
	offset time.Duration
}

func newClock() *clock { return &clock{start: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return base.Add(time.Since(c.start) + c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Appointment type ids of the fixture practice.
var (
	typeA       = uuid.NewString() // 30 min, the ordinary consultation
	typeB       = uuid.NewString() // 30 min, another type on the same step
	typeNoNew   = uuid.NewString() // not open to new patients
	typeOffline = uuid.NewString() // not bookable online
	typeNotice  = uuid.NewString() // needs 24 h notice
	typeNear    = uuid.NewString() // bookable at most 3 days ahead
	typeNowhere = uuid.NewString() // in no opening-hours rule
	typeBuffer  = uuid.NewString() // 20 min with 10 min buffers either side
)

type env struct {
	t     testing.TB
	svc   *business.Service
	pool  *pgxpool.Pool
	clock *clock
}

func newEnv(t testing.TB, opts business.Options) *env { return newEnvWith(t, opts, nil, 0) }

// newEnvWith is newEnv with the catalogue tuned by tune (when not nil) and,
// when maxConns > 0, a pool of at most maxConns connections (the server's
// connections are shared by every test on the machine: a test racing many
// requests queues them on a small pool).
func newEnvWith(t testing.TB, opts business.Options, tune func(*countries.Catalog), maxConns int) *env {
	t.Helper()
	pool, dsn := testenv.NewDatabase(t, "booking")
	if maxConns > 0 {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(maxConns))
		u.RawQuery = q.Encode()
		pool.Close()
		if pool, err = postgres.Connect(context.Background(), u.String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
	}
	cat := countries.MustDefault()
	if tune != nil {
		tune(cat)
	}
	st := store.New(pool)
	if err := st.EnsurePartitions(context.Background(), cat.Codes()); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	opts.Now = c.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &env{t: t, svc: business.New(st, cat, opts), pool: pool, clock: c}
}

// practice returns a snapshot of a practice in Paris open every day
// 08:00–18:00 on a 15-minute step, absent on Wednesday 5 June 10:00–12:00.
func practice(id string, version int64) eventdata.Practitioner {
	loc := uuid.NewSHA1(uuid.NameSpaceOID, []byte("loc"+id)).String()
	typ := func(id string, minutes int, mod func(*eventdata.AppointmentType)) eventdata.AppointmentType {
		t := eventdata.AppointmentType{ID: id, Name: "type", DurationMinutes: minutes, VisitMode: "IN_PERSON",
			NewPatientsAllowed: true, OnlineBookable: true, BookingHorizonDays: 90}
		if mod != nil {
			mod(&t)
		}
		return t
	}
	p := eventdata.Practitioner{
		ID: id, Version: version, Country: "fr", FirstName: "Claire", LastName: "Dubois", DisplayName: "Dr Claire Dubois",
		AcceptsNewPatients: true,
		Locations:          []eventdata.Location{{ID: loc, Name: "Cabinet", City: "Paris", Country: "fr", TimeZone: "Europe/Paris"}},
		AppointmentTypes: []eventdata.AppointmentType{
			typ(typeA, 30, nil),
			typ(typeB, 30, nil),
			typ(typeNoNew, 30, func(t *eventdata.AppointmentType) { t.NewPatientsAllowed = false }),
			typ(typeOffline, 30, func(t *eventdata.AppointmentType) { t.OnlineBookable = false }),
			typ(typeNotice, 30, func(t *eventdata.AppointmentType) { t.MinNoticeMinutes = 24 * 60 }),
			typ(typeNear, 30, func(t *eventdata.AppointmentType) { t.BookingHorizonDays = 3 }),
			typ(typeNowhere, 30, nil),
			typ(typeBuffer, 20, func(t *eventdata.AppointmentType) { t.BufferBeforeMinutes, t.BufferAfterMinutes = 10, 10 }),
		},
		Absences: []eventdata.Absence{{ID: uuid.NewString(),
			StartsAt: time.Date(2030, 6, 5, 10, 0, 0, 0, paris), EndsAt: time.Date(2030, 6, 5, 12, 0, 0, 0, paris)}},
	}
	for wd := 1; wd <= 7; wd++ {
		p.OpeningHours = append(p.OpeningHours, eventdata.OpeningHours{ID: uuid.NewString(), LocationID: loc, Weekday: wd,
			StartTime: "08:00", EndTime: "18:00", StepMinutes: 15,
			AppointmentTypeIDs: []string{typeA, typeB, typeNoNew, typeOffline, typeNotice, typeNear, typeBuffer}})
	}
	return p
}

// addPractitioner feeds a new practice into the replica, as the
// practitioner-events consumer would, and returns its id.
func (e *env) addPractitioner() string {
	e.t.Helper()
	id := uuid.NewString()
	e.applyPractitioner(practice(id, 1))
	return id
}

func (e *env) applyPractitioner(p eventdata.Practitioner) {
	e.t.Helper()
	ev, err := events.New("/careslot/practitioner", "careslot.practitioner.PractitionerProfileUpdated.v1", p.ID, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.ApplyPractitionerEvent(context.Background(), ev); err != nil {
		e.t.Fatal(err)
	}
}

// addPatient feeds a patient (with the given relatives) into the replica and
// returns its id.
func (e *env) addPatient(first string, relatives ...eventdata.Relative) string {
	e.t.Helper()
	id := uuid.NewString()
	p := eventdata.Patient{ID: id, Version: 1, FirstName: first, LastName: "Martin", Phone: "+33612345678", Country: "fr",
		Relatives: relatives}
	ev, err := events.New("/careslot/patient", "careslot.patient.PatientRegistered.v1", id, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.ApplyPatientEvent(context.Background(), ev); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func asPatient(id string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: auth.RolePatient})
}

func asPractitioner(id string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: id, Account: id, Role: auth.RolePractitioner})
}

func asSecretary(practitioners ...string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Subject: uuid.NewString(), Role: auth.RoleSecretary,
		Practitioners: practitioners})
}

func (e *env) book(patient, practitioner, typ string, start time.Time) (store.Appointment, error) {
	return e.svc.Book(asPatient(patient), business.BookInput{PractitionerID: practitioner, AppointmentTypeID: typ,
		StartsAt: start, IdempotencyKey: uuid.NewString()})
}

func (e *env) mustBook(patient, practitioner, typ string, start time.Time) store.Appointment {
	e.t.Helper()
	a, err := e.book(patient, practitioner, typ, start)
	if err != nil {
		e.t.Fatalf("book %s at %s: %v", typ, start, err)
	}
	return a
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// events counts the outbox events of a type about an appointment (any when id is "").
func (e *env) events(eventType, id string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM outbox WHERE topic = 'booking-events' AND type = $1
		AND ($2 = '' OR convert_from(payload, 'UTF8')::jsonb->>'subject' = $2)`, eventType, id)
}

// checkInvariants verifies by SQL, not through the service, that no two
// occupying rows of a practitioner overlap and that no person has two
// overlapping confirmed appointments.
func (e *env) checkInvariants() {
	e.t.Helper()
	if n := e.count(`SELECT count(*) FROM appointments x JOIN appointments y
		ON x.practitioner_id = y.practitioner_id AND x.id < y.id AND x.blocked && y.blocked
		WHERE x.status IN ('HELD', 'CONFIRMED') AND y.status IN ('HELD', 'CONFIRMED')`); n != 0 {
		e.t.Fatalf("%d pairs of overlapping occupying rows of one practitioner", n)
	}
	if n := e.count(`SELECT count(*) FROM appointments x JOIN appointments y
		ON x.person_id = y.person_id AND x.id < y.id AND tstzrange(x.starts_at, x.ends_at) && tstzrange(y.starts_at, y.ends_at)
		WHERE x.status = 'CONFIRMED' AND y.status = 'CONFIRMED'`); n != 0 {
		e.t.Fatalf("%d pairs of overlapping confirmed appointments of one person", n)
	}
}

func wantCode(t testing.TB, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func wantReason(t testing.TB, err error, code apperr.Code, reason string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Reason != reason {
		t.Fatalf("want %s (%s), got %v (reason %q)", code, reason, err, reasonOf(err))
	}
}

func reasonOf(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

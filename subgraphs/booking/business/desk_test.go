package business_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// staffOf is a secretary (with an account of their own) acting for practitioners.
func staffOf(practitioners ...string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.NewPrincipal("https://id.example", "sec-"+uuid.NewString(),
		auth.RoleSecretary, practitioners))
}

// addDeskPatient feeds a practice's desk patient into the replica, as the
// patient-events consumer would, and returns its id.
func (e *env) addDeskPatient(practitioner, first string) string {
	e.t.Helper()
	d := eventdata.DeskPatient{ID: uuid.NewString(), Version: 1, PractitionerID: practitioner, FirstName: first, LastName: "Roux",
		BirthDate: "1975-05-06", Phone: "+33611223344"}
	e.applyPatientEvent(eventdata.DeskPatientRecorded, d.ID, d)
	return d.ID
}

func (e *env) applyPatientEvent(eventType, subject string, data any) {
	e.t.Helper()
	ev, err := events.New("/careslot/patient", eventType, subject, data)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.ApplyPatientEvent(context.Background(), ev); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) bookAtDesk(ctx context.Context, practitioner, desk, typ string, start time.Time, key string) (store.Appointment, error) {
	return e.svc.BookAtDesk(ctx, business.BookAtDeskInput{PractitionerID: practitioner, AppointmentTypeID: typ,
		StartsAt: start, DeskPatientID: desk, IdempotencyKey: key})
}

// TestDeskBooking: the practice books for its desk patient with the same
// constraints and idempotency as online, but not the online-only rules,
// and counts it against no limit.
func TestDeskBooking(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	lea := e.addDeskPatient(doc, "Léa")
	desk := staffOf(doc)

	a, err := e.bookAtDesk(desk, doc, lea, typeA, tuesday(10, 0), "k1")
	if err != nil {
		t.Fatal(err)
	}
	if a.PatientID != lea || a.PersonID != lea || !a.DeskPatient || a.PatientName != "Léa Roux" || a.PatientPhone != "+33611223344" ||
		a.Status != store.StatusConfirmed {
		t.Fatalf("appointment %+v", a)
	}
	// Idempotent: the same key answers the first booking; another request under it is refused.
	again, err := e.bookAtDesk(desk, doc, lea, typeA, tuesday(10, 0), "k1")
	if err != nil || again.ID != a.ID {
		t.Fatalf("retry: %s, %v", again.ID, err)
	}
	_, err = e.bookAtDesk(desk, doc, lea, typeA, tuesday(11, 0), "k1")
	wantCode(t, err, apperr.InvalidInput)
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, lea); n != 1 {
		t.Fatalf("%d appointments after the retries", n)
	}
	var ev eventdata.Appointment
	if err := e.pool.QueryRow(context.Background(), `SELECT convert_from(payload, 'UTF8')::jsonb->'data' FROM outbox
		WHERE type = $1 AND convert_from(payload, 'UTF8')::jsonb->>'subject' = $2`, eventdata.AppointmentBooked, a.ID).Scan(&ev); err != nil {
		t.Fatal(err)
	}
	if !ev.DeskPatient || ev.PatientID != lea {
		t.Fatalf("AppointmentBooked %+v", ev)
	}

	// The same constraints: a taken slot, the person's own overlap, hours and notice.
	marc := e.addDeskPatient(doc, "Marc")
	_, err = e.bookAtDesk(desk, doc, marc, typeB, tuesday(10, 15), "k2")
	wantReason(t, err, apperr.SlotUnavailable, "SLOT_TAKEN")
	other := e.addPractitioner()
	leaThere := staffOf(doc, other)
	_, err = e.bookAtDesk(leaThere, other, e.addDeskPatient(other, "Léa"), typeA, tuesday(10, 0), "k3")
	if err != nil {
		t.Fatalf("another practice's desk patient at the same time: %v", err)
	}
	_, err = e.bookAtDesk(desk, doc, marc, typeA, tuesday(19, 0), "k4")
	wantReason(t, err, apperr.InvalidInput, "OUTSIDE_OPENING_HOURS")
	_, err = e.bookAtDesk(desk, doc, marc, typeNotice, base.Add(2*time.Hour).Truncate(15*time.Minute), "k5")
	wantReason(t, err, apperr.InvalidInput, "BEFORE_MINIMUM_NOTICE")

	// Not the online-only rules: a type not bookable online or not open to
	// new patients is booked at the desk, though a patient is refused online.
	pat := e.addPatient("Camille")
	_, err = e.book(pat, doc, typeOffline, tuesday(14, 0))
	wantReason(t, err, apperr.InvalidInput, "NOT_BOOKABLE_ONLINE")
	if _, err := e.bookAtDesk(desk, doc, marc, typeOffline, tuesday(14, 0), "k6"); err != nil {
		t.Fatalf("a type not bookable online at the desk: %v", err)
	}
	if _, err := e.bookAtDesk(desk, doc, marc, typeNoNew, tuesday(15, 0), "k7"); err != nil {
		t.Fatalf("a type not open to new patients at the desk: %v", err)
	}
	// Past the country's bookings per day (4 in France): the desk counts nothing.
	for i := range 5 {
		if _, err := e.bookAtDesk(desk, doc, marc, typeA, tuesday(13, 0).AddDate(0, 0, 1).Add(time.Duration(i)*30*time.Minute), uuid.NewString()); err != nil {
			t.Fatalf("desk booking %d of the day: %v", i+1, err)
		}
	}
	if n := e.count(`SELECT count(*) FROM booking_counts WHERE patient_id = ANY($1::uuid[])`, []string{lea, marc}); n != 0 {
		t.Fatalf("%d day counts of desk bookings", n)
	}

	// The staff move and cancel it: no cut-off, the desk's rules, idempotent moves.
	moved, err := e.svc.Reschedule(desk, business.RescheduleInput{AppointmentID: a.ID, StartsAt: tuesday(9, 0), IdempotencyKey: "m1"})
	if err != nil || !moved.Appointment.StartsAt.Equal(tuesday(9, 0)) || moved.Appointment.ID != a.ID {
		t.Fatalf("staff move: %+v, %v", moved.Appointment, err)
	}
	if again, err := e.svc.Reschedule(desk, business.RescheduleInput{AppointmentID: a.ID, StartsAt: tuesday(9, 0), IdempotencyKey: "m1"}); err != nil ||
		again.Appointment.Version != moved.Appointment.Version {
		t.Fatalf("staff move retried: %+v, %v", again.Appointment, err)
	}
	if _, err := e.svc.Reschedule(desk, business.RescheduleInput{AppointmentID: a.ID, StartsAt: tuesday(14, 30), IdempotencyKey: "m2"}); err != nil {
		t.Fatalf("staff move: %v", err)
	}
	// Another practice's staff find nothing to move.
	_, err = e.svc.Reschedule(staffOf(uuid.NewString()), business.RescheduleInput{AppointmentID: a.ID, StartsAt: tuesday(16, 0), IdempotencyKey: "m3"})
	wantCode(t, err, apperr.NotFound)
	c, err := e.svc.Cancel(desk, business.CancelInput{AppointmentID: a.ID, Reason: "the caller phoned"})
	if err != nil || c.Status != store.StatusCancelled || c.CancelledBy != "PRACTITIONER" {
		t.Fatalf("staff cancel: %+v, %v", c, err)
	}
	if e.events(eventdata.AppointmentRescheduled, a.ID) != 2 || e.events(eventdata.AppointmentCancelled, a.ID) != 1 {
		t.Fatal("the moves and the cancellation are not in the outbox")
	}
	e.checkInvariants()
}

// TestDeskBookingRace: ten desk bookings (ten desk patients) and ten online
// bookings race for one slot: exactly one books it.
func TestDeskBookingRace(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc := e.addPractitioner()
	const n = 20
	desks, patients := make([]string, n), make([]string, n)
	for i := range n {
		desks[i], patients[i] = e.addDeskPatient(doc, "Caller"), e.addPatient("Online")
	}
	got := raceOutcomes(n, func(i int) error {
		var err error
		if i%2 == 0 {
			_, err = e.bookAtDesk(staffOf(doc), doc, desks[i], typeA, tuesday(11, 0), uuid.NewString())
		} else {
			_, err = e.book(patients[i], doc, typeA, tuesday(11, 0))
		}
		return err
	})
	if got[""] != 1 || got[apperr.SlotUnavailable] != n-1 {
		t.Fatalf("outcomes %v", got)
	}
	e.checkInvariants()
}

// TestDeskPatientOfItsPracticeOnly: another practice cannot book for a desk
// patient (NOT_FOUND, as for one that does not exist), nor book at a
// practice it does not act for (FORBIDDEN), nor can a patient book at the desk.
func TestDeskPatientOfItsPracticeOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc, other := e.addPractitioner(), e.addPractitioner()
	lea := e.addDeskPatient(doc, "Léa")

	_, err := e.bookAtDesk(staffOf(other), other, lea, typeA, tuesday(10, 0), "k")
	wantCode(t, err, apperr.NotFound)
	_, err = e.bookAtDesk(staffOf(other), other, uuid.NewString(), typeA, tuesday(10, 0), "k")
	wantCode(t, err, apperr.NotFound)
	_, err = e.bookAtDesk(staffOf(other), doc, lea, typeA, tuesday(10, 0), "k")
	wantCode(t, err, apperr.Forbidden)
	_, err = e.bookAtDesk(asPatient(e.addPatient("Camille")), doc, lea, typeA, tuesday(10, 0), "k")
	wantCode(t, err, apperr.Forbidden)
	if n := e.count(`SELECT count(*) FROM appointments`); n != 0 {
		t.Fatalf("%d appointments", n)
	}
}

// TestDeskPatientClaimed: a claim moves the desk record's appointments to
// the account (its appointments list them), except one overlapping an
// appointment the account has, which stays on the record; a desk booking
// for the claimed record is the account's. Replays change nothing.
func TestDeskPatientClaimed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	desk := staffOf(doc)
	lea := e.addDeskPatient(doc, "Léa")
	first, err := e.bookAtDesk(desk, doc, lea, typeA, tuesday(10, 0), "a")
	if err != nil {
		t.Fatal(err)
	}
	clash, err := e.bookAtDesk(desk, doc, lea, typeA, tuesday(12, 0), "b")
	if err != nil {
		t.Fatal(err)
	}
	// The person registered meanwhile and booked 12:00 elsewhere online.
	account := e.addPatient("Léa")
	e.mustBook(account, e.addPractitioner(), typeA, tuesday(12, 0))

	claim := eventdata.DeskPatientClaim{DeskPatientID: lea, Version: 2, AccountID: account, PractitionerID: doc}
	e.applyPatientEvent(eventdata.DeskPatientClaimed, lea, claim)
	e.applyPatientEvent(eventdata.DeskPatientClaimed, lea, claim) // a replay
	rows := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND patient_id = $2 AND person_id = $2`, first.ID, account)
	kept := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND patient_id = $2 AND status = 'CONFIRMED'`, clash.ID, lea)
	if rows != 1 || kept != 1 {
		t.Fatalf("moved %d (want 1), kept on the record %d (want 1)", rows, kept)
	}
	page, err := e.svc.PatientAppointments(asPatient(account), account, business.PageInput{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, a := range page.Appointments {
		ids[a.ID] = true
		if a.ID == first.ID && (a.DeskPatient || a.PatientName != "Léa Martin") {
			t.Fatalf("moved appointment %+v", a)
		}
	}
	if !ids[first.ID] || ids[clash.ID] {
		t.Fatalf("the account's appointments %v", ids)
	}
	// A desk booking for the claimed record is the account's.
	later, err := e.bookAtDesk(desk, doc, lea, typeA, tuesday(15, 0), "c")
	if err != nil || later.PatientID != account || later.DeskPatient {
		t.Fatalf("after the claim: %+v, %v", later, err)
	}
	e.checkInvariants()
}

// TestDeskBookingForAKnownAccount: the desk books for a patient with an
// account whom the practice knows from its agenda (counted against no
// limit); an account it never saw, a desk patient's id given as an account's,
// or both ids at once are refused.
func TestDeskBookingForAKnownAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	desk := staffOf(doc)
	known, stranger := e.addPatient("Camille"), e.addPatient("Inconnu")
	e.mustBook(known, doc, typeA, tuesday(9, 0))
	book := func(in business.BookAtDeskInput) (store.Appointment, error) {
		in.PractitionerID, in.AppointmentTypeID, in.IdempotencyKey = doc, typeOffline, uuid.NewString()
		return e.svc.BookAtDesk(desk, in)
	}
	a, err := book(business.BookAtDeskInput{PatientID: known, StartsAt: tuesday(14, 0)})
	if err != nil || a.PatientID != known || a.DeskPatient || a.PatientName != "Camille Martin" {
		t.Fatalf("for a known account: %+v, %v", a, err)
	}
	if n := e.count(`SELECT coalesce(sum(booked), 0) FROM booking_counts WHERE patient_id = $1`, known); n != 1 {
		t.Fatalf("%d counted, want the online booking's 1", n)
	}
	_, err = book(business.BookAtDeskInput{PatientID: stranger, StartsAt: tuesday(15, 0)})
	wantCode(t, err, apperr.NotFound)
	lea := e.addDeskPatient(doc, "Léa")
	if _, err := book(business.BookAtDeskInput{DeskPatientID: lea, StartsAt: tuesday(16, 0)}); err != nil {
		t.Fatal(err)
	}
	_, err = book(business.BookAtDeskInput{PatientID: lea, StartsAt: tuesday(16, 30)})
	wantCode(t, err, apperr.NotFound)
	_, err = book(business.BookAtDeskInput{PatientID: known, DeskPatientID: lea, StartsAt: tuesday(16, 30)})
	wantCode(t, err, apperr.InvalidInput)
	_, err = book(business.BookAtDeskInput{StartsAt: tuesday(16, 30)})
	wantCode(t, err, apperr.InvalidInput)
}

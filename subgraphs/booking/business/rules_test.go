package business_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// TestOnePersonAtATimeAcrossCountries: one patient fires 50 bookings for the
// same instant at once, at 50 practices in two countries (two partitions of
// appointments). Exactly one is booked; every other is SLOT_UNAVAILABLE with
// PATIENT_OVERLAP, and the database holds one confirmed appointment.
func TestOnePersonAtATimeAcrossCountries(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	const n = 50
	docs := make([]string, n)
	for i := range docs {
		p := practice(uuid.NewString(), 1)
		if i%2 == 1 {
			p.Country = "de"
			for j := range p.Locations {
				p.Locations[j].Country, p.Locations[j].TimeZone = "de", "Europe/Berlin"
			}
		}
		e.applyPractitioner(p)
		docs[i] = p.ID
	}
	pat := e.addPatient("Camille")
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		booked, overlaps int
		others           []error
	)
	start := make(chan struct{})
	for _, doc := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.book(pat, doc, typeA, tuesday(10, 0))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				booked++
			case apperr.CodeOf(err) == apperr.SlotUnavailable && reasonOf(err) == business.ReasonPatientOverlap:
				overlaps++
			default:
				others = append(others, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if booked != 1 || overlaps != n-1 || len(others) > 0 {
		t.Fatalf("booked %d, PATIENT_OVERLAP %d, other outcomes %v", booked, overlaps, others)
	}
	if c := e.count(`SELECT count(*) FROM appointments WHERE person_id = $1 AND status = 'CONFIRMED'`, pat); c != 1 {
		t.Fatalf("%d confirmed appointments of the person", c)
	}
	// Half an hour later is free in either country.
	e.mustBook(pat, docs[1], typeA, tuesday(10, 30))
	e.checkInvariants()
}

// raceOutcomes runs fn n times at once and counts the outcomes by code ("" for success).
func raceOutcomes(n int, fn func(i int) error) map[apperr.Code]int {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out = map[apperr.Code]int{}
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			code := apperr.Code("")
			if err != nil {
				code = apperr.CodeOf(err)
			}
			mu.Lock()
			out[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// TestLiveHoldsLimitUnderRace: one patient places 50 holds on 50 free slots
// at once; exactly the country's limit (2 in France) succeed, the others are
// HOLD_LIMIT_REACHED, and the database holds two live holds.
func TestLiveHoldsLimitUnderRace(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc := e.addPractitioner()
	pat := e.addPatient("Hoarder")
	got := raceOutcomes(50, func(i int) error {
		_, err := e.svc.Hold(asPatient(pat), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA,
			StartsAt: tuesday(13, 0).AddDate(0, 0, i%5).Add(time.Duration(i/5) * 30 * time.Minute)})
		return err
	})
	if got[""] != 2 || got[apperr.HoldLimitReached] != 48 {
		t.Fatalf("outcomes %v", got)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'HELD'`, pat); n != 2 {
		t.Fatalf("%d live holds", n)
	}
	e.checkInvariants()
}

// TestBookingsPerDayLimitUnderRace: one patient books 50 distinct slots of
// one practice at once; exactly the country's limit (4 in France) are
// booked, the others are BOOKING_LIMIT_REACHED and leave nothing behind. The
// limit is per practice and per day: another practice, or the next day, is
// open again, and a booking through a hold counts too.
func TestBookingsPerDayLimitUnderRace(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc, other := e.addPractitioner(), e.addPractitioner()
	pat := e.addPatient("Hoarder")
	got := raceOutcomes(50, func(i int) error {
		_, err := e.book(pat, doc, typeA, tuesday(13, 0).AddDate(0, 0, i%5).Add(time.Duration(i/5)*30*time.Minute))
		return err
	})
	if got[""] != 4 || got[apperr.BookingLimitReached] != 46 {
		t.Fatalf("outcomes %v", got)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, pat); n != 4 {
		t.Fatalf("%d appointments", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = 'careslot.booking.AppointmentBooked.v1'`); n != 4 {
		t.Fatalf("%d AppointmentBooked events", n)
	}
	e.mustBook(pat, other, typeA, tuesday(8, 0))
	h, err := e.svc.Hold(asPatient(pat), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(8, 30)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(8, 30), IdempotencyKey: "held", HoldID: h.ID})
	wantCode(t, err, apperr.BookingLimitReached)
	e.clock.Advance(24 * time.Hour)
	e.mustBook(pat, doc, typeA, tuesday(9, 0).AddDate(0, 0, 2))
	e.checkInvariants()
}

// TestErasureFreesSlotsAndKeepsOnlyRecords: a patient with a past
// appointment, future ones for themselves and for two relatives (one erased
// with the account, one another guardian keeps), a live hold, notes and
// idempotency keys erases their account. Checked by SQL: the future
// appointments are cancelled (PATIENT_ERASED, with their events), the hold
// ended, every row the account booked kept under new ids without notes or
// keys, nothing of the account's left in any table, the kept relative still
// named; another patient books a freed slot at once. A replay changes nothing.
func TestErasureFreesSlotsAndKeepsOnlyRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	gone := eventdata.Relative{ID: uuid.NewString(), FirstName: "Léo", LastName: "Martin"}
	kept := eventdata.Relative{ID: uuid.NewString(), FirstName: "Zoé", LastName: "Martin"}
	pat := e.addPatient("Erin", gone, kept)
	past := e.mustBook(pat, doc, typeA, time.Date(2030, 6, 3, 8, 0, 0, 0, paris))
	book := func(start time.Time, relative, note string) store.Appointment {
		a, err := e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
			StartsAt: start, IdempotencyKey: uuid.NewString(), RelativeID: relative, Note: note})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	e.clock.Advance(2 * time.Hour) // the 08:00 appointment is over
	future := []store.Appointment{book(tuesday(10, 0), "", "private"), book(tuesday(14, 0).AddDate(0, 0, 1), gone.ID, ""),
		book(tuesday(10, 0).AddDate(0, 0, 2), kept.ID, "")}
	hold, err := e.svc.Hold(asPatient(pat), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(15, 0)})
	if err != nil {
		t.Fatal(err)
	}

	erase := func() {
		ev, _ := events.New("/careslot/patient", eventdata.PatientErased, pat,
			eventdata.Patient{ID: pat, Version: 2, ErasedRelativeIDs: []string{gone.ID}})
		if err := e.svc.ApplyPatientEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	erase()
	ids := []string{past.ID, future[0].ID, future[1].ID, future[2].ID, hold.ID}
	for _, c := range []struct {
		q    string
		args []any
	}{
		{`SELECT count(*) FROM appointments WHERE patient_id = $1 OR person_id = $1 OR relative_id = $1 OR person_id = $2 OR relative_id = $2`, []any{pat, gone.ID}},
		{`SELECT count(*) FROM person_appointments WHERE person_id = $1 OR person_id = $2`, []any{pat, gone.ID}},
		{`SELECT count(*) FROM idempotency_keys WHERE subject = $1`, []any{pat}},
		{`SELECT count(*) FROM booking_counts WHERE patient_id = $1`, []any{pat}},
		{`SELECT count(*) FROM patients WHERE id = $1 AND (first_name <> '' OR last_name <> '' OR phone IS NOT NULL OR relatives <> '[]' OR erased_at IS NULL)`, []any{pat}},
		{`SELECT count(*) FROM appointments WHERE (note IS NOT NULL OR idempotency_key IS NOT NULL) AND id = ANY($1::uuid[])`, []any{ids}},
	} {
		if n := e.count(c.q, c.args...); n != 0 {
			t.Fatalf("%d rows left: %s", n, c.q)
		}
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = ANY($1::uuid[])`, ids); n != len(ids) {
		t.Fatalf("%d of the account's %d rows kept for the practice's records", n, len(ids))
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'CONFIRMED'`, past.ID); n != 1 {
		t.Fatal("the past appointment is not kept as it was")
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND relative_id = $2 AND person_id = $2`, future[2].ID, kept.ID); n != 1 {
		t.Fatal("the relative another guardian keeps is no longer named on their appointment")
	}
	for _, a := range future {
		if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'CANCELLED' AND cancellation_reason = 'PATIENT_ERASED'`, a.ID); n != 1 ||
			e.events(eventdata.AppointmentCancelled, a.ID) != 1 {
			t.Fatalf("future appointment %s not cancelled for the erasure", a.ID)
		}
	}
	if e.events(eventdata.HoldReleased, hold.ID) != 1 || e.events(eventdata.AppointmentAnonymised, "") != len(ids) {
		t.Fatal("want HoldReleased for the hold and one AppointmentAnonymised per row")
	}
	if e.count(`SELECT count(*) FROM outbox WHERE type = $1 AND convert_from(payload, 'UTF8')::jsonb->'data'->>'erasedPersonId' = $2`,
		eventdata.AppointmentAnonymised, pat) != 3 {
		t.Fatal("want the erased person named on the anonymised rows they attended (for the read models to forget them)")
	}
	// The slots are free for anyone.
	e.mustBook(e.addPatient("Next"), doc, typeA, tuesday(10, 0))
	e.mustBook(e.addPatient("Other"), doc, typeA, tuesday(15, 0))

	before := e.count(`SELECT count(*) FROM outbox`)
	erase()
	if after := e.count(`SELECT count(*) FROM outbox`); after != before {
		t.Fatalf("a replayed erasure emitted %d events", after-before)
	}
	e.checkInvariants()
}

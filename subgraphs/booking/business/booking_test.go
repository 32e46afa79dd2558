package business_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

func TestBookReadsBackAndEmits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	a, err := e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(10, 0), IdempotencyKey: "k1", Note: "  back pain  "})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "CONFIRMED" || !a.StartsAt.Equal(tuesday(10, 0)) || !a.EndsAt.Equal(tuesday(10, 30)) ||
		a.PatientName != "Camille Martin" || a.PatientPhone != "+33612345678" || a.Note != "back pain" ||
		a.LocationID == "" || a.Country != "fr" {
		t.Fatalf("unexpected appointment %+v", a)
	}
	if n := e.events(eventdata.AppointmentBooked, a.ID); n != 1 {
		t.Fatalf("want one AppointmentBooked, got %d", n)
	}
	if n := e.count(`SELECT count(*) FROM appointments_fr WHERE id = $1`, a.ID); n != 1 {
		t.Fatalf("row not in the fr partition")
	}

	agenda, err := e.svc.Agenda(asSecretary(doc), doc, tuesday(0, 0), tuesday(0, 0))
	if err != nil || len(agenda) != 1 || agenda[0].ID != a.ID || agenda[0].PatientName != "Camille Martin" {
		t.Fatalf("agenda = %+v, %v", agenda, err)
	}
	_, err = e.svc.Agenda(asPractitioner(uuid.NewString()), doc, tuesday(0, 0), tuesday(0, 0))
	wantCode(t, err, apperr.Forbidden)
	_, err = e.svc.Agenda(asPatient(pat), doc, tuesday(0, 0), tuesday(0, 0))
	wantCode(t, err, apperr.Forbidden)

	// Seen by the patient and the practitioner; nobody else.
	if _, err := e.svc.Appointment(asPatient(pat), a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Appointment(asPractitioner(doc), a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Appointment(asPatient(uuid.NewString()), a.ID)
	wantCode(t, err, apperr.NotFound)
}

func TestUnknownPractitionerOrType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	other := e.addPractitioner()
	pat := e.addPatient("Camille")
	_, err := e.book(pat, uuid.NewString(), typeA, tuesday(10, 0))
	wantCode(t, err, apperr.NotFound)
	_, err = e.book(pat, doc, uuid.NewString(), tuesday(10, 0))
	wantCode(t, err, apperr.NotFound)
	// A type of another practice is not one of this practitioner's.
	p := practice(other, 2)
	p.AppointmentTypes[0].ID = uuid.NewString()
	e.applyPractitioner(p)
	_, err = e.book(pat, doc, p.AppointmentTypes[0].ID, tuesday(10, 0))
	wantCode(t, err, apperr.NotFound)
	_, err = e.book(pat, "not-a-uuid", typeA, tuesday(10, 0))
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.Book(asPractitioner(doc), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(10, 0), IdempotencyKey: "k"})
	wantCode(t, err, apperr.Forbidden)
}

// Each reason the decision function refuses a start for maps to
// INVALID_INPUT with that reason; a taken slot to SLOT_UNAVAILABLE.
func TestRefusalReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	for _, c := range []struct {
		name  string
		typ   string
		start time.Time
		want  slots.Reason
	}{
		{"outside opening hours", typeA, tuesday(7, 0), slots.ReasonOutsideOpeningHours},
		{"ends after closing", typeA, tuesday(17, 45), slots.ReasonOutsideOpeningHours},
		{"in an absence", typeA, time.Date(2030, 6, 5, 10, 30, 0, 0, paris), slots.ReasonInAbsence},
		{"minimum notice", typeNotice, time.Date(2030, 6, 3, 10, 0, 0, 0, paris), slots.ReasonTooSoon},
		{"beyond the horizon", typeNear, tuesday(10, 0).AddDate(0, 0, 5), slots.ReasonBeyondHorizon},
		{"not on the step", typeA, tuesday(10, 5), slots.ReasonWrongStep},
		{"not on a tick", typeA, tuesday(10, 2), slots.ReasonNotOnTick},
		{"type not allowed", typeNowhere, tuesday(10, 0), slots.ReasonTypeNotAllowed},
		{"not bookable online", typeOffline, tuesday(10, 0), slots.ReasonNotOnline},
		{"new patients not allowed", typeNoNew, tuesday(10, 0), slots.ReasonNewPatient},
		{"in the past", typeA, base.Add(-time.Hour), slots.ReasonInPast},
	} {
		_, err := e.book(pat, doc, c.typ, c.start)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Reason != string(c.want) {
			t.Errorf("%s: want INVALID_INPUT (%s), got %v (reason %q)", c.name, c.want, err, reasonOf(err))
		}
	}
	if n := e.count(`SELECT count(*) FROM appointments`); n != 0 {
		t.Fatalf("refusals wrote %d rows", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 0 {
		t.Fatalf("refusals kept %d idempotency keys", n)
	}

	// A patient seen before (an earlier confirmed appointment) is no longer new.
	e.mustBook(pat, doc, typeA, tuesday(9, 0))
	if _, err := e.book(pat, doc, typeNoNew, tuesday(11, 0)); err != nil {
		t.Fatalf("returning patient: %v", err)
	}
	// … but only for starts after that first appointment.
	_, err := e.book(pat, doc, typeNoNew, tuesday(8, 0))
	wantReason(t, err, apperr.InvalidInput, string(slots.ReasonNewPatient))

	_, err = e.book(e.addPatient("Other"), doc, typeB, tuesday(9, 15))
	wantReason(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken))
}

// Buffers occupy the agenda too: a 20-minute type with 10-minute buffers at
// 10:15 blocks 10:05–10:45.
func TestBuffersBlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	a := e.mustBook(e.addPatient("A"), doc, typeBuffer, tuesday(10, 15))
	if !a.BlockedFrom.Equal(tuesday(10, 5)) || !a.BlockedUntil.Equal(tuesday(10, 45)) {
		t.Fatalf("blocked %s–%s", a.BlockedFrom, a.BlockedUntil)
	}
	_, err := e.book(e.addPatient("B"), doc, typeA, tuesday(9, 45))
	wantReason(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken))
	e.mustBook(e.addPatient("C"), doc, typeA, tuesday(10, 45))
	e.mustBook(e.addPatient("D"), doc, typeA, tuesday(9, 30))
	e.checkInvariants()
}

// race runs n bookings released at once by a start barrier and returns how
// many succeeded; anything but SLOT_UNAVAILABLE fails the test.
func race(t *testing.T, n int, book func(i int) error) int {
	t.Helper()
	var (
		ok    atomic.Int32
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			err := book(i)
			switch apperr.CodeOf(err) {
			case apperr.Internal:
				if err == nil {
					ok.Add(1)
					return
				}
				errs <- err
			case apperr.SlotUnavailable:
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	return int(ok.Load())
}

func TestFiftyOnOneSlot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	patients := make([]string, 50)
	for i := range patients {
		patients[i] = e.addPatient("P")
	}
	won := race(t, 50, func(i int) error {
		_, err := e.book(patients[i], doc, typeA, tuesday(10, 0))
		return err
	})
	if won != 1 {
		t.Fatalf("%d bookings succeeded, want exactly 1", won)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE status = 'CONFIRMED'`); n != 1 {
		t.Fatalf("%d confirmed rows", n)
	}
	if n := e.events(eventdata.AppointmentBooked, ""); n != 1 {
		t.Fatalf("%d AppointmentBooked events", n)
	}
	e.checkInvariants()
}

// Unequal intervals that overlap (10:00–10:30 vs 10:15–10:45, …) are caught,
// not just equal starts.
func TestFiftyOnOverlappingIntervals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	patients := make([]string, 50)
	for i := range patients {
		patients[i] = e.addPatient("P")
	}
	starts := []time.Time{tuesday(10, 0), tuesday(10, 15), tuesday(9, 45), tuesday(10, 15), tuesday(10, 0)}
	types := []string{typeA, typeB, typeB, typeA, typeB}
	won := race(t, 50, func(i int) error {
		_, err := e.book(patients[i], doc, types[i%len(types)], starts[i%len(starts)])
		return err
	})
	// 09:45–10:15 and 10:15–10:45 can both stand; nothing else can.
	if won < 1 || won > 2 {
		t.Fatalf("%d bookings succeeded", won)
	}
	e.checkInvariants()
}

// Bookings racing with holds that expire while they run: holds keep others
// off until they expire; then bookings take the slots, and the sweeper and
// the bookings expire holds without ever letting two rows overlap.
func TestRaceWhileHoldsExpire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{HoldTTL: 150 * time.Millisecond})
	doc := e.addPractitioner()
	patients := make([]string, 50)
	for i := range patients {
		patients[i] = e.addPatient("P")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.svc.RunSweeper(ctx, 20*time.Millisecond) }()

	starts := []time.Time{tuesday(10, 0), tuesday(10, 15), tuesday(10, 30), tuesday(10, 45)}
	types := []string{typeA, typeB}
	deadline := time.Now().Add(3 * time.Second) // chances enough for a booker to land between an expiry and the next hold, on a busy machine too
	var booked atomic.Int32
	// Bookers start once a first hold is in place: with a fast booking path
	// (or a busy machine delaying the holders) they would otherwise fill every
	// start before any hold is placed, and the race this test is about would
	// not happen.
	firstHold := make(chan struct{})
	var firstHoldOnce sync.Once
	race(t, 50, func(i int) error {
		if i%2 == 1 {
			select {
			case <-firstHold:
			case <-time.After(time.Until(deadline)):
			}
		}
		for k := 0; time.Now().Before(deadline); k++ {
			start, typ := starts[(i+k)%len(starts)], types[(i/2+k)%len(types)]
			var err error
			if i%2 == 0 {
				if _, err = e.svc.Hold(asPatient(patients[i]), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typ, StartsAt: start}); err == nil {
					firstHoldOnce.Do(func() { close(firstHold) })
				}
			} else if _, err = e.book(patients[i], doc, typ, start); err == nil {
				booked.Add(1)
				return nil
			}
			if apperr.CodeOf(err) != apperr.SlotUnavailable {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
	e.checkInvariants()
	if booked.Load() == 0 {
		t.Fatal("no booking got through while holds expired")
	}
	// Every hold expires and is released with an event.
	time.Sleep(300 * time.Millisecond)
	if _, err := e.svc.ExpireDueHolds(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE status = 'HELD'`); n != 0 {
		t.Fatalf("%d holds still HELD", n)
	}
	placed, released := e.events(eventdata.HoldPlaced, ""), e.events(eventdata.HoldReleased, "")
	if placed == 0 || placed != released {
		t.Fatalf("%d holds placed, %d released", placed, released)
	}
	e.checkInvariants()
}

func TestHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{HoldTTL: time.Minute})
	doc := e.addPractitioner()
	alice, bob := e.addPatient("Alice"), e.addPatient("Bob")
	hold := func(who string, start time.Time) (string, error) {
		h, err := e.svc.Hold(asPatient(who), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: start})
		return h.ID, err
	}
	h1, err := hold(alice, tuesday(10, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Holding the same slot again returns the same hold.
	if again, err := hold(alice, tuesday(10, 0)); err != nil || again != h1 {
		t.Fatalf("re-hold: %s, %v", again, err)
	}
	// Nobody else can take or hold it, nor an overlapping one.
	_, err = e.book(bob, doc, typeB, tuesday(10, 15))
	wantReason(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken))
	_, err = hold(bob, tuesday(10, 0))
	wantCode(t, err, apperr.SlotUnavailable)

	// Alice books with her hold: the hold turns into the appointment.
	a, err := e.svc.Book(asPatient(alice), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(10, 0), IdempotencyKey: "k", HoldID: h1})
	if err != nil {
		t.Fatal(err)
	}
	if e.events(eventdata.HoldReleased, h1) != 1 || e.events(eventdata.AppointmentBooked, a.ID) != 1 {
		t.Fatal("want HoldReleased for the hold and AppointmentBooked for the appointment")
	}
	// Someone else's hold, or a hold on another slot, is refused.
	h2, err := hold(bob, tuesday(11, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Book(asPatient(alice), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(11, 0), IdempotencyKey: "k2", HoldID: h2})
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.Book(asPatient(bob), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(12, 0), IdempotencyKey: "k3", HoldID: h2})
	wantCode(t, err, apperr.InvalidInput)

	// At most two live holds (France): a third is refused until one ends.
	h3, err := hold(bob, tuesday(12, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = hold(bob, tuesday(13, 0))
	wantCode(t, err, apperr.HoldLimitReached)
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'HELD'`, bob); n != 2 {
		t.Fatalf("bob has %d live holds", n)
	}
	// Releasing one (only one's own) frees its slot and a place.
	_, err = e.svc.ReleaseHold(asPatient(alice), h2)
	wantCode(t, err, apperr.NotFound)
	if r, err := e.svc.ReleaseHold(asPatient(bob), h2); err != nil || r.Status != "EXPIRED" || e.events(eventdata.HoldReleased, h2) != 1 {
		t.Fatalf("release: %+v, %v", r, err)
	}
	if r, err := e.svc.ReleaseHold(asPatient(bob), h2); err != nil || r.Status != "EXPIRED" || e.events(eventdata.HoldReleased, h2) != 1 {
		t.Fatalf("release again: %+v, %v", r, err)
	}
	if _, err := hold(bob, tuesday(13, 0)); err != nil {
		t.Fatal(err)
	}
	e.mustBook(alice, doc, typeA, tuesday(11, 0))

	// An expired hold frees the slot: the booking transaction expires it.
	e.clock.Advance(2 * time.Minute)
	c := e.mustBook(alice, doc, typeA, tuesday(12, 0))
	if e.events(eventdata.HoldReleased, h3) != 1 || c.Status != "CONFIRMED" {
		t.Fatal("the expired hold was not released by the booking")
	}
	// The sweeper releases the rest.
	if n, err := e.svc.ExpireDueHolds(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweeper expired %d, %v", n, err)
	}
	e.checkInvariants()
}

// A booking that replaces a hold is one change: refused, it leaves the hold
// as it was (no HoldReleased, no key); accepted, it ends the hold and books
// in one transaction, and answers what a read gives back.
func TestBookingWithAHoldIsAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{HoldTTL: time.Minute})
	doc1, doc2 := e.addPractitioner(), e.addPractitioner()
	alice := e.addPatient("Alice")
	elsewhere := e.mustBook(alice, doc2, typeA, tuesday(10, 0))
	h, err := e.svc.Hold(asPatient(alice), business.HoldInput{PractitionerID: doc1, AppointmentTypeID: typeA, StartsAt: tuesday(10, 0)})
	if err != nil {
		t.Fatal(err)
	}
	in := business.BookInput{PractitionerID: doc1, AppointmentTypeID: typeA, StartsAt: tuesday(10, 0), IdempotencyKey: "k", HoldID: h.ID}
	_, err = e.svc.Book(asPatient(alice), in)
	wantReason(t, err, apperr.SlotUnavailable, business.ReasonPatientOverlap)
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'HELD' AND version = 1`, h.ID); n != 1 ||
		e.events(eventdata.HoldReleased, h.ID) != 0 || e.count(`SELECT count(*) FROM idempotency_keys`) != 1 {
		t.Fatal("a refused booking changed the hold it named or kept its key")
	}

	if _, err := e.svc.Cancel(asPatient(alice), business.CancelInput{AppointmentID: elsewhere.ID, Reason: "clash"}); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.Book(asPatient(alice), in)
	if err != nil {
		t.Fatal(err)
	}
	read, err := e.svc.Appointment(asPatient(alice), a.ID)
	if err != nil || read != a {
		t.Fatalf("booked %+v, read back %+v (%v)", a, read, err)
	}
	if e.events(eventdata.HoldReleased, h.ID) != 1 || e.events(eventdata.AppointmentBooked, a.ID) != 1 ||
		e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'EXPIRED' AND version = 2`, h.ID) != 1 {
		t.Fatal("want the hold ended (HoldReleased) and the appointment booked (AppointmentBooked)")
	}
	if again, err := e.svc.Book(asPatient(alice), in); err != nil || again.ID != a.ID {
		t.Fatalf("replay: %+v, %v", again, err)
	}
	e.checkInvariants()
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	in := business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(10, 0), IdempotencyKey: "same"}
	first, err := e.svc.Book(asPatient(pat), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Book(asPatient(pat), in)
	if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	// Concurrent retries, too, all get the first answer.
	in2 := in
	in2.IdempotencyKey, in2.StartsAt = "concurrent", tuesday(11, 0)
	ids := make([]string, 10)
	if won := race(t, 10, func(i int) error {
		a, err := e.svc.Book(asPatient(pat), in2)
		ids[i] = a.ID
		return err
	}); won != 10 {
		t.Fatalf("%d of 10 retries answered", won)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("retries got different appointments: %v", ids)
		}
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, pat); n != 2 {
		t.Fatalf("%d appointments, want 2", n)
	}
	if n := e.events(eventdata.AppointmentBooked, ""); n != 2 {
		t.Fatalf("%d AppointmentBooked events, want 2", n)
	}
	// Same key, different request.
	in.StartsAt = tuesday(12, 0)
	_, err = e.svc.Book(asPatient(pat), in)
	wantCode(t, err, apperr.InvalidInput)
	// Keys belong to their patient: another patient may use the same words.
	other := in
	other.StartsAt = tuesday(14, 0)
	if _, err := e.svc.Book(asPatient(e.addPatient("Other")), other); err != nil {
		t.Fatal(err)
	}
	// A refused request remembers nothing: the same key works once the input is right.
	bad := business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(7, 0), IdempotencyKey: "fresh"}
	_, err = e.svc.Book(asPatient(pat), bad)
	wantCode(t, err, apperr.InvalidInput)
	bad.StartsAt = tuesday(15, 0)
	if _, err := e.svc.Book(asPatient(pat), bad); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA, IdempotencyKey: ""})
	wantCode(t, err, apperr.InvalidInput)
}

func TestReschedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	alice, bob, carol := e.addPatient("Alice"), e.addPatient("Bob"), e.addPatient("Carol")
	e.mustBook(alice, doc, typeA, tuesday(10, 0))
	b := e.mustBook(bob, doc, typeA, tuesday(11, 0))
	move := func(who, id string, start time.Time, key string) (business.Moved, error) {
		return e.svc.Reschedule(asPatient(who), business.RescheduleInput{AppointmentID: id, StartsAt: start, IdempotencyKey: key})
	}

	// Onto a taken (overlapping) slot: nothing changes, nothing is emitted.
	_, err := move(bob, b.ID, tuesday(10, 15), "m1")
	wantReason(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken))
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'CONFIRMED' AND starts_at = $2 AND version = 1`,
		b.ID, tuesday(11, 0)); n != 1 {
		t.Fatal("the old appointment changed")
	}
	if n := e.events(eventdata.AppointmentRescheduled, ""); n != 0 {
		t.Fatalf("%d AppointmentRescheduled events after a refused move", n)
	}

	// Onto a free slot overlapping its own old range: same id, old slot freed.
	m, err := move(bob, b.ID, tuesday(11, 15), "m2")
	if err != nil {
		t.Fatal(err)
	}
	if m.Appointment.ID != b.ID || !m.Appointment.StartsAt.Equal(tuesday(11, 15)) || !m.Previous.StartsAt.Equal(tuesday(11, 0)) ||
		m.Previous.Status != "CONFIRMED" || m.Appointment.Version != 2 {
		t.Fatalf("moved: %+v", m)
	}
	if n := e.events(eventdata.AppointmentRescheduled, b.ID); n != 1 {
		t.Fatalf("%d AppointmentRescheduled events, want 1", n)
	}
	if n := e.events(eventdata.AppointmentCancelled, "") + e.events(eventdata.AppointmentBooked, b.ID); n != 1 {
		t.Fatalf("a move must not emit a cancellation or another booking")
	}
	// Retry: the first answer.
	again, err := move(bob, b.ID, tuesday(11, 15), "m2")
	if err != nil || again.Appointment.Version != 2 || !again.Previous.StartsAt.Equal(tuesday(11, 0)) {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	_, err = move(bob, b.ID, tuesday(12, 0), "m2")
	wantCode(t, err, apperr.InvalidInput)
	// 10:45 is free again: 11:00–11:15 was released.
	e.mustBook(carol, doc, typeA, tuesday(10, 45))
	// Someone else's appointment is not found; a refusal reason is given.
	_, err = move(alice, b.ID, tuesday(15, 0), "m3")
	wantCode(t, err, apperr.NotFound)
	_, err = move(bob, b.ID, tuesday(18, 0), "m4")
	wantReason(t, err, apperr.InvalidInput, string(slots.ReasonOutsideOpeningHours))
	e.checkInvariants()
}

func TestPersonOverlapAndRelatives(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc1, doc2 := e.addPractitioner(), e.addPractitioner()
	child := eventdata.Relative{ID: uuid.NewString(), FirstName: "Léo", LastName: "Martin", BirthDate: "2020-01-01"}
	pat := e.addPatient("Camille", child)
	e.mustBook(pat, doc1, typeA, tuesday(10, 0))
	_, err := e.book(pat, doc2, typeA, tuesday(10, 15))
	wantReason(t, err, apperr.SlotUnavailable, business.ReasonPatientOverlap)
	// The relative is another person.
	a, err := e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc2, AppointmentTypeID: typeA,
		StartsAt: tuesday(10, 15), IdempotencyKey: "child", RelativeID: child.ID})
	if err != nil {
		t.Fatal(err)
	}
	if a.RelativeID != child.ID || a.PersonID != child.ID || a.PatientName != "Léo Martin" {
		t.Fatalf("relative booking %+v", a)
	}
	_, err = e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc2, AppointmentTypeID: typeA,
		StartsAt: tuesday(14, 0), IdempotencyKey: "stranger", RelativeID: uuid.NewString()})
	wantCode(t, err, apperr.InvalidInput)
	e.checkInvariants()
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	// Monday 07:00 now; France's cut-off is 2 hours.
	soon := e.mustBook(pat, doc, typeA, time.Date(2030, 6, 3, 8, 30, 0, 0, paris))
	later := e.mustBook(pat, doc, typeA, tuesday(10, 0))

	cancel := func(ctx context.Context, id, reason string) (string, error) {
		a, err := e.svc.Cancel(ctx, business.CancelInput{AppointmentID: id, Reason: reason})
		return a.Status, err
	}
	_, err := cancel(asPatient(pat), soon.ID, "sick")
	wantCode(t, err, apperr.CancellationClosed)
	_, err = cancel(asPatient(pat), later.ID, "  ")
	wantCode(t, err, apperr.InvalidInput)
	_, err = cancel(asPatient(pat), later.ID, strings.Repeat("x", 501))
	wantCode(t, err, apperr.InvalidInput)
	_, err = cancel(asPatient(uuid.NewString()), later.ID, "not mine")
	wantCode(t, err, apperr.NotFound)
	_, err = cancel(asPractitioner(uuid.NewString()), later.ID, "not mine")
	wantCode(t, err, apperr.NotFound)

	// The practitioner may cancel inside the cut-off.
	a, err := e.svc.Cancel(asSecretary(doc), business.CancelInput{AppointmentID: soon.ID, Reason: "the doctor is ill"})
	if err != nil || a.Status != "CANCELLED" || a.CancelledBy != "PRACTITIONER" || a.CancellationReason != "the doctor is ill" || a.CancelledAt == nil {
		t.Fatalf("practitioner cancel: %+v, %v", a, err)
	}
	// The patient before the cut-off.
	if st, err := cancel(asPatient(pat), later.ID, "better"); err != nil || st != "CANCELLED" {
		t.Fatalf("patient cancel: %s, %v", st, err)
	}
	// Cancelling again changes nothing and emits nothing.
	if st, err := cancel(asPatient(pat), later.ID, "again"); err != nil || st != "CANCELLED" {
		t.Fatalf("cancel again: %s, %v", st, err)
	}
	if n := e.events(eventdata.AppointmentCancelled, later.ID); n != 1 {
		t.Fatalf("%d AppointmentCancelled events", n)
	}
	// The slot is free again.
	e.mustBook(e.addPatient("Next"), doc, typeA, tuesday(10, 0))
}

func TestMarkNoShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	a := e.mustBook(pat, doc, typeA, tuesday(10, 0))
	_, err := e.svc.MarkNoShow(asPractitioner(doc), a.ID)
	wantReason(t, err, apperr.InvalidInput, "NOT_STARTED")
	_, err = e.svc.MarkNoShow(asPatient(pat), a.ID)
	wantCode(t, err, apperr.Forbidden)
	e.clock.Advance(tuesday(10, 5).Sub(base))
	got, err := e.svc.MarkNoShow(asPractitioner(doc), a.ID)
	if err != nil || got.Status != "NO_SHOW" {
		t.Fatalf("no-show: %+v, %v", got, err)
	}
	if n := e.events(eventdata.AppointmentNoShow, a.ID); n != 1 {
		t.Fatalf("%d AppointmentNoShow events", n)
	}
}

func TestPatientAppointmentsPages(t *testing.T) {
	t.Parallel()
	// Five bookings with one practice on one day: past France's limit.
	e := newEnvWith(t, business.Options{}, func(c *countries.Catalog) {
		fr, _ := c.Get("fr")
		fr.Limits.BookingsPerPatientPerPracticePerDay = 10
	}, 0)
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	var want []string
	for h := 9; h < 14; h++ {
		want = append(want, e.mustBook(pat, doc, typeA, tuesday(h, 0)).ID)
	}
	if _, err := e.svc.Cancel(asPatient(pat), business.CancelInput{AppointmentID: want[4], Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	yes, two := true, 2
	var got []string
	after := ""
	for {
		page, err := e.svc.PatientAppointments(asPatient(pat), pat, business.PageInput{Upcoming: &yes, First: &two, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Appointments {
			got = append(got, a.ID)
		}
		if !page.HasNextPage {
			break
		}
		after = page.Cursors[len(page.Cursors)-1]
	}
	if strings.Join(got, ",") != strings.Join(want[:4], ",") {
		t.Fatalf("upcoming = %v, want %v", got, want[:4])
	}
	no := false
	page, err := e.svc.PatientAppointments(asPatient(pat), pat, business.PageInput{Upcoming: &no})
	if err != nil || len(page.Appointments) != 1 || page.Appointments[0].ID != want[4] {
		t.Fatalf("past/cancelled = %+v, %v", page, err)
	}
	_, err = e.svc.PatientAppointments(asPatient(uuid.NewString()), pat, business.PageInput{})
	wantCode(t, err, apperr.Forbidden)
	_, err = e.svc.PatientAppointments(asPatient(pat), pat, business.PageInput{After: "garbage"})
	wantCode(t, err, apperr.InvalidInput)
}

func TestReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	// An older version does not replace a newer one; a newer one does.
	p := practice(doc, 3)
	p.OpeningHours = p.OpeningHours[:0] // closed
	e.applyPractitioner(p)
	_, err := e.book(e.addPatient("A"), doc, typeA, tuesday(10, 0))
	wantReason(t, err, apperr.InvalidInput, string(slots.ReasonOutsideOpeningHours))
	e.applyPractitioner(practice(doc, 2))
	_, err = e.book(e.addPatient("B"), doc, typeA, tuesday(10, 0))
	wantReason(t, err, apperr.InvalidInput, string(slots.ReasonOutsideOpeningHours))
	e.applyPractitioner(practice(doc, 4))
	e.mustBook(e.addPatient("C"), doc, typeA, tuesday(10, 0))

	// Erasure anonymises for good: an older (late) event brings nothing back.
	pat := e.addPatient("Erin")
	a, err := e.svc.Book(asPatient(pat), business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA,
		StartsAt: tuesday(11, 0), IdempotencyKey: "k", Note: "private"})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := events.New("/careslot/patient", eventdata.PatientErased, pat, eventdata.Patient{ID: pat, Version: 5})
	if err := e.svc.ApplyPatientEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	late, _ := events.New("/careslot/patient", "careslot.patient.PatientUpdated.v1", pat,
		eventdata.Patient{ID: pat, Version: 4, FirstName: "Erin", LastName: "Back"})
	if err := e.svc.ApplyPatientEvent(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Appointment(asPractitioner(doc), a.ID)
	if err != nil || got.PatientName != "" || got.PatientPhone != "" || got.Note != "" || got.Status != "CANCELLED" ||
		got.CancellationReason != eventdata.ReasonPatientErased || got.PatientID == pat {
		t.Fatalf("after erasure: %+v, %v", got, err)
	}
	// A later registration of the same account (a higher version) is a new account.
	again, _ := events.New("/careslot/patient", "careslot.patient.PatientRegistered.v1", pat,
		eventdata.Patient{ID: pat, Version: 6, FirstName: "Erin", LastName: "Again"})
	if err := e.svc.ApplyPatientEvent(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if b := e.mustBook(pat, doc, typeA, tuesday(11, 0)); b.PatientName != "Erin Again" {
		t.Fatalf("the account registered again: %+v", b)
	}
}

func TestExportOccupied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Camille")
	a := e.mustBook(pat, doc, typeA, tuesday(10, 0))
	c := e.mustBook(pat, doc, typeA, tuesday(11, 0))
	if _, err := e.svc.Cancel(asPatient(pat), business.CancelInput{AppointmentID: c.ID, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.Hold(asPatient(pat), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(12, 0)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := e.svc.ExportOccupied(context.Background(), func(rows []eventdata.Appointment) error {
		for _, r := range rows {
			got[r.ID] = r.Status
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a.ID] != "CONFIRMED" || got[h.ID] != "HELD" {
		t.Fatalf("exported %v", got)
	}
	// Resumed after a row's cursor, the export gives the rows after it.
	var first, rest []string
	var cursor string
	if err := e.svc.ExportOccupiedAfter(context.Background(), "", func(rows []eventdata.Appointment, c string) error {
		for _, r := range rows {
			first = append(first, r.ID)
		}
		cursor = c
		return nil
	}); err != nil || len(first) != 2 {
		t.Fatalf("export: %v %v", err, first)
	}
	one := export.KeyCursor("fr", first[0])
	if err := e.svc.ExportOccupiedAfter(context.Background(), one, func(rows []eventdata.Appointment, _ string) error {
		for _, r := range rows {
			rest = append(rest, r.ID)
		}
		return nil
	}); err != nil || len(rest) != 1 || rest[0] != first[1] {
		t.Fatalf("after %s: %v %v", first[0], err, rest)
	}
	if err := e.svc.ExportOccupiedAfter(context.Background(), cursor, func(rows []eventdata.Appointment, _ string) error {
		return fmt.Errorf("after the last page: %d rows", len(rows))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestKeyedChangesSurviveTerminatedSessions: every session of the booking
// database is terminated (as pg_terminate_backend by an operator, or a
// server restart, does) just after the pool used them; the next booking and
// the next move succeed on fresh connections, each exactly once.
func TestKeyedChangesSurviveTerminatedSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Lou")
	e.mustBook(pat, doc, typeA, tuesday(9, 0))
	terminate := func() {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), e.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()) t`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("terminated %d sessions: %v", n, err)
		}
	}
	terminate()
	in := business.BookInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(9, 30), IdempotencyKey: "after-terminate"}
	a, err := e.svc.Book(asPatient(pat), in)
	if err != nil {
		t.Fatalf("booking after the sessions were terminated: %v", err)
	}
	terminate()
	m, err := e.svc.Reschedule(asPatient(pat), business.RescheduleInput{AppointmentID: a.ID, StartsAt: tuesday(10, 30), IdempotencyKey: "move-after-terminate"})
	if err != nil || !m.Appointment.StartsAt.Equal(tuesday(10, 30)) {
		t.Fatalf("move after the sessions were terminated: %+v, %v", m, err)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE idempotency_key = 'after-terminate'`); n != 1 {
		t.Fatalf("%d appointments for one key", n)
	}
	if n := e.events(eventdata.AppointmentRescheduled, a.ID); n != 1 {
		t.Fatalf("%d AppointmentRescheduled events", n)
	}
	e.checkInvariants()
}

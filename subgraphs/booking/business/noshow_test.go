package business_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// moreBookingsPerDay lifts France's bookings per account, practice and day
// for tests that book more in a day.
func moreBookingsPerDay(c *countries.Catalog) {
	fr, _ := c.Get("fr")
	fr.Limits.BookingsPerPatientPerPracticePerDay = 100
}

// monday is Monday 3 June 2030 (the tests' first day) at hh:mm in Paris.
func monday(hh, mm int) time.Time { return time.Date(2030, 6, 3, hh, mm, 0, 0, paris) }

// noShows books n appointments of pat with doc on Monday from 08:00, moves the
// clock past them and marks each a no-show.
func (e *env) noShows(pat, doc string, n int) []store.Appointment {
	e.t.Helper()
	var out []store.Appointment
	for i := range n {
		out = append(out, e.mustBook(pat, doc, typeA, monday(8, 0).Add(time.Duration(i)*time.Hour)))
	}
	if late := monday(8, 5).Add(time.Duration(n-1) * time.Hour); e.clock.Now().Before(late) {
		e.clock.Advance(late.Sub(e.clock.Now()))
	}
	for _, a := range out {
		if _, err := e.svc.MarkNoShow(asPractitioner(doc), a.ID); err != nil {
			e.t.Fatalf("no-show %s: %v", a.ID, err)
		}
	}
	return out
}

func wantRestricted(t testing.TB, err error, until time.Time) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.BookingRestricted || e.Extensions["until"] != until.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("want BOOKING_RESTRICTED until %s, got %v (%+v)", until.UTC().Format(time.RFC3339Nano), err, e)
	}
}

// TestNoShowRestriction: the country's policy (France: 3 no-shows in 365
// days, 90 days) restricts a patient at the third no-show with a practice,
// in markNoShow's transaction: holds, bookings and series with that practice
// are BOOKING_RESTRICTED (with extensions.until) and write nothing, while
// other practices stay open and other patients are not touched. The patient
// sees the restriction, the practice sees and lifts it; after the lift the
// patient books again, and the no-shows before it no longer count. A
// practice's own policy (from its snapshot) replaces the country's; limit 0
// never restricts. Erasing the account removes its restrictions.
func TestNoShowRestriction(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, moreBookingsPerDay, 0)
	doc, other := e.addPractitioner(), e.addPractitioner()
	pat, neighbour := e.addPatient("Absent"), e.addPatient("Present")

	e.noShows(pat, doc, 2)
	if n := e.count(`SELECT count(*) FROM booking_restrictions`); n != 0 {
		t.Fatalf("restricted after 2 no-shows: %d rows", n)
	}
	e.mustBook(pat, doc, typeA, tuesday(8, 0)) // still open
	third := e.mustBook(pat, doc, typeA, monday(11, 0))
	e.clock.Advance(monday(11, 10).Sub(e.clock.Now()))
	if _, err := e.svc.MarkNoShow(asSecretary(doc), third.ID); err != nil {
		t.Fatal(err)
	}
	until := e.clock.Now().Add(90 * 24 * time.Hour)
	var got time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT until FROM booking_restrictions
		WHERE patient_id = $1 AND practitioner_id = $2 AND no_shows = 3 AND lifted_at IS NULL`, pat, doc).Scan(&got); err != nil {
		t.Fatalf("no restriction after the third no-show: %v", err)
	}
	if d := got.Sub(until); d < -time.Second || d > time.Second {
		t.Fatalf("restricted until %s, want about %s", got, until)
	}
	until = got

	before := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, pat)
	_, err := e.book(pat, doc, typeA, tuesday(9, 0))
	wantRestricted(t, err, until)
	_, err = e.svc.Hold(asPatient(pat), business.HoldInput{PractitionerID: doc, AppointmentTypeID: typeA, StartsAt: tuesday(9, 0)})
	wantRestricted(t, err, until)
	_, err = e.svc.BookSeries(asPatient(pat), business.SeriesInput{PractitionerID: doc, AppointmentTypeID: typeA,
		FirstStartsAt: tuesday(9, 0), EveryDays: 7, Count: 3, IdempotencyKey: uuid.NewString()})
	wantRestricted(t, err, until)
	if after := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, pat); after != before {
		t.Fatalf("refusals wrote %d rows", after-before)
	}
	e.mustBook(pat, other, typeA, tuesday(9, 0))      // another practice
	e.mustBook(neighbour, doc, typeA, tuesday(10, 0)) // another patient

	list, err := e.svc.PatientRestrictions(asPatient(pat), pat)
	if err != nil || len(list) != 1 || list[0].PractitionerID != doc || list[0].NoShows != 3 || !list[0].Until.Equal(until) {
		t.Fatalf("the patient's restrictions: %+v, %v", list, err)
	}
	_, err = e.svc.PatientRestrictions(asPatient(neighbour), pat)
	wantCode(t, err, apperr.Forbidden)
	list, err = e.svc.PracticeRestrictions(asSecretary(doc), doc)
	if err != nil || len(list) != 1 || list[0].PatientID != pat || list[0].PatientName != "Absent Martin" {
		t.Fatalf("the practice's restrictions: %+v, %v", list, err)
	}
	_, err = e.svc.PracticeRestrictions(asPatient(pat), doc)
	wantCode(t, err, apperr.Forbidden)
	_, err = e.svc.LiftRestriction(asPractitioner(other), doc, pat)
	wantCode(t, err, apperr.Forbidden)

	lifted, err := e.svc.LiftRestriction(asPractitioner(doc), doc, pat)
	if err != nil || !lifted {
		t.Fatalf("lift: %v, %v", lifted, err)
	}
	if lifted, err := e.svc.LiftRestriction(asPractitioner(doc), doc, pat); err != nil || lifted {
		t.Fatalf("lift again: %v, %v", lifted, err)
	}
	next := e.mustBook(pat, doc, typeA, tuesday(11, 0))
	if list, _ := e.svc.PatientRestrictions(asPatient(pat), pat); len(list) != 0 {
		t.Fatalf("restrictions after the lift: %+v", list)
	}
	// One more no-show after the lift: the three before it do not count again.
	e.clock.Advance(tuesday(11, 5).Sub(e.clock.Now()))
	if _, err := e.svc.MarkNoShow(asPractitioner(doc), next.ID); err != nil {
		t.Fatal(err)
	}
	e.mustBook(pat, doc, typeA, tuesday(16, 0))

	// A practice's own policy: one no-show is enough; limit 0 never restricts.
	strict := practice(uuid.NewString(), 1)
	strict.NoShowPolicy = &eventdata.NoShowPolicy{Limit: 1, PeriodDays: 30, RestrictionDays: 7}
	e.applyPractitioner(strict)
	lenient := practice(uuid.NewString(), 1)
	lenient.NoShowPolicy = &eventdata.NoShowPolicy{Limit: 0, PeriodDays: 1, RestrictionDays: 1}
	e.applyPractitioner(lenient)
	late := e.addPatient("Late")
	missed := []store.Appointment{e.mustBook(late, strict.ID, typeA, tuesday(17, 0).AddDate(0, 0, 1)),
		e.mustBook(late, lenient.ID, typeA, tuesday(17, 0).AddDate(0, 0, 2))}
	e.clock.Advance(tuesday(17, 5).AddDate(0, 0, 2).Sub(e.clock.Now()))
	for _, a := range missed {
		if _, err := e.svc.MarkNoShow(asPractitioner(a.PractitionerID), a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.pool.QueryRow(context.Background(), `SELECT until FROM booking_restrictions WHERE patient_id = $1
		AND practitioner_id = $2 AND no_shows = 1`, late, strict.ID).Scan(&until); err != nil {
		t.Fatalf("the practice's own policy restricted nobody: %v", err)
	}
	if d := until.Sub(e.clock.Now()); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour {
		t.Fatalf("restricted for %s, want the practice's 7 days", d)
	}
	_, err = e.book(late, strict.ID, typeA, tuesday(9, 0).AddDate(0, 0, 3))
	wantRestricted(t, err, until)
	e.mustBook(late, lenient.ID, typeA, tuesday(9, 0).AddDate(0, 0, 3))

	// Erasing the account removes its restrictions.
	ev, err := events.New("/careslot/patient", eventdata.PatientErased, late, eventdata.Patient{ID: late, Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ApplyPatientEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM booking_restrictions WHERE patient_id = $1`, late); n != 0 {
		t.Fatalf("%d restrictions of an erased account", n)
	}
	e.checkInvariants()
}

// TestNoShowLimitUnderRace: a patient with two no-shows books 20 slots of the
// practice at once while the practitioner marks their third no-show (France:
// the limit). Every booking is either booked or BOOKING_RESTRICTED, and none
// straddles the restriction: a deferred trigger installed for the test looks,
// as each booking commits, for a restriction committed before it and records
// the booking if it finds one. Checked by SQL: no such booking, the
// restriction there, exactly the bookings answered as booked in the table.
func TestNoShowLimitUnderRace(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, moreBookingsPerDay, 8)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE straddlers (appointment_id uuid NOT NULL)`,
		`CREATE FUNCTION note_straddler() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			-- Runs as the booking commits: a fresh snapshot sees every restriction committed by then.
			IF EXISTS (SELECT 1 FROM booking_restrictions r WHERE r.patient_id = NEW.patient_id
				AND r.practitioner_id = NEW.practitioner_id AND r.lifted_at IS NULL AND r.until > now()) THEN
				INSERT INTO straddlers VALUES (NEW.id);
			END IF;
			RETURN NULL;
		END $$`,
		`CREATE CONSTRAINT TRIGGER straddle AFTER INSERT ON appointments DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW WHEN (NEW.status = 'CONFIRMED') EXECUTE FUNCTION note_straddler()`,
	} {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	doc := e.addPractitioner()
	pat := e.addPatient("Racer")
	e.noShows(pat, doc, 2)
	third := e.mustBook(pat, doc, typeA, monday(11, 0))
	e.clock.Advance(monday(11, 10).Sub(e.clock.Now()))

	const n = 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		booked []string
		codes  = map[apperr.Code]int{}
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Spread over the few milliseconds markNoShow takes, so that
			// bookings are in flight when the restriction commits.
			time.Sleep(time.Duration(i) * 300 * time.Microsecond)
			a, err := e.book(pat, doc, typeA, tuesday(13, 0).AddDate(0, 0, i%4).Add(time.Duration(i/4)*time.Hour))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				booked = append(booked, a.ID)
			} else {
				codes[apperr.CodeOf(err)]++
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		if _, err := e.svc.MarkNoShow(asPractitioner(doc), third.ID); err != nil {
			t.Error(err)
		}
	}()
	close(start)
	wg.Wait()
	if len(booked)+codes[apperr.BookingRestricted] != n {
		t.Fatalf("outcomes: %d booked, %v", len(booked), codes)
	}
	if s := e.count(`SELECT count(*) FROM straddlers`); s != 0 {
		t.Fatalf("%d bookings committed after the restriction they should have seen", s)
	}
	if r := e.count(`SELECT count(*) FROM booking_restrictions WHERE patient_id = $1 AND practitioner_id = $2 AND no_shows = 3`, pat, doc); r != 1 {
		t.Fatal("no restriction after the third no-show")
	}
	if got := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'CONFIRMED' AND starts_at > $2`,
		pat, tuesday(12, 0)); got != len(booked) {
		t.Fatalf("%d future appointments in the table, %d answered as booked", got, len(booked))
	}
	if got := e.count(`SELECT count(*) FROM appointments WHERE id = ANY($1::uuid[])`, booked); got != len(booked) {
		t.Fatalf("%d of the %d bookings answered are in the table", got, len(booked))
	}
	t.Logf("%d booked before the restriction, %d refused", len(booked), codes[apperr.BookingRestricted])
	e.checkInvariants()
}

// TestRestrictedPatientCannotAcceptAnOffer: accepting an earlier-slot offer
// is an online booking. A patient restricted after their offers were made
// gets BOOKING_RESTRICTED (with until) whether accepting would move their
// appointment or book the slot, and nothing changes: the appointment stays,
// the offers stay on offer, the key stays unused. While restricted they are
// passed over when a slot frees. Once the practice lifts the restriction,
// the next freed slot is offered to them and accepting it (with the key
// refused before) moves their appointment.
func TestRestrictedPatientCannotAcceptAnOffer(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, func(c *countries.Catalog) {
		moreBookingsPerDay(c)
		fr, _ := c.Get("fr")
		fr.OfferWindowMinutes = 120 // the offers outlive the no-shows marked below
	}, 0)
	doc := e.addPractitioner()
	pat, x := e.addPatient("Absent"), e.addPatient("Xavier")
	var missed []store.Appointment
	for _, hh := range []int{8, 9, 10} {
		missed = append(missed, e.mustBook(pat, doc, typeA, monday(hh, 0)))
	}
	cur := e.mustBook(pat, doc, typeA, friday(15, 0))
	e.clock.Advance(monday(9, 5).Sub(e.clock.Now()))
	for _, a := range missed[:2] {
		if _, err := e.svc.MarkNoShow(asPractitioner(doc), a.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.join(pat, doc, typeA, business.JoinWaitlistInput{CurrentAppointmentID: cur.ID, LatestDate: time.Date(2030, 6, 7, 0, 0, 0, 0, time.UTC)})
	e.join(pat, doc, typeB, business.JoinWaitlistInput{})
	free := func(hh int) {
		a := e.mustBook(x, doc, typeA, tuesday(hh, 0))
		e.cancel(x, a.ID)
	}
	offers := func() []*store.Offer {
		items, err := e.svc.Waitlist(asPatient(pat), pat)
		if err != nil || len(items) != 2 {
			t.Fatalf("waiting entries: %+v, %v", items, err)
		}
		return []*store.Offer{items[0].Offer, items[1].Offer}
	}
	free(10) // to the entry with the appointment (a move)
	free(11) // to the other (a booking)
	o := offers()
	if o[0] == nil || !o[0].Hold.StartsAt.Equal(tuesday(10, 0)) || o[1] == nil || !o[1].Hold.StartsAt.Equal(tuesday(11, 0)) {
		t.Fatalf("offers: %+v", o)
	}

	e.clock.Advance(monday(10, 5).Sub(e.clock.Now()))
	if _, err := e.svc.MarkNoShow(asPractitioner(doc), missed[2].ID); err != nil {
		t.Fatal(err)
	}
	var until time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT until FROM booking_restrictions
		WHERE patient_id = $1 AND practitioner_id = $2 AND lifted_at IS NULL`, pat, doc).Scan(&until); err != nil {
		t.Fatalf("no restriction after the third no-show: %v", err)
	}
	confirmed := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'CONFIRMED'`, pat)
	_, err := e.svc.AcceptSlotOffer(asPatient(pat), o[0].ID, "accept")
	wantRestricted(t, err, until)
	_, err = e.svc.AcceptSlotOffer(asPatient(pat), o[1].ID, "accept-book")
	wantRestricted(t, err, until)
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND starts_at = $2 AND status = 'CONFIRMED'`, cur.ID, friday(15, 0)); n != 1 {
		t.Fatal("a refused accept moved the appointment")
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'CONFIRMED'`, pat); n != confirmed {
		t.Fatalf("a refused accept booked: %d confirmed, was %d", n, confirmed)
	}
	if n := e.count(`SELECT count(*) FROM waitlist_offers o JOIN appointments h ON h.id = o.id
		WHERE o.id = ANY($1::uuid[]) AND o.status = 'OFFERED' AND h.status = 'HELD'`, []string{o[0].ID, o[1].ID}); n != 2 {
		t.Fatalf("%d offers still on offer, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE subject = $1 AND key IN ('accept', 'accept-book')`, pat); n != 0 {
		t.Fatal("a refused accept used its key")
	}

	// Restricted, the patient is passed over: their declined offers and a
	// slot freed meanwhile go to nobody (nobody else waits).
	for _, of := range o {
		if _, err := e.svc.DeclineSlotOffer(asPatient(pat), of.ID); err != nil {
			t.Fatal(err)
		}
	}
	free(12)
	if n := e.occupying(doc, tuesday(12, 0)); n != 0 {
		t.Fatal("a slot freed was offered to a restricted patient")
	}

	if lifted, err := e.svc.LiftRestriction(asSecretary(doc), doc, pat); err != nil || !lifted {
		t.Fatalf("lift: %v, %v", lifted, err)
	}
	free(13)
	o = offers()
	if o[0] == nil || !o[0].Hold.StartsAt.Equal(tuesday(13, 0)) {
		t.Fatalf("no offer after the lift: %+v", o[0])
	}
	m, err := e.svc.AcceptSlotOffer(asPatient(pat), o[0].ID, "accept")
	if err != nil || m.Appointment.ID != cur.ID || !m.Appointment.StartsAt.Equal(tuesday(13, 0)) {
		t.Fatalf("accept after the lift: %+v, %v", m.Appointment, err)
	}
	e.checkInvariants()
}

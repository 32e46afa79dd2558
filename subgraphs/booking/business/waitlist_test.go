package business_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/booking/business"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// friday returns Friday 7 June 2030 at hh:mm in Paris.
func friday(hh, mm int) time.Time { return time.Date(2030, 6, 7, hh, mm, 0, 0, paris) }

func ptr[T any](v T) *T { return &v }

// join puts patient on doc's waitlist for typ (latest date Saturday 8 June
// unless in says otherwise) and returns the entry.
func (e *env) join(patient, doc, typ string, in business.JoinWaitlistInput) store.Entry {
	e.t.Helper()
	in.PractitionerID, in.AppointmentTypeID = doc, typ
	if in.LatestDate.IsZero() {
		in.LatestDate = time.Date(2030, 6, 8, 0, 0, 0, 0, time.UTC)
	}
	en, err := e.svc.JoinWaitlist(asPatient(patient), in)
	if err != nil {
		e.t.Fatalf("join: %v", err)
	}
	return en
}

// offerOf is the patient's latest offer on their one waiting entry (nil when none).
func (e *env) offerOf(patient string) *store.Offer {
	e.t.Helper()
	items, err := e.svc.Waitlist(asPatient(patient), patient)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(items) != 1 {
		e.t.Fatalf("%d waiting entries, want 1", len(items))
	}
	return items[0].Offer
}

// liveOffer is the patient's live offer, failing the test when there is none.
func (e *env) liveOffer(patient string, start time.Time) store.Offer {
	e.t.Helper()
	o := e.offerOf(patient)
	if o == nil || o.Effective(e.clock.Now()) != store.OfferOffered || !o.Hold.StartsAt.Equal(start) {
		e.t.Fatalf("no live offer of %s for the patient: %+v", start, o)
	}
	return *o
}

func (e *env) cancel(patient, id string) {
	e.t.Helper()
	if _, err := e.svc.Cancel(asPatient(patient), business.CancelInput{AppointmentID: id, Reason: "cannot come"}); err != nil {
		e.t.Fatal(err)
	}
}

// seq is the outbox position of the one event of a type about subject.
func (e *env) seq(eventType, subject string) int64 {
	e.t.Helper()
	var seqs []int64
	rows, err := e.pool.Query(context.Background(), `SELECT seq FROM outbox WHERE type = $1
		AND convert_from(payload, 'UTF8')::jsonb->>'subject' = $2`, eventType, subject)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	if len(seqs) != 1 {
		e.t.Fatalf("%d %s events about %s, want 1", len(seqs), eventType, subject)
	}
	return seqs[0]
}

// occupying counts the rows occupying start with doc (confirmed, or a hold
// still HELD), by SQL.
func (e *env) occupying(doc string, start time.Time) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM appointments WHERE practitioner_id = $1 AND starts_at = $2
		AND status IN ('HELD', 'CONFIRMED')`, doc, start)
}

// TestWaitlistFairOrderDeclineAndTimeout: three patients wait; a
// cancellation's slot is offered to the oldest entry in the cancellation's
// own transaction (its SlotOffered before the AppointmentCancelled), and no
// one else can book it meanwhile; a refusal passes it to the second at once,
// the second's timeout (the sweeper) to the third, and once everybody had
// it the slot is free again: nobody holds it forever.
func TestWaitlistFairOrderDeclineAndTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	x, y := e.addPatient("Xavier"), e.addPatient("Yann")
	a, b, c := e.addPatient("Alice"), e.addPatient("Bruno"), e.addPatient("Chloé")
	slot := tuesday(10, 0).UTC()
	booked := e.mustBook(x, doc, typeA, slot)
	for _, p := range []string{a, b, c} {
		e.join(p, doc, typeA, business.JoinWaitlistInput{})
	}
	if e.offerOf(a) != nil {
		t.Fatal("an offer before any slot freed")
	}

	e.cancel(x, booked.ID)
	first := e.liveOffer(a, slot)
	if want := e.clock.Now().Add(15 * time.Minute); first.Hold.HoldExpiresAt.Sub(want).Abs() > 5*time.Second {
		t.Fatalf("offer expires at %s, want about %s (the country's window)", first.Hold.HoldExpiresAt, want)
	}
	if e.offerOf(b) != nil || e.offerOf(c) != nil {
		t.Fatal("the slot was offered to more than the oldest entry")
	}
	if e.seq(eventdata.SlotOffered, first.ID) > e.seq(eventdata.AppointmentCancelled, booked.ID) {
		t.Fatal("SlotOffered written after the cancellation that freed the slot")
	}
	if n := e.events(eventdata.HoldPlaced, ""); n != 0 {
		t.Fatalf("%d HoldPlaced: an offer's one event is SlotOffered", n)
	}
	if _, err := e.book(y, doc, typeA, slot); apperr.CodeOf(err) != apperr.SlotUnavailable {
		t.Fatalf("booking an offered slot: %v", err)
	}
	if n := e.occupying(doc, slot); n != 1 {
		t.Fatalf("%d rows occupy the offered slot", n)
	}

	// Declined: the second in line at once; the first keeps waiting.
	declined, err := e.svc.DeclineSlotOffer(asPatient(a), first.ID)
	if err != nil || declined.Status != store.OfferDeclined {
		t.Fatalf("decline: %+v %v", declined, err)
	}
	second := e.liveOffer(b, slot)
	if got := e.offerOf(a); got == nil || got.ID != first.ID || got.Effective(e.clock.Now()) != store.OfferDeclined {
		t.Fatalf("the first entry's offer after declining: %+v", got)
	}
	if e.seq(eventdata.SlotOffered, second.ID) > e.seq(eventdata.HoldReleased, first.ID) {
		t.Fatal("the next offer written after the declined one's HoldReleased")
	}
	if _, err := e.svc.AcceptSlotOffer(asPatient(a), first.ID, "too-late"); apperr.CodeOf(err) != apperr.OfferUnavailable {
		t.Fatalf("accepting a declined offer: %v", err)
	}
	if _, err := e.svc.DeclineSlotOffer(asPatient(c), second.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("declining someone else's offer: %v", err)
	}

	// Timed out: the sweeper passes it to the third.
	e.clock.Advance(16 * time.Minute)
	if _, err := e.svc.ExpireDueHolds(context.Background()); err != nil {
		t.Fatal(err)
	}
	third := e.liveOffer(c, slot)
	if got := e.offerOf(b); got.Effective(e.clock.Now()) != store.OfferExpired {
		t.Fatalf("the second entry's offer after its window: %+v", got)
	}
	if _, err := e.svc.AcceptSlotOffer(asPatient(b), second.ID, "late"); apperr.CodeOf(err) != apperr.OfferUnavailable {
		t.Fatalf("accepting an expired offer: %v", err)
	}

	// Everybody had it: the slot is free again.
	e.clock.Advance(16 * time.Minute)
	if _, err := e.svc.ExpireDueHolds(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.occupying(doc, slot); n != 0 {
		t.Fatalf("%d rows still occupy the slot nobody took", n)
	}
	if third.Hold.HoldExpiresAt == nil || e.events(eventdata.HoldReleased, third.ID) != 1 {
		t.Fatal("the last offer's hold was not released")
	}
	e.mustBook(y, doc, typeA, slot)
	e.checkInvariants()
}

// TestWaitlistOfferSuitsTheEntry: a freed slot (Tuesday 10:00–10:30) skips
// the entries it does not suit — another time of day, other weekdays, a
// latest date before it, a current appointment earlier than it, a type the
// practice does not open to new patients — and goes to the first it suits,
// not to a later one.
func TestWaitlistOfferSuitsTheEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	x := e.addPatient("Xavier")
	slot := tuesday(10, 0).UTC()
	booked := e.mustBook(x, doc, typeA, slot)

	afternoons := e.addPatient("Afternoons")
	e.join(afternoons, doc, typeA, business.JoinWaitlistInput{EarliestMinute: ptr(14 * 60), LatestMinute: ptr(18 * 60)})
	otherDays := e.addPatient("OtherDays")
	e.join(otherDays, doc, typeA, business.JoinWaitlistInput{Weekdays: []int{1, 3}})
	tooLate := e.addPatient("TooLate")
	e.join(tooLate, doc, typeA, business.JoinWaitlistInput{LatestDate: time.Date(2030, 6, 3, 0, 0, 0, 0, time.UTC)})
	earlier := e.addPatient("Earlier")
	cur := e.mustBook(earlier, doc, typeA, tuesday(9, 0))
	e.join(earlier, doc, typeA, business.JoinWaitlistInput{CurrentAppointmentID: cur.ID})
	newcomer := e.addPatient("Newcomer")
	e.join(newcomer, doc, typeNoNew, business.JoinWaitlistInput{})
	tight := e.addPatient("Tight")
	e.join(tight, doc, typeA, business.JoinWaitlistInput{EarliestMinute: ptr(10 * 60), LatestMinute: ptr(10*60 + 30), Weekdays: []int{2}})
	after := e.addPatient("After")
	e.join(after, doc, typeA, business.JoinWaitlistInput{})

	e.cancel(x, booked.ID)
	e.liveOffer(tight, slot)
	for name, p := range map[string]string{"afternoons": afternoons, "other days": otherDays, "too late": tooLate,
		"earlier": earlier, "newcomer": newcomer, "after": after} {
		if o := e.offerOf(p); o != nil {
			t.Errorf("%s was offered %s", name, o.Hold.StartsAt)
		}
	}
}

// TestAcceptingAnOfferMovesTheCurrentAppointment: an entry with a current
// appointment accepts: the same appointment moves onto the offered slot in
// one transaction (one AppointmentRescheduled, the offer's hold consumed,
// the entry fulfilled), and the slot it leaves goes to the next waiting
// patient, whose offer is written before the move; that patient, without an
// appointment, accepts through the booking path (AppointmentBooked, then the
// hold's HoldReleased). Retries answer the first accept.
func TestAcceptingAnOfferMovesTheCurrentAppointment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	x, a, b := e.addPatient("Xavier"), e.addPatient("Alice"), e.addPatient("Bruno")
	slot := tuesday(10, 0).UTC()
	booked := e.mustBook(x, doc, typeA, slot)
	cur := e.mustBook(a, doc, typeA, friday(15, 0))
	entry := e.join(a, doc, typeA, business.JoinWaitlistInput{CurrentAppointmentID: cur.ID, LatestDate: time.Date(2030, 6, 7, 0, 0, 0, 0, time.UTC)})
	if entry.CurrentAppointmentID != cur.ID {
		t.Fatalf("entry %+v", entry)
	}
	e.join(b, doc, typeA, business.JoinWaitlistInput{})

	e.cancel(x, booked.ID)
	offer := e.liveOffer(a, slot)
	if e.offerOf(b) != nil {
		t.Fatal("the second entry was offered the same slot")
	}
	m, err := e.svc.AcceptSlotOffer(asPatient(a), offer.ID, "accept-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Appointment.ID != cur.ID || !m.Appointment.StartsAt.Equal(slot) || !m.Previous.StartsAt.Equal(friday(15, 0)) ||
		m.Appointment.Status != store.StatusConfirmed {
		t.Fatalf("accepted: %+v (previous %+v)", m.Appointment, m.Previous)
	}
	if n := e.events(eventdata.AppointmentRescheduled, cur.ID); n != 1 {
		t.Fatalf("%d AppointmentRescheduled", n)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE person_id = $1 AND status = 'CONFIRMED'`, a); n != 1 {
		t.Fatalf("%d confirmed appointments of the patient who accepted", n)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = $1 AND status = 'EXPIRED'`, offer.ID); n != 1 {
		t.Fatal("the offer's hold was not consumed")
	}
	if n := e.count(`SELECT count(*) FROM waitlist_entries WHERE id = $1 AND status = 'FULFILLED'`, entry.ID); n != 1 {
		t.Fatal("the entry was not fulfilled")
	}
	// The Friday slot it left went to the next in line, before anyone saw it open.
	next := e.liveOffer(b, friday(15, 0).UTC())
	rescheduled := e.seq(eventdata.AppointmentRescheduled, cur.ID)
	if e.seq(eventdata.SlotOffered, next.ID) > rescheduled || rescheduled > e.seq(eventdata.HoldReleased, offer.ID) {
		t.Fatal("events out of order: want the next offer, the move, then the consumed hold's release")
	}
	// Retries: the same key answers the same; another key finds it taken.
	again, err := e.svc.AcceptSlotOffer(asPatient(a), offer.ID, "accept-1")
	if err != nil || again.Appointment.ID != cur.ID || !again.Appointment.StartsAt.Equal(slot) {
		t.Fatalf("retry: %+v %v", again.Appointment, err)
	}
	if _, err := e.svc.AcceptSlotOffer(asPatient(a), offer.ID, "accept-2"); apperr.CodeOf(err) != apperr.OfferUnavailable {
		t.Fatalf("accepting again with another key: %v", err)
	}

	// Without an appointment: the hold becomes the booking.
	got, err := e.svc.AcceptSlotOffer(asPatient(b), next.ID, "accept-b")
	if err != nil {
		t.Fatal(err)
	}
	if got.Appointment.ID == next.ID || !got.Appointment.StartsAt.Equal(friday(15, 0)) || got.Previous.ID != "" {
		t.Fatalf("booked: %+v", got)
	}
	if e.seq(eventdata.AppointmentBooked, got.Appointment.ID) > e.seq(eventdata.HoldReleased, next.ID) {
		t.Fatal("the hold's release written before the booking that took its place")
	}
	if items, err := e.svc.Waitlist(asPatient(b), b); err != nil || len(items) != 0 {
		t.Fatalf("the patient still waits: %+v %v", items, err)
	}
	if again, err := e.svc.AcceptSlotOffer(asPatient(b), next.ID, "accept-b"); err != nil || again.Appointment.ID != got.Appointment.ID {
		t.Fatalf("retry of the booking accept: %+v %v", again, err)
	}
	e.checkInvariants()
}

// TestFiftyParallelAcceptsOfOneOffer: 50 accepts of one offer released at
// once give one booking (or one move): the booking path with 50 keys books
// once (49 OFFER_UNAVAILABLE), the move path with one key moves once and
// answers all 50 the same; checked by SQL.
func TestFiftyParallelAcceptsOfOneOffer(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc := e.addPractitioner()
	x := e.addPatient("Xavier")
	a, b := e.addPatient("Alice"), e.addPatient("Bruno")
	first, second := tuesday(10, 0).UTC(), tuesday(11, 0).UTC()
	b1, b2 := e.mustBook(x, doc, typeA, first), e.mustBook(x, doc, typeA, second)
	e.join(a, doc, typeA, business.JoinWaitlistInput{})
	cur := e.mustBook(b, doc, typeA, friday(9, 0))
	e.join(b, doc, typeA, business.JoinWaitlistInput{CurrentAppointmentID: cur.ID})

	e.cancel(x, b1.ID)
	offer := e.liveOffer(a, first)
	got := raceOutcomes(50, func(i int) error {
		_, err := e.svc.AcceptSlotOffer(asPatient(a), offer.ID, uuid.NewString())
		return err
	})
	if got[""] != 1 || got[apperr.OfferUnavailable] != 49 {
		t.Fatalf("booking path outcomes %v", got)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE person_id = $1 AND status = 'CONFIRMED' AND starts_at = $2`, a, first); n != 1 {
		t.Fatalf("%d bookings from 50 accepts", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1 AND convert_from(payload, 'UTF8')::jsonb->'data'->>'patientId' = $2`,
		eventdata.AppointmentBooked, a); n != 1 {
		t.Fatalf("%d AppointmentBooked", n)
	}

	e.cancel(x, b2.ID)
	moveOffer := e.liveOffer(b, second)
	var (
		mu  sync.Mutex
		ids = map[string]int{}
	)
	got = raceOutcomes(50, func(i int) error {
		m, err := e.svc.AcceptSlotOffer(asPatient(b), moveOffer.ID, "the-one-key")
		if err == nil {
			mu.Lock()
			ids[m.Appointment.ID+"@"+m.Appointment.StartsAt.Format(time.RFC3339)]++
			mu.Unlock()
		}
		return err
	})
	if got[""] != 50 || len(ids) != 1 || ids[cur.ID+"@"+second.Format(time.RFC3339)] != 50 {
		t.Fatalf("move path outcomes %v, answers %v", got, ids)
	}
	if n := e.events(eventdata.AppointmentRescheduled, cur.ID); n != 1 {
		t.Fatalf("%d AppointmentRescheduled from 50 accepts", n)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE person_id = $1 AND status = 'CONFIRMED'`, b); n != 1 {
		t.Fatalf("%d confirmed appointments of the mover", n)
	}
	e.checkInvariants()
}

// TestFreedSlotOfferedToExactlyOneWaitingPatient: 20 patients join at once;
// two booked slots are cancelled at once while 20 other patients race to
// book them. Every racer is turned away (each slot is occupied throughout:
// by its appointment, then by its offer); each slot is held by exactly one
// offer, the two offers go to two different entries, the oldest in line
// among them, and one SlotOffered was written per slot; checked by SQL.
func TestFreedSlotOfferedToExactlyOneWaitingPatient(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc := e.addPractitioner()
	x := e.addPatient("Xavier")
	slotA, slotB := tuesday(10, 0).UTC(), tuesday(14, 0).UTC()
	ba, bb := e.mustBook(x, doc, typeA, slotA), e.mustBook(x, doc, typeA, slotB)
	waiters := make([]string, 20)
	racers := make([]string, 20)
	for i := range waiters {
		waiters[i], racers[i] = e.addPatient("Waiter"), e.addPatient("Racer")
	}
	if got := raceOutcomes(20, func(i int) error {
		_, err := e.svc.JoinWaitlist(asPatient(waiters[i]), business.JoinWaitlistInput{PractitionerID: doc, AppointmentTypeID: typeA,
			LatestDate: time.Date(2030, 6, 8, 0, 0, 0, 0, time.UTC)})
		return err
	}); got[""] != 20 {
		t.Fatalf("joins %v", got)
	}
	got := raceOutcomes(22, func(i int) error {
		switch i {
		case 0:
			_, err := e.svc.Cancel(asPatient(x), business.CancelInput{AppointmentID: ba.ID, Reason: "away"})
			return err
		case 1:
			_, err := e.svc.Cancel(asPatient(x), business.CancelInput{AppointmentID: bb.ID, Reason: "away"})
			return err
		}
		slot := slotA
		if i%2 == 1 {
			slot = slotB
		}
		_, err := e.book(racers[i-2], doc, typeA, slot)
		return err
	})
	if got[""] != 2 || got[apperr.SlotUnavailable] != 20 {
		t.Fatalf("outcomes %v: want the two cancellations through and every racer turned away", got)
	}
	for _, slot := range []time.Time{slotA, slotB} {
		if n := e.count(`SELECT count(*) FROM appointments a JOIN waitlist_offers o ON o.id = a.id
			WHERE a.practitioner_id = $1 AND a.starts_at = $2 AND a.status = 'HELD'`, doc, slot); n != 1 || e.occupying(doc, slot) != 1 {
			t.Fatalf("%s: %d offers, %d occupying rows", slot, n, e.occupying(doc, slot))
		}
		if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1 AND (convert_from(payload, 'UTF8')::jsonb->'data'->>'startsAt')::timestamptz = $2`,
			eventdata.SlotOffered, slot); n != 1 {
			t.Fatalf("%s: %d SlotOffered", slot, n)
		}
	}
	if n := e.count(`SELECT count(DISTINCT entry_id) FROM waitlist_offers`); n != 2 {
		t.Fatalf("the two offers went to %d entries", n)
	}
	// Fair order: nobody was passed over but for the other offer in flight.
	if n := e.count(`SELECT count(*) FROM waitlist_entries e WHERE NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.entry_id = e.id)
		AND e.seq < (SELECT max(w.seq) FROM waitlist_entries w JOIN waitlist_offers o ON o.entry_id = w.id)`); n != 0 {
		t.Fatalf("%d older entries passed over", n)
	}
	e.checkInvariants()
}

// TestLeavingAndJoiningTheWaitlist: joining checks its terms and the
// current appointment; joining again keeps the entry; leaving withdraws the
// live offer, whose slot passes on at once.
func TestLeavingAndJoiningTheWaitlist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	x, a, b := e.addPatient("Xavier"), e.addPatient("Alice"), e.addPatient("Bruno")
	slot := tuesday(10, 0).UTC()
	booked := e.mustBook(x, doc, typeA, slot)
	saturday := time.Date(2030, 6, 8, 0, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		in   business.JoinWaitlistInput
		code apperr.Code
	}{
		"someone else's appointment": {business.JoinWaitlistInput{CurrentAppointmentID: booked.ID}, apperr.NotFound},
		"empty window":               {business.JoinWaitlistInput{EarliestMinute: ptr(600), LatestMinute: ptr(600)}, apperr.InvalidInput},
		"past date":                  {business.JoinWaitlistInput{LatestDate: time.Date(2030, 6, 2, 0, 0, 0, 0, time.UTC)}, apperr.InvalidInput},
		"no such weekday":            {business.JoinWaitlistInput{Weekdays: []int{8}}, apperr.InvalidInput},
		"a stranger as relative":     {business.JoinWaitlistInput{RelativeID: uuid.NewString()}, apperr.InvalidInput},
		"not bookable online":        {business.JoinWaitlistInput{AppointmentTypeID: typeOffline}, apperr.InvalidInput},
	} {
		in := c.in
		in.PractitionerID, in.AppointmentTypeID = doc, typeA
		if c.in.AppointmentTypeID != "" {
			in.AppointmentTypeID = c.in.AppointmentTypeID
		}
		if in.LatestDate.IsZero() {
			in.LatestDate = saturday
		}
		if _, err := e.svc.JoinWaitlist(asPatient(a), in); apperr.CodeOf(err) != c.code {
			t.Errorf("%s: want %s, got %v", name, c.code, err)
		}
	}
	first := e.join(a, doc, typeA, business.JoinWaitlistInput{})
	again := e.join(a, doc, typeA, business.JoinWaitlistInput{EarliestMinute: ptr(9 * 60)})
	if again.ID != first.ID || again.EarliestMinute != 9*60 {
		t.Fatalf("joining again: %+v, first %+v", again, first)
	}
	e.join(b, doc, typeA, business.JoinWaitlistInput{})

	e.cancel(x, booked.ID)
	offer := e.liveOffer(a, slot)
	left, err := e.svc.LeaveWaitlist(asPatient(a), first.ID)
	if err != nil || left.Status != store.EntryLeft {
		t.Fatalf("leave: %+v %v", left, err)
	}
	e.liveOffer(b, slot)
	if n := e.count(`SELECT count(*) FROM waitlist_offers WHERE id = $1 AND status = 'WITHDRAWN'`, offer.ID); n != 1 {
		t.Fatal("the leaving entry's offer was not withdrawn")
	}
	if _, err := e.svc.LeaveWaitlist(asPatient(b), first.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("leaving someone else's entry: %v", err)
	}
	// Five entries at most per account.
	for range business.MaxWaitlistEntries {
		e.join(a, e.addPractitioner(), typeA, business.JoinWaitlistInput{})
	}
	_, err = e.svc.JoinWaitlist(asPatient(a), business.JoinWaitlistInput{PractitionerID: doc, AppointmentTypeID: typeB, LatestDate: saturday})
	wantReason(t, err, apperr.InvalidInput, "TOO_MANY_WAITLIST_ENTRIES")
}

// TestErasureOffersTheFreedSlots: an erased patient's future appointment is
// cancelled and its slot offered to the waiting patient, the offer written
// before the cancellation; the erased patient's own entries are gone.
func TestErasureOffersTheFreedSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	x, a := e.addPatient("Xavier"), e.addPatient("Alice")
	slot := tuesday(10, 0).UTC()
	booked := e.mustBook(x, doc, typeA, slot)
	e.join(x, e.addPractitioner(), typeA, business.JoinWaitlistInput{})
	e.join(a, doc, typeA, business.JoinWaitlistInput{})
	if err := e.svc.ErasePatient(context.Background(), x, 2, nil); err != nil {
		t.Fatal(err)
	}
	offer := e.liveOffer(a, slot)
	if e.seq(eventdata.SlotOffered, offer.ID) > e.seq(eventdata.AppointmentCancelled, booked.ID) {
		t.Fatal("the offer written after the erasure's cancellation")
	}
	if n := e.count(`SELECT count(*) FROM waitlist_entries WHERE patient_id = $1`, x); n != 0 {
		t.Fatalf("%d entries of the erased patient", n)
	}
}

// TestNewHoursAreOfferedToWaitingPatients: opening hours that open Tuesday
// reach the waiting patients when booking's replica learns them: the
// oldest entry gets the earliest start that suits it, the next the one
// after (and every waiting entry is looked at again: Monday's too). An edit
// of the profile alone offers nothing.
func TestNewHoursAreOfferedToWaitingPatients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := uuid.NewString()
	closed := practice(doc, 1)
	var open []eventdata.OpeningHours
	for _, r := range closed.OpeningHours {
		if r.Weekday != 2 {
			open = append(open, r)
		}
	}
	closed.OpeningHours = open
	e.applyPractitioner(closed)
	a, b := e.addPatient("Alice"), e.addPatient("Bruno")
	tuesdays := business.JoinWaitlistInput{Weekdays: []int{2}, EarliestMinute: ptr(9 * 60)}
	e.join(a, doc, typeA, tuesdays)
	e.join(b, doc, typeA, tuesdays)
	d := e.addPatient("Denis")
	e.join(d, doc, typeA, business.JoinWaitlistInput{Weekdays: []int{1}, EarliestMinute: ptr(9 * 60)})
	renamed := closed
	renamed.Version, renamed.DisplayName = 2, "Dr C. Dubois"
	e.applyPractitioner(renamed)
	for _, p := range []string{a, b, d} {
		if e.offerOf(p) != nil {
			t.Fatal("offered a slot before Tuesday opened")
		}
	}
	e.applyPractitioner(practice(doc, 3))
	e.liveOffer(a, tuesday(9, 0).UTC())
	e.liveOffer(b, tuesday(9, 30).UTC()) // 09:15 overlaps the first offer
	e.liveOffer(d, time.Date(2030, 6, 3, 9, 0, 0, 0, paris).UTC())
	e.checkInvariants()
}

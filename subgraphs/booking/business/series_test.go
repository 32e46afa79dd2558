package business_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/business"
)

func (e *env) series(patient, practitioner string, first time.Time, every, count int) (business.BookedSeries, error) {
	return e.svc.BookSeries(asPatient(patient), business.SeriesInput{PractitionerID: practitioner, AppointmentTypeID: typeA,
		FirstStartsAt: first, EveryDays: every, Count: count, IdempotencyKey: uuid.NewString()})
}

// wantSession checks a series refusal: its code, reason and the session it names.
func wantSession(t testing.TB, err error, code apperr.Code, reason string, index int) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Reason != reason || e.Extensions["sessionIndex"] != index {
		t.Fatalf("want %s (%s) at session %d, got %v (%+v)", code, reason, index, err, e)
	}
}

// TestSeriesBookedAllOrNothing: ten weekly sessions are booked in one go
// (one row each with the series' id and index, one AppointmentBooked each
// with seriesId, one SeriesBooked listing them, one count against the day's
// limit); a retry with the key answers the same series. A series with one
// session taken, one in an absence, one the person is busy at or one beyond
// the booking horizon is refused naming that session, and writes nothing.
func TestSeriesBookedAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc, other := e.addPractitioner(), e.addPractitioner()
	pat := e.addPatient("Kiné")

	in := business.SeriesInput{PractitionerID: doc, AppointmentTypeID: typeA, FirstStartsAt: tuesday(10, 0), EveryDays: 7,
		Count: 10, IdempotencyKey: "series-1", Note: "genou droit"}
	got, err := e.svc.BookSeries(asPatient(pat), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 10 || got.Series.Count != 10 || got.Series.EveryDays != 7 {
		t.Fatalf("series %+v with %d sessions", got.Series, len(got.Sessions))
	}
	for i, a := range got.Sessions {
		if a.SeriesID != got.Series.ID || a.SeriesIndex != i+1 || a.SeriesCount != 10 || a.Status != "CONFIRMED" ||
			!a.StartsAt.Equal(tuesday(10, 0).AddDate(0, 0, 7*i)) || a.Note != "genou droit" {
			t.Fatalf("session %d: %+v", i+1, a)
		}
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE series_id = $1 AND status = 'CONFIRMED'`, got.Series.ID); n != 10 {
		t.Fatalf("%d session rows", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1
		AND convert_from(payload, 'UTF8')::jsonb->'data'->>'seriesId' = $2`, eventdata.AppointmentBooked, got.Series.ID); n != 10 {
		t.Fatalf("%d AppointmentBooked with the series id", n)
	}
	var data []byte
	if err := e.pool.QueryRow(context.Background(), `SELECT convert_from(payload, 'UTF8')::jsonb->'data' FROM outbox WHERE type = $1`,
		eventdata.SeriesBooked).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var ev eventdata.Series
	if err := json.Unmarshal(data, &ev); err != nil || ev.ID != got.Series.ID || len(ev.Sessions) != 10 || ev.Sessions[9].SeriesIndex != 10 {
		t.Fatalf("SeriesBooked %+v, %v", ev, err)
	}
	if n := e.count(`SELECT booked FROM booking_counts WHERE patient_id = $1 AND practitioner_id = $2`, pat, doc); n != 1 {
		t.Fatalf("the series counted %d times against the day's limit", n)
	}
	// Retried: the same series; the key for another request: refused.
	again, err := e.svc.BookSeries(asPatient(pat), in)
	if err != nil || again.Series.ID != got.Series.ID || len(again.Sessions) != 10 {
		t.Fatalf("retry: %+v, %v", again.Series, err)
	}
	in.Count = 9
	_, err = e.svc.BookSeries(asPatient(pat), in)
	wantCode(t, err, apperr.InvalidInput)

	// The agenda and the patient's appointments say where each stands.
	agenda, err := e.svc.Agenda(asPractitioner(doc), doc, tuesday(0, 0), tuesday(0, 0).AddDate(0, 0, 7))
	if err != nil || len(agenda) != 2 || agenda[1].SeriesID != got.Series.ID || agenda[1].SeriesIndex != 2 || agenda[1].SeriesCount != 10 {
		t.Fatalf("agenda %+v, %v", agenda, err)
	}
	upcoming := true
	page, err := e.svc.PatientAppointments(asPatient(pat), pat, business.PageInput{Upcoming: &upcoming})
	if err != nil || len(page.Appointments) != 10 || page.Appointments[0].SeriesIndex != 1 {
		t.Fatalf("the patient's appointments: %+v, %v", page, err)
	}

	rows, evs := e.count(`SELECT count(*) FROM appointments`), e.count(`SELECT count(*) FROM outbox`)
	// Session 4 of a series at 11:00 is taken.
	e.mustBook(e.addPatient("First"), doc, typeA, tuesday(11, 0).AddDate(0, 0, 21))
	rows, evs = rows+1, evs+1
	late := e.addPatient("Late")
	_, err = e.series(late, doc, tuesday(11, 0), 7, 5)
	wantSession(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken), 4)
	// Session 2 of a daily series falls in Wednesday's absence.
	_, err = e.series(late, doc, tuesday(10, 30), 1, 3)
	wantSession(t, err, apperr.InvalidInput, string(slots.ReasonInAbsence), 2)
	// Session 14 of a weekly series is beyond the type's 90-day horizon.
	_, err = e.series(late, doc, tuesday(16, 0), 7, 20)
	wantSession(t, err, apperr.InvalidInput, string(slots.ReasonBeyondHorizon), 14)
	// The person is with another practice at session 3.
	e.mustBook(late, other, typeA, tuesday(14, 0).AddDate(0, 0, 14))
	rows, evs = rows+1, evs+1
	_, err = e.series(late, doc, tuesday(14, 0), 7, 4)
	wantSession(t, err, apperr.SlotUnavailable, business.ReasonPatientOverlap, 3)
	for _, bad := range []business.SeriesInput{
		{Count: 1, EveryDays: 7}, {Count: 53, EveryDays: 7}, {Count: 3, EveryDays: 0}, {Count: 3, EveryDays: 29},
	} {
		bad.PractitionerID, bad.AppointmentTypeID, bad.FirstStartsAt, bad.IdempotencyKey = doc, typeA, tuesday(15, 0), uuid.NewString()
		_, err := e.svc.BookSeries(asPatient(late), bad)
		wantCode(t, err, apperr.InvalidInput)
	}
	if n := e.count(`SELECT count(*) FROM appointments`); n != rows {
		t.Fatalf("refused series left %d rows", n-rows)
	}
	if n := e.count(`SELECT count(*) FROM outbox`); n != evs {
		t.Fatalf("refused series emitted %d events", n-evs)
	}
	if n := e.count(`SELECT count(*) FROM series WHERE patient_id = $1`, late); n != 0 {
		t.Fatalf("refused series left %d series rows", n)
	}
	// Counted once: three more bookings today reach France's limit of four.
	for i := range 3 {
		e.mustBook(pat, doc, typeA, tuesday(15, 0).Add(time.Duration(i)*30*time.Minute))
	}
	_, err = e.book(pat, doc, typeA, tuesday(17, 0))
	wantCode(t, err, apperr.BookingLimitReached)
	e.checkInvariants()
}

// TestSeriesCancelAndReschedule: one session moves and cancels as any
// appointment; cancelSeries cancels a session and every later one (the
// patient until the cut-off, the practice any time), once; rescheduleSeries
// shifts a session and every later confirmed one by the same local date and
// time, all or nothing (a taken slot names its session and moves nothing),
// and a retry with its key answers the first move.
func TestSeriesCancelAndReschedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat, stranger := e.addPatient("Kiné"), e.addPatient("Stranger")
	b, err := e.series(pat, doc, tuesday(9, 0), 7, 10)
	if err != nil {
		t.Fatal(err)
	}
	s := b.Sessions
	evs := e.count(`SELECT count(*) FROM outbox`)

	// One session, as any appointment.
	m, err := e.svc.Reschedule(asPatient(pat), business.RescheduleInput{AppointmentID: s[1].ID, StartsAt: s[1].StartsAt.Add(2 * time.Hour),
		IdempotencyKey: uuid.NewString()})
	if err != nil || m.Appointment.SeriesID != b.Series.ID || m.Appointment.SeriesIndex != 2 {
		t.Fatalf("move one session: %+v, %v", m.Appointment, err)
	}
	if _, err := e.svc.Cancel(asPatient(pat), business.CancelInput{AppointmentID: s[2].ID, Reason: "away"}); err != nil {
		t.Fatal(err)
	}
	evs += 2

	_, err = e.svc.CancelSeries(asPatient(stranger), business.CancelSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[5].ID, Reason: "x"})
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.CancelSeries(asPatient(pat), business.CancelSeriesInput{SeriesID: uuid.NewString(), FromAppointmentID: s[5].ID, Reason: "x"})
	wantCode(t, err, apperr.NotFound)
	rest, err := e.svc.CancelSeries(asPatient(pat), business.CancelSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[5].ID, Reason: "better"})
	if err != nil || len(rest) != 5 {
		t.Fatalf("cancel the rest: %d, %v", len(rest), err)
	}
	for i, a := range rest {
		if a.SeriesIndex != 6+i || a.Status != "CANCELLED" || a.CancelledBy != "PATIENT" {
			t.Fatalf("cancelled %+v", a)
		}
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE series_id = $1 AND status = 'CONFIRMED'`, b.Series.ID); n != 4 {
		t.Fatalf("%d sessions left, want 1, 2, 4 and 5", n)
	}
	if _, err := e.svc.CancelSeries(asPatient(pat), business.CancelSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[5].ID, Reason: "again"}); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM outbox`) - evs; n != 5 {
		t.Fatalf("%d events for cancelling five sessions (twice)", n)
	}
	evs += 5

	// Sessions 4 and 5 (3 is cancelled) move a day later and an hour later; 5's new slot is taken first.
	taken := e.mustBook(stranger, doc, typeA, s[4].StartsAt.AddDate(0, 0, 1).Add(time.Hour))
	evs++
	move := business.RescheduleSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[3].ID,
		StartsAt: s[3].StartsAt.AddDate(0, 0, 1).Add(time.Hour), IdempotencyKey: "move-1"}
	_, err = e.svc.RescheduleSeries(asPatient(pat), move)
	wantSession(t, err, apperr.SlotUnavailable, string(slots.ReasonTaken), 5)
	if n := e.count(`SELECT count(*) FROM appointments WHERE id = ANY($1::uuid[]) AND starts_at = ANY($2::timestamptz[])`,
		[]string{s[3].ID, s[4].ID}, []time.Time{s[3].StartsAt, s[4].StartsAt}); n != 2 || e.count(`SELECT count(*) FROM outbox`) != evs {
		t.Fatal("a refused series move moved or emitted something")
	}
	if _, err := e.svc.Cancel(asPatient(stranger), business.CancelInput{AppointmentID: taken.ID, Reason: "freed"}); err != nil {
		t.Fatal(err)
	}
	moved, err := e.svc.RescheduleSeries(asPatient(pat), move)
	if err != nil || len(moved) != 2 {
		t.Fatalf("move the rest: %+v, %v", moved, err)
	}
	for i, mv := range moved {
		want := s[3+i].StartsAt.AddDate(0, 0, 1).Add(time.Hour)
		if mv.Appointment.ID != s[3+i].ID || !mv.Appointment.StartsAt.Equal(want) || !mv.Previous.StartsAt.Equal(s[3+i].StartsAt) {
			t.Fatalf("moved %d: %+v (from %s), want %s", i, mv.Appointment, mv.Previous.StartsAt, want)
		}
	}
	again, err := e.svc.RescheduleSeries(asPatient(pat), move)
	if err != nil || len(again) != 2 || !again[1].Appointment.StartsAt.Equal(moved[1].Appointment.StartsAt) {
		t.Fatalf("retried move: %+v, %v", again, err)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1`, eventdata.AppointmentRescheduled); n != 3 {
		t.Fatalf("%d AppointmentRescheduled, want 1 + 2", n)
	}
	// The practice moves them back.
	if _, err := e.svc.RescheduleSeries(asSecretary(doc), business.RescheduleSeriesInput{SeriesID: b.Series.ID,
		FromAppointmentID: s[3].ID, StartsAt: s[3].StartsAt, IdempotencyKey: "back"}); err != nil {
		t.Fatal(err)
	}

	// Inside the cut-off the patient can no longer cancel the series; the practice can.
	e.clock.Advance(s[0].StartsAt.Add(-time.Hour).Sub(e.clock.Now()))
	_, err = e.svc.CancelSeries(asPatient(pat), business.CancelSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[0].ID, Reason: "late"})
	wantCode(t, err, apperr.CancellationClosed)
	rest, err = e.svc.CancelSeries(asPractitioner(doc), business.CancelSeriesInput{SeriesID: b.Series.ID, FromAppointmentID: s[0].ID, Reason: "closing"})
	if err != nil || len(rest) != 10 {
		t.Fatalf("the practice cancels the series: %d, %v", len(rest), err)
	}
	if n := e.count(`SELECT count(*) FROM appointments WHERE series_id = $1 AND status = 'CONFIRMED'`, b.Series.ID); n != 0 {
		t.Fatalf("%d sessions still confirmed", n)
	}
	e.checkInvariants()
}

// TestSeriesRacingSingleBookings: in each round a series of five weekly
// sessions and 20 single bookings by other patients, each overlapping one of
// its sessions, are released at once. Checked by SQL: either the whole
// series holds (five confirmed sessions, its events) and every single that
// overlaps a session was refused, or the series was refused and no row of it
// exists — never part of a series — and no two occupying rows overlap.
func TestSeriesRacingSingleBookings(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, business.Options{}, nil, 8)
	doc := e.addPractitioner()
	racers := make([]string, 20)
	for i := range racers {
		racers[i] = e.addPatient(fmt.Sprintf("Racer%d", i))
	}
	outcomes := map[bool]int{}
	for round := range 3 {
		first := tuesday(9+3*round, 0)
		pat := e.addPatient(fmt.Sprintf("Series%d", round))
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			series  business.BookedSeries
			serr    error
			singles = map[string]time.Time{} // booked id → start
		)
		start := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			series, serr = e.series(pat, doc, first, 7, 5)
		}()
		for i, r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Later rounds spread the singles over the series' own few
				// milliseconds, so that both sides win some.
				time.Sleep(time.Duration(round) * (2*time.Millisecond + time.Duration(i)*100*time.Microsecond))
				// Session i%5, from 15 minutes before to 15 after its start: each overlaps it.
				at := first.AddDate(0, 0, 7*(i%5)).Add(time.Duration((i/5)%3-1) * 15 * time.Minute)
				a, err := e.book(r, doc, typeA, at)
				if err != nil && apperr.CodeOf(err) != apperr.SlotUnavailable {
					t.Errorf("single at %s: %v", at, err)
				}
				if err == nil {
					mu.Lock()
					singles[a.ID] = at
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		id := series.Series.ID
		outcomes[serr == nil]++
		if serr == nil {
			if n := e.count(`SELECT count(*) FROM appointments WHERE series_id = $1 AND status = 'CONFIRMED'`, id); n != 5 {
				t.Fatalf("round %d: the series holds %d of its 5 sessions", round, n)
			}
			if len(singles) != 0 {
				t.Fatalf("round %d: the series and %d overlapping singles were all booked", round, len(singles))
			}
			if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1 AND convert_from(payload, 'UTF8')::jsonb->'data'->>'seriesId' = $2`,
				eventdata.AppointmentBooked, id); n != 5 {
				t.Fatalf("round %d: %d AppointmentBooked of the series", round, n)
			}
		} else {
			wantCode(t, serr, apperr.SlotUnavailable)
			if n := e.count(`SELECT count(*) FROM appointments WHERE patient_id = $1`, pat) +
				e.count(`SELECT count(*) FROM series WHERE patient_id = $1`, pat); n != 0 {
				t.Fatalf("round %d: a refused series left %d rows", round, n)
			}
			if len(singles) == 0 {
				t.Fatalf("round %d: the series was refused and no single booked", round)
			}
		}
		if n := e.count(`SELECT count(*) FROM appointments a WHERE a.series_id IS NOT NULL AND
			(SELECT count(*) FROM appointments b WHERE b.series_id = a.series_id AND b.status = 'CONFIRMED') NOT IN (0, 5)`); n != 0 {
			t.Fatalf("round %d: %d rows of partial series", round, n)
		}
		e.checkInvariants()
	}
	t.Logf("series held in %d rounds, refused in %d", outcomes[true], outcomes[false])
}

// TestSeriesFreedSlotsAreOffered: the slots a series move or cancellation
// frees go to waiting patients first, in its transaction, each offer written
// before the event that freed its slot. A series moved a week on lands each
// session on the next one's old slot: only the first old slot is free, and
// only it is offered (offers are made once every session has moved, so none
// takes a slot a later session moves onto). Cancelling the last two sessions
// offers both slots, one to each of the next waiting patients.
func TestSeriesFreedSlotsAreOffered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, business.Options{})
	doc := e.addPractitioner()
	pat := e.addPatient("Kiné")
	w1, w2, w3 := e.addPatient("Une"), e.addPatient("Deux"), e.addPatient("Trois")
	b, err := e.series(pat, doc, tuesday(9, 0), 7, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := b.Sessions
	for _, w := range []string{w1, w2, w3} {
		e.join(w, doc, typeA, business.JoinWaitlistInput{LatestDate: time.Date(2030, 7, 31, 0, 0, 0, 0, time.UTC)})
	}

	moved, err := e.svc.RescheduleSeries(asPatient(pat), business.RescheduleSeriesInput{SeriesID: b.Series.ID,
		FromAppointmentID: s[0].ID, StartsAt: s[0].StartsAt.AddDate(0, 0, 7), IdempotencyKey: "week-on"})
	if err != nil || len(moved) != 4 {
		t.Fatalf("a week on: %d moved, %v", len(moved), err)
	}
	first := e.liveOffer(w1, s[0].StartsAt)
	if e.offerOf(w2) != nil || e.offerOf(w3) != nil {
		t.Fatal("a slot a session moved onto was offered")
	}
	if n := e.events(eventdata.SlotOffered, ""); n != 1 {
		t.Fatalf("%d SlotOffered, want 1", n)
	}
	if e.seq(eventdata.SlotOffered, first.ID) > e.seq(eventdata.AppointmentRescheduled, s[0].ID) {
		t.Fatal("SlotOffered written after the move that freed the slot")
	}

	if _, err := e.svc.CancelSeries(asPatient(pat), business.CancelSeriesInput{SeriesID: b.Series.ID,
		FromAppointmentID: s[2].ID, Reason: "better"}); err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{w2, w3} {
		o := e.liveOffer(w, moved[2+i].Appointment.StartsAt)
		if e.seq(eventdata.SlotOffered, o.ID) > e.seq(eventdata.AppointmentCancelled, s[2+i].ID) {
			t.Fatalf("SlotOffered written after the cancellation of session %d", 3+i)
		}
	}
	e.checkInvariants()
}

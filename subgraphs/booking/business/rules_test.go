package business_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/subgraphs/booking/business"
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

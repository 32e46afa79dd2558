package business_test

import (
	"sync"
	"testing"

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
	e := newEnv(t, business.Options{})
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

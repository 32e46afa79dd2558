package availability_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/business"
)

func listAs(t testing.TB, svc *business.Service, person, pid, typeID, from, to string) []slots.Slot {
	t.Helper()
	out, errs := svc.ListSlots(context.Background(), []business.SlotsQuery{{PractitionerID: pid, TypeID: typeID, From: from, To: to, Person: person}})
	if errs[0] != nil {
		t.Fatalf("list %s as %q: %v", typeID, person, errs[0])
	}
	return out[0]
}

// TestClosedTypeListsOnlyForReturningPatients: a type closed to new patients
// lists nothing to an anonymous caller or a new patient, and to a patient
// whose first appointment with the practice (learnt from booking events:
// confirmed or a no-show, for themselves or as the relative attending) is at
// T, exactly the returning patient's slots after T, as booking accepts them.
// A cancellation, or an anonymisation after an erasure, makes them new again.
func TestClosedTypeListsOnlyForReturningPatients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	p := snapshot("r1", 1)
	mustApplyP(t, e, p)
	from, to := date(0), date(27)
	if n := len(list(t, e.svc, "r1", "follow-r1", from, to)); n != 0 {
		t.Fatalf("anonymous caller: %d slots of a type closed to new patients", n)
	}
	if n := len(listAs(t, e.svc, "newbie", "r1", "follow-r1", from, to)); n != 0 {
		t.Fatalf("new patient: %d slots of a type closed to new patients", n)
	}
	if len(listAs(t, e.svc, "newbie", "r1", "consult-r1", from, to)) == 0 {
		t.Fatal("new patient: no slots of a type open to them")
	}

	first := at(8, 9, 0) // a weekday morning consultation, a week on
	a := appointment(p, "first", "consult-r1", first, 1, eventdata.StatusConfirmed)
	a.PatientID = "regular"
	mustApplyA(t, e, a)
	var want []slots.Slot
	for _, s := range expectedAs(t, e.svc, p, []eventdata.Appointment{a}, "follow-r1", from, to, start, false) {
		if s.Start.After(first) {
			want = append(want, s)
		}
	}
	if got := listAs(t, e.svc, "regular", "r1", "follow-r1", from, to); len(want) == 0 || !sameSlots(got, want) {
		t.Fatalf("returning from %s: got %d slots, want %d", first, len(got), len(want))
	}
	if n := len(listAs(t, e.svc, "newbie", "r1", "follow-r1", from, to)); n != 0 {
		t.Fatalf("another patient's appointment made a new patient returning (%d slots)", n)
	}

	cancelled := a
	cancelled.Version, cancelled.Status = 2, eventdata.StatusCancelled
	mustApplyA(t, e, cancelled)
	mustApplyA(t, e, a) // a late replay of the booking changes nothing
	if n := len(listAs(t, e.svc, "regular", "r1", "follow-r1", from, to)); n != 0 {
		t.Fatalf("after the cancellation: %d slots", n)
	}

	// A relative attending is the returning patient, not the account; a
	// no-show counts; the anonymisation of an erasure forgets them.
	kid := appointment(p, "kid", "consult-r1", at(-20, 9, 0), 2, eventdata.StatusNoShow)
	kid.PatientID, kid.RelativeID = "regular", "kid-1"
	mustApplyA(t, e, kid)
	if len(listAs(t, e.svc, "kid-1", "r1", "follow-r1", from, to)) == 0 || len(listAs(t, e.svc, "regular", "r1", "follow-r1", from, to)) != 0 {
		t.Fatal("the relative who attended is the returning patient")
	}
	anon := kid
	anon.Version, anon.PatientID, anon.RelativeID, anon.ErasedPersonID = 3, "someone-new", "", "kid-1"
	mustApplyA(t, e, anon)
	if n := len(listAs(t, e.svc, "kid-1", "r1", "follow-r1", from, to)); n != 0 {
		t.Fatalf("after the erasure: %d slots", n)
	}
}

// TestNewPatientNeverSeesClosedSlotsWhileOthersBook: while other patients'
// bookings and cancellations stream in (some becoming returning patients),
// a new patient listing at the same time never gets a slot of the closed
// type, and a returning patient always gets only bookable ones (open in the
// new model, after their first appointment).
func TestNewPatientNeverSeesClosedSlotsWhileOthersBook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	p := snapshot("r2", 1)
	mustApplyP(t, e, p)
	reg := appointment(p, "reg", "consult-r2", at(-30, 9, 0), 1, eventdata.StatusNoShow)
	reg.PatientID = "regular"
	mustApplyA(t, e, reg)
	from, to := date(0), date(20)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(stop)
		for i := range 60 {
			a := appointment(p, fmt.Sprintf("o%d", i), "consult-r2", at(1+i%10, 9, 0).Add(time.Duration(i/10)*20*time.Minute), 1, eventdata.StatusConfirmed)
			a.PatientID = fmt.Sprintf("other-%d", i)
			if _, err := e.svc.ApplyAppointment(context.Background(), a); err != nil {
				errs <- err
				return
			}
			if i%3 == 0 {
				a.Version, a.Status = 2, eventdata.StatusCancelled
				if _, err := e.svc.ApplyAppointment(context.Background(), a); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, lerrs := e.svc.ListSlots(context.Background(), []business.SlotsQuery{
					{PractitionerID: "r2", TypeID: "follow-r2", From: from, To: to, Person: "newbie"},
					{PractitionerID: "r2", TypeID: "follow-r2", From: from, To: to, Person: "regular"},
				})
				if lerrs[0] != nil || lerrs[1] != nil {
					errs <- fmt.Errorf("list: %v %v", lerrs[0], lerrs[1])
					return
				}
				if len(out[0]) != 0 {
					errs <- fmt.Errorf("a new patient was shown %d slots of a closed type", len(out[0]))
					return
				}
				if len(out[1]) == 0 {
					errs <- fmt.Errorf("a returning patient was shown none")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

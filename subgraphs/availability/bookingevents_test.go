package availability_test

import (
	"context"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// TestSlotOfferedOccupiesAndSeriesBookedIsPassedOver: booking-events as the
// consumer gets them. An earlier-slot offer (SlotOffered: its hold, HELD)
// occupies its slot as a hold does. A series' SeriesBooked carries the series,
// not an appointment (no status; its sessions come as their own
// AppointmentBooked), so it is passed over: applied as one, it would leave an
// entry under the series id in the patient's returning-patient hash.
func TestSlotOfferedOccupiesAndSeriesBookedIsPassedOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "")
	ctx := context.Background()
	p := snapshot("p-ev", 1)
	mustApplyP(t, e, p)
	slot := at(1, 9, 0) // a Tuesday morning consultation
	if !containsStart(list(t, e.svc, p.ID, "consult-p-ev", date(1), date(1)), slot) {
		t.Fatalf("%s is not open to start with", slot)
	}

	offer := appointment(p, "offer-1", "consult-p-ev", slot, 1, eventdata.StatusHeld)
	expires := start.Add(15 * time.Minute)
	offer.HoldExpiresAt = &expires
	ev, err := events.New("/careslot/booking", eventdata.SlotOffered, offer.PractitionerID, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ApplyBookingEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	offered := list(t, e.svc, p.ID, "consult-p-ev", date(1), date(1))
	if containsStart(offered, slot) {
		t.Fatalf("the offered slot %s is still listed open", slot)
	}

	session := appointment(p, "session-1", "consult-p-ev", at(1, 10, 0), 1, eventdata.StatusConfirmed)
	session.SeriesID, session.SeriesIndex = "series-1", 1
	series := eventdata.Series{ID: "series-1", PractitionerID: p.ID, Country: p.Country, PatientID: session.PatientID,
		AppointmentTypeID: session.AppointmentTypeID, EveryDays: 7, Count: 2, Sessions: []eventdata.Appointment{session}}
	ev, err = events.New("/careslot/booking", eventdata.SeriesBooked, series.PractitionerID, series)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ApplyBookingEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := list(t, e.svc, p.ID, "consult-p-ev", date(1), date(1)); !sameSlots(got, offered) {
		t.Fatal("SeriesBooked changed the slots (its sessions have their own events)")
	}
	if n, err := e.rdb.Exists(ctx, store.Keys{Prefix: e.prefix}.Seen(p.ID, series.PatientID)).Result(); err != nil || n != 0 {
		t.Fatalf("SeriesBooked was applied as an appointment of the patient (%d keys, %v)", n, err)
	}
}

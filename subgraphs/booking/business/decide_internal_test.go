package business

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// TestRestrictionIsOnlineOnly: the booking decision refuses an online
// booking of a restricted account (BOOKING_RESTRICTED with extensions.until)
// and lets a desk booking (bookRequest.desk, set by bookAtDesk)
// through, which the store then writes without the restriction check
// (store.Booking.AtDesk).
func TestRestrictionIsOnlineOnly(t *testing.T) {
	s := New(nil, countries.MustDefault(), Options{})
	paris, _ := time.LoadLocation("Europe/Paris")
	doc, loc, typ := uuid.NewString(), uuid.NewString(), uuid.NewString()
	snap := eventdata.Practitioner{ID: doc, Version: 1, Country: "fr",
		Locations:        []eventdata.Location{{ID: loc, Country: "fr", TimeZone: "Europe/Paris"}},
		AppointmentTypes: []eventdata.AppointmentType{{ID: typ, DurationMinutes: 30, NewPatientsAllowed: true, OnlineBookable: true, BookingHorizonDays: 90}},
		OpeningHours: []eventdata.OpeningHours{{ID: uuid.NewString(), LocationID: loc, Weekday: 2, StartTime: "08:00", EndTime: "18:00",
			StepMinutes: 15, AppointmentTypeIDs: []string{typ}}}}
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := s.decodePractice(store.Schedule{PractitionerID: doc, Country: "fr", Version: 1, Snapshot: raw})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := pr.plan(doc, typ)
	if !ok {
		t.Fatal("no plan")
	}
	now := time.Date(2030, 6, 3, 7, 0, 0, 0, paris)
	until := now.Add(90 * 24 * time.Hour)
	read := store.BookRead{ScheduleFound: true, Seen: true, Restriction: &store.Restriction{Until: until, NoShows: 3}}
	req := bookRequest{in: BookInput{PractitionerID: doc, AppointmentTypeID: typ}, me: uuid.NewString(), key: "k",
		start: time.Date(2030, 6, 4, 10, 0, 0, 0, paris).UTC()}

	_, err = decideBooking(req, p, read, now, store.DayLimit{Max: 4})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BookingRestricted || e.Extensions["until"] != until.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("online: %v", err)
	}
	req.desk = true
	b, err := decideBooking(req, p, read, now, store.DayLimit{Max: 4})
	if err != nil || !b.AtDesk || b.Appointment.StartsAt != req.start {
		t.Fatalf("at the desk: %+v, %v", b, err)
	}
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The booking statement itself refuses an online booking of a restricted
// account (nothing written, WhyNoRow says why) and writes a desk booking
// (AtDesk) of the same account; a lifted restriction refuses nothing.
func TestBookChecksTheRestrictionOnlineOnly(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "booking")
	st := store.New(pool)
	ctx := context.Background()
	if err := st.EnsurePartitions(ctx, []string{"fr"}); err != nil {
		t.Fatal(err)
	}
	doc, pat := uuid.NewString(), uuid.NewString()
	now := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO booking_restrictions (patient_id, practitioner_id, country, until, no_shows)
		VALUES ($1, $2, 'fr', $3, 3)`, pat, doc, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	booking := func(hour int, atDesk bool) store.Booking {
		start := time.Date(2030, 1, 2, hour, 0, 0, 0, time.UTC)
		a := store.Appointment{Country: "fr", ID: uuid.NewString(), PractitionerID: doc, PatientID: pat, PersonID: pat,
			AppointmentTypeID: uuid.NewString(), LocationID: uuid.NewString(), Status: store.StatusConfirmed, StartsAt: start,
			EndsAt: start.Add(30 * time.Minute), BlockedFrom: start, BlockedUntil: start.Add(30 * time.Minute), Version: 1, CreatedAt: now}
		ev, err := events.New("/careslot/booking", "careslot.booking.AppointmentBooked.v1", a.ID, map[string]string{"id": a.ID})
		if err != nil {
			t.Fatal(err)
		}
		return store.Booking{Appointment: a, Topic: "booking-events", Event: ev, Limit: store.DayLimit{Day: now, Max: 10},
			Key:    store.NewKey{Subject: pat, Key: uuid.NewString(), Operation: "book", RequestHash: []byte{1}, Response: []byte(`{}`)},
			AtDesk: atDesk, Now: now}
	}
	online := booking(9, false)
	if ok, err := st.Book(ctx, online); ok || err != nil {
		t.Fatalf("online booking of a restricted account: %v, %v", ok, err)
	}
	why, err := st.WhyNoRow(ctx, store.NoRowQuery{Subject: pat, Key: online.Key.Key, Country: "fr", PractitionerID: doc,
		BlockedFrom: online.Appointment.BlockedFrom, BlockedUntil: online.Appointment.BlockedUntil, Now: now, PatientID: pat})
	if err != nil || why.Restriction == nil || why.Restriction.NoShows != 3 || why.HasKey {
		t.Fatalf("why no row: %+v, %v", why, err)
	}
	if ok, err := st.Book(ctx, booking(10, true)); !ok || err != nil {
		t.Fatalf("desk booking of a restricted account: %v, %v", ok, err)
	}
	if ok, err := st.LiftRestriction(ctx, pat, doc, "test", now); !ok || err != nil {
		t.Fatalf("lift: %v, %v", ok, err)
	}
	if ok, err := st.Book(ctx, booking(11, false)); !ok || err != nil {
		t.Fatalf("online booking after the lift: %v, %v", ok, err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM appointments WHERE patient_id = $1`, pat).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d appointments, want the desk's and the one after the lift (%v)", n, err)
	}
}

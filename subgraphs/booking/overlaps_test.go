package booking_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/loadgen"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// GET /internal/overlaps counts the double bookings for a load generator
// (loadgen.DoubleBookings): under the constraint, adjacent and cancelled rows
// count nothing; once the test drops it, a row overlapping two confirmed
// ones counts two pairs.
func TestOverlapsHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.NewDatabase(t, "booking")
	if err := booking.EnsurePartitions(ctx, pool, countries.MustDefault().Codes()); err != nil {
		t.Fatal(err)
	}
	sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: countries.MustDefault(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sg.OverlapsHandler())
	defer srv.Close()
	count := func(want int) {
		t.Helper()
		if n, err := loadgen.DoubleBookings(ctx, srv.URL+booking.OverlapsPath); err != nil || n != want {
			t.Fatalf("%d double bookings (%v), want %d", n, err, want)
		}
	}
	doc, st := uuid.NewString(), store.New(pool)
	insert := func(status string, h, m int) {
		t.Helper()
		person, start := uuid.NewString(), time.Date(2030, 1, 1, h, m, 0, 0, time.UTC)
		a := store.Appointment{Country: "fr", ID: uuid.NewString(), PractitionerID: doc, PatientID: person, PersonID: person,
			AppointmentTypeID: uuid.NewString(), LocationID: uuid.NewString(), Status: status,
			StartsAt: start, EndsAt: start.Add(30 * time.Minute), BlockedFrom: start, BlockedUntil: start.Add(30 * time.Minute)}
		if err := st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Insert(ctx, a); return err }); err != nil {
			t.Fatal(err)
		}
	}
	insert(store.StatusConfirmed, 10, 0)
	insert(store.StatusConfirmed, 10, 30)
	insert(store.StatusCancelled, 10, 15)
	count(0)
	if _, err := pool.Exec(ctx, `ALTER TABLE appointments_fr DROP CONSTRAINT appointments_fr_no_overlap`); err != nil {
		t.Fatal(err)
	}
	insert(store.StatusConfirmed, 10, 15) // overlaps 10:00–10:30 and 10:30–11:00
	count(2)
}

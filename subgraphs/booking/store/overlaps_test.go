package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// CountDoubleBookings counts what the exclusion constraint forbids: with the
// constraint in place adjacent and cancelled rows count nothing; once the
// test drops it, one overlapping confirmed pair counts one.
func TestCountDoubleBookings(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "booking")
	st := store.New(pool)
	ctx := context.Background()
	if err := st.EnsurePartitions(ctx, []string{"fr"}); err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2030, 1, 1, h, m, 0, 0, time.UTC) }
	doc := uuid.NewString()
	insert := func(status string, from, to time.Time) {
		t.Helper()
		person := uuid.NewString()
		a := store.Appointment{Country: "fr", ID: uuid.NewString(), PractitionerID: doc, PatientID: person, PersonID: person,
			AppointmentTypeID: uuid.NewString(), LocationID: uuid.NewString(), Status: status,
			StartsAt: from, EndsAt: to, BlockedFrom: from, BlockedUntil: to}
		if err := st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Insert(ctx, a); return err }); err != nil {
			t.Fatal(err)
		}
	}
	count := func(want int) {
		t.Helper()
		if n, err := st.CountDoubleBookings(ctx); err != nil || n != want {
			t.Fatalf("%d double bookings (%v), want %d", n, err, want)
		}
	}
	insert(store.StatusConfirmed, at(10, 0), at(10, 30))
	insert(store.StatusConfirmed, at(10, 30), at(11, 0))
	insert(store.StatusCancelled, at(10, 0), at(11, 0))
	count(0)
	if _, err := pool.Exec(ctx, `ALTER TABLE appointments_fr DROP CONSTRAINT appointments_fr_no_overlap`); err != nil {
		t.Fatal(err)
	}
	insert(store.StatusConfirmed, at(10, 15), at(10, 45))
	count(2) // 10:15–10:45 overlaps both 10:00–10:30 and 10:30–11:00
}

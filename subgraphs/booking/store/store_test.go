package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The constraints themselves, without the decision in front of them: an
// overlapping occupying row of a practitioner, or an overlapping confirmed
// appointment of a person (in any country), inserts nothing and says which.
func TestConstraints(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "booking")
	st := store.New(pool)
	ctx := context.Background()
	// A country no code mentions gets its partition and constraints too.
	if err := st.EnsurePartitions(ctx, []string{"fr", "qq"}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'appointments_qq'::regclass AND contype = 'x'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("appointments_qq has %d exclusion constraints (%v)", n, err)
	}
	at := func(h, m int) time.Time { return time.Date(2030, 1, 1, h, m, 0, 0, time.UTC) }
	row := func(country, practitioner, person, status string, from, to time.Time) store.Appointment {
		a := store.Appointment{Country: country, ID: uuid.NewString(), PractitionerID: practitioner, PatientID: person, PersonID: person,
			AppointmentTypeID: uuid.NewString(), LocationID: uuid.NewString(), Status: status,
			StartsAt: from, EndsAt: to, BlockedFrom: from, BlockedUntil: to}
		if status == store.StatusHeld {
			exp := at(0, 5)
			a.HoldExpiresAt = &exp
		}
		return a
	}
	insert := func(a store.Appointment) error {
		return st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Insert(ctx, a); return err })
	}
	for _, cc := range []string{"fr", "qq"} {
		doc, pat := uuid.NewString(), uuid.NewString()
		if err := insert(row(cc, doc, pat, store.StatusConfirmed, at(10, 0), at(10, 30))); err != nil {
			t.Fatal(err)
		}
		// 10:15–10:45 overlaps 10:00–10:30 without sharing its start.
		if err := insert(row(cc, doc, uuid.NewString(), store.StatusConfirmed, at(10, 15), at(10, 45))); !errors.Is(err, store.ErrPractitionerOverlap) {
			t.Fatalf("%s: overlapping booking: %v", cc, err)
		}
		if err := insert(row(cc, doc, uuid.NewString(), store.StatusHeld, at(9, 45), at(10, 15))); !errors.Is(err, store.ErrPractitionerOverlap) {
			t.Fatalf("%s: overlapping hold: %v", cc, err)
		}
		if err := insert(row(cc, uuid.NewString(), pat, store.StatusConfirmed, at(10, 20), at(10, 40))); !errors.Is(err, store.ErrPersonOverlap) {
			t.Fatalf("%s: overlapping person: %v", cc, err)
		}
		// Touching is not overlapping; cancelled rows occupy nothing.
		if err := insert(row(cc, doc, pat, store.StatusConfirmed, at(10, 30), at(11, 0))); err != nil {
			t.Fatalf("%s: adjacent: %v", cc, err)
		}
		if err := insert(row(cc, doc, pat, store.StatusCancelled, at(10, 0), at(11, 0))); err != nil {
			t.Fatalf("%s: cancelled: %v", cc, err)
		}
	}

	// One person, two countries: the person constraint spans the partitions,
	// for an insert as for a move, and a cancellation frees the person.
	pat := uuid.NewString()
	inFR := row("fr", uuid.NewString(), pat, store.StatusConfirmed, at(14, 0), at(14, 30))
	if err := insert(inFR); err != nil {
		t.Fatal(err)
	}
	if err := insert(row("qq", uuid.NewString(), pat, store.StatusConfirmed, at(14, 15), at(14, 45))); !errors.Is(err, store.ErrPersonOverlap) {
		t.Fatalf("the same person in another country at the same time: %v", err)
	}
	inQQ := row("qq", uuid.NewString(), pat, store.StatusConfirmed, at(15, 0), at(15, 30))
	if err := insert(inQQ); err != nil {
		t.Fatal(err)
	}
	moved := inQQ
	moved.StartsAt, moved.EndsAt, moved.BlockedFrom, moved.BlockedUntil = at(14, 20), at(14, 50), at(14, 20), at(14, 50)
	if err := st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Move(ctx, moved, at(0, 0)); return err }); !errors.Is(err, store.ErrPersonOverlap) {
		t.Fatalf("a move onto the person's appointment in another country: %v", err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Cancel(ctx, "fr", inFR.ID, "PATIENT", "changed my mind", at(0, 0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Move(ctx, moved, at(0, 0)); return err }); err != nil {
		t.Fatalf("the person is free once the other appointment is cancelled: %v", err)
	}
	// person_appointments holds exactly the confirmed rows.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT person_id, during, country, appointment_id FROM person_appointments
		EXCEPT SELECT person_id, tstzrange(starts_at, ends_at), country, id FROM appointments WHERE status = 'CONFIRMED') d`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d person rows without their confirmed appointment (%v)", n, err)
	}
	var rows, confirmed int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM person_appointments), (SELECT count(*) FROM appointments WHERE status = 'CONFIRMED')`).Scan(&rows, &confirmed); err != nil || rows != confirmed {
		t.Fatalf("%d person rows for %d confirmed appointments (%v)", rows, confirmed, err)
	}
}

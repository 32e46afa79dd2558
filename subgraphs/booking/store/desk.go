package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Desk patients (ADR 21) in the patient replica: rows of patients with the
// practice holding them (practitioner_id) and, once claimed, the account
// that claimed them (claimed_by).

// DeskPatient is a practice's desk patient in the replica.
type DeskPatient struct {
	ID             string
	Version        int64
	PractitionerID string
	FirstName      string
	LastName       string
	Phone          string
	ClaimedBy      string // "" while unclaimed
}

// PutDeskPatient stores a desk patient snapshot unless the replica has the
// same or a newer version, and reports whether it did.
func (s *Store) PutDeskPatient(ctx context.Context, d DeskPatient) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, phone, practitioner_id, claimed_by)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, nullif($7, '')::uuid)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, first_name = EXCLUDED.first_name,
			last_name = EXCLUDED.last_name, phone = EXCLUDED.phone, practitioner_id = EXCLUDED.practitioner_id,
			claimed_by = EXCLUDED.claimed_by, updated_at = now()
		WHERE patients.version < EXCLUDED.version`,
		d.ID, d.Version, d.FirstName, d.LastName, d.Phone, d.PractitionerID, d.ClaimedBy)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// DeskRecord is what a desk booking needs of its desk patient.
type DeskRecord struct {
	PractitionerID string
	// ClaimedBy is the account that claimed the record, "" while unclaimed
	// or when that account has been erased since.
	ClaimedBy string
}

// DeskPatientRecord reads a desk patient from the replica (ErrNotFound when
// the replica has no desk patient of that id).
func (s *Store) DeskPatientRecord(ctx context.Context, id string) (DeskRecord, error) {
	var r DeskRecord
	err := s.pool.QueryRow(ctx, `SELECT d.practitioner_id::text, coalesce(CASE WHEN acc.erased_at IS NULL THEN d.claimed_by::text END, '')
		FROM patients d LEFT JOIN patients acc ON acc.id = d.claimed_by
		WHERE d.id = $1 AND d.practitioner_id IS NOT NULL`, id).Scan(&r.PractitionerID, &r.ClaimedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// KnowsPatient reports whether the practitioner has (or had) an appointment
// of any status with the account patientID: whom the practice knows from its
// agenda. A desk patient is no account (false).
func (s *Store) KnowsPatient(ctx context.Context, practitionerID, patientID string) (bool, error) {
	var known bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM appointments WHERE patient_id = $2 AND practitioner_id = $1
		AND status IN ('CONFIRMED', 'CANCELLED', 'NO_SHOW'))
		AND NOT EXISTS (SELECT 1 FROM patients WHERE id = $2 AND practitioner_id IS NOT NULL)`, practitionerID, patientID).Scan(&known)
	return known, err
}

// Claim is what claiming a desk patient changed: the appointments moved to
// the account, and those kept on the desk record because the account has a
// confirmed appointment overlapping them.
type Claim struct {
	Moved, Kept []Appointment
}

// ClaimDeskPatient records in the replica that account claimed the desk
// patient deskID (at version, of practitionerID) and moves the record's
// appointments to the account (patient and person; the person triggers of
// migrations 2 and 4 move each confirmed one's person row, and the person
// exclusion constraint checks it). An appointment that would overlap one of
// the account's confirmed appointments stays on the desk record (its update
// is undone to a savepoint) and is returned in Kept. Rows are locked in
// (country, id) order. Replays find nothing left to move.
func (t *Tx) ClaimDeskPatient(ctx context.Context, deskID, account, practitionerID string, version int64, now time.Time) (Claim, error) {
	var out Claim
	if _, err := t.tx.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, practitioner_id, claimed_by)
		VALUES ($1, $2, '', '', $3, $4)
		ON CONFLICT (id) DO UPDATE SET version = greatest(patients.version, EXCLUDED.version),
			claimed_by = EXCLUDED.claimed_by, updated_at = now()`, deskID, version, practitionerID, account); err != nil {
		return out, err
	}
	rows, err := t.tx.Query(ctx, `SELECT country, id::text FROM appointments WHERE patient_id = $1 AND relative_id IS NULL
		ORDER BY country, id FOR UPDATE`, deskID)
	if err != nil {
		return out, err
	}
	type key struct{ country, id string }
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
		var k key
		err := r.Scan(&k.country, &k.id)
		return k, err
	})
	if err != nil {
		return out, err
	}
	for _, k := range keys {
		a, err := t.moveToAccount(ctx, k.country, k.id, account, now)
		switch {
		case errors.Is(err, ErrPersonOverlap):
			kept, err := scanAppointment(t.tx.QueryRow(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
				WHERE a.country = $1 AND a.id = $2`, k.country, k.id))
			if err != nil {
				return out, err
			}
			out.Kept = append(out.Kept, kept)
		case err != nil:
			return out, err
		default:
			out.Moved = append(out.Moved, a)
		}
	}
	return out, nil
}

// moveToAccount gives one appointment to account, inside a savepoint so that
// a person overlap undoes it alone (ErrPersonOverlap).
func (t *Tx) moveToAccount(ctx context.Context, country, id, account string, now time.Time) (Appointment, error) {
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return Appointment{}, err
	}
	a, err := scanAppointment(sp.QueryRow(ctx, returning(`UPDATE appointments SET patient_id = $3, person_id = $3,
		version = version + 1, updated_at = $4 WHERE country = $1 AND id = $2`), country, id, account, now))
	if err != nil {
		_ = sp.Rollback(ctx)
		return Appointment{}, overlapError(err)
	}
	return a, sp.Commit(ctx)
}

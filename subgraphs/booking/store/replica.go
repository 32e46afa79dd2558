package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Schedule is the replica of a practitioner's schedule: the practitioner
// event snapshot (eventdata.Practitioner) at a version.
type Schedule struct {
	PractitionerID string
	Country        string
	Version        int64
	Snapshot       json.RawMessage
}

// PutSchedule stores a schedule snapshot unless the replica already has the
// same or a newer version, and reports whether it did: replays and
// out-of-order deliveries are harmless.
func (s *Store) PutSchedule(ctx context.Context, sc Schedule) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO practitioner_schedules (practitioner_id, country, version, snapshot)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (practitioner_id) DO UPDATE SET country = EXCLUDED.country, version = EXCLUDED.version,
			snapshot = EXCLUDED.snapshot, updated_at = now()
		WHERE practitioner_schedules.version < EXCLUDED.version`,
		sc.PractitionerID, sc.Country, sc.Version, []byte(sc.Snapshot))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Schedule reads a practitioner's schedule replica.
func (s *Store) Schedule(ctx context.Context, practitionerID string) (Schedule, error) {
	sc := Schedule{PractitionerID: practitionerID}
	var snap []byte
	err := s.pool.QueryRow(ctx, `SELECT country, version, snapshot FROM practitioner_schedules WHERE practitioner_id = $1`,
		practitionerID).Scan(&sc.Country, &sc.Version, &snap)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrNotFound
	}
	sc.Snapshot = snap
	return sc, err
}

// Relative is a patient's relative in the replica.
type Relative struct {
	ID        string `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Patient is the replica of a patient account.
type Patient struct {
	ID        string
	Version   int64
	FirstName string
	LastName  string
	Phone     string
	Relatives []Relative
	Erased    bool
}

// PutPatient stores a patient snapshot unless the replica has the same or a
// newer version (an erasure's tombstone has the erasure's: only a later
// registration of the same account, at a higher version, revives it); it
// reports whether it did.
func (s *Store) PutPatient(ctx context.Context, p Patient) (bool, error) {
	rel, err := json.Marshal(nonNil(p.Relatives))
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, phone, relatives)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, first_name = EXCLUDED.first_name,
			last_name = EXCLUDED.last_name, phone = EXCLUDED.phone, relatives = EXCLUDED.relatives, erased_at = NULL,
			updated_at = now()
		WHERE patients.version < EXCLUDED.version`,
		p.ID, p.Version, p.FirstName, p.LastName, p.Phone, rel)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Erased is what erasing a patient changed: the holds ended, the future
// appointments cancelled, and every row the account booked as it is now,
// anonymised, with the person each no longer names ("" when it still does:
// a relative another guardian keeps).
type Erased struct {
	Released, Cancelled []Appointment
	Anonymised          []Appointment
	ErasedPersons       []string
}

// ErasePatient erases a patient from the booking store, in tx (erasure
// version version): live holds end; future confirmed appointments are
// cancelled (by PATIENT, reason reason), freeing their slots; every row the
// account booked is kept for the practice's records but anonymised: a new
// random account id (and person, unless it is a relative another guardian
// keeps: not in erasedRelatives), no note, no idempotency key. The account's
// idempotency keys (answers with names), day counts and no-show restrictions
// go, its series are kept under a new random account id, and the replica
// keeps a tombstone at version, so that only a newer registration of the
// same account revives it.
func (t *Tx) ErasePatient(ctx context.Context, id string, version int64, erasedRelatives []string, reason string, now time.Time) (Erased, error) {
	var out Erased
	var err error
	if _, err = t.tx.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, phone, relatives, erased_at)
		VALUES ($1, $2, '', '', NULL, '[]', $3)
		ON CONFLICT (id) DO UPDATE SET version = greatest(patients.version, EXCLUDED.version), first_name = '', last_name = '',
			phone = NULL, relatives = '[]', erased_at = coalesce(patients.erased_at, EXCLUDED.erased_at), updated_at = now()`,
		id, version, now); err != nil {
		return out, err
	}
	if out.Released, err = collect(t.tx.Query(ctx, returning(`UPDATE appointments SET status = 'EXPIRED',
		version = version + 1, updated_at = $2 WHERE patient_id = $1 AND status = 'HELD'`), id, now)); err != nil {
		return out, err
	}
	if out.Cancelled, err = collect(t.tx.Query(ctx, returning(`UPDATE appointments SET status = 'CANCELLED',
		cancelled_at = $2, cancelled_by = 'PATIENT', cancellation_reason = $3, version = version + 1, updated_at = $2
		WHERE patient_id = $1 AND status = 'CONFIRMED' AND starts_at > $2`), id, now, reason)); err != nil {
		return out, err
	}
	rows, err := t.tx.Query(ctx, `WITH x AS (
			SELECT country, id, person_id AS was, gen_random_uuid() AS anon,
				relative_id IS NOT NULL AND NOT relative_id = ANY($2::uuid[]) AS keeps_relative
			FROM appointments WHERE patient_id = $1 ORDER BY country, id FOR UPDATE
		), a AS (
			UPDATE appointments u SET patient_id = x.anon,
				relative_id = CASE WHEN x.keeps_relative THEN u.relative_id END,
				person_id = CASE WHEN x.keeps_relative THEN u.relative_id ELSE x.anon END,
				note = NULL, idempotency_key = NULL, version = u.version + 1, updated_at = $3
			FROM x WHERE u.country = x.country AND u.id = x.id
			RETURNING u.*, CASE WHEN x.keeps_relative THEN '' ELSE x.was::text END AS erased_person
		) SELECT `+selectCols+`, a.erased_person FROM a`+joinPatient,
		id, nonNil(erasedRelatives), now)
	if err != nil {
		return out, err
	}
	for rows.Next() {
		var erasedPerson string
		a, err := scanAppointmentAnd(rows, &erasedPerson)
		if err != nil {
			rows.Close()
			return out, err
		}
		out.Anonymised = append(out.Anonymised, a)
		out.ErasedPersons = append(out.ErasedPersons, erasedPerson)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE subject = $1`, id); err != nil {
		return out, err
	}
	// No-show restrictions name the account: they go. Series are kept, like
	// their sessions, under a new random account id.
	if _, err := t.tx.Exec(ctx, `DELETE FROM booking_restrictions WHERE patient_id = $1`, id); err != nil {
		return out, err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE series SET patient_id = gen_random_uuid(), relative_id = NULL WHERE patient_id = $1`, id); err != nil {
		return out, err
	}
	_, err = t.tx.Exec(ctx, `DELETE FROM booking_counts WHERE patient_id = $1`, id)
	return out, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

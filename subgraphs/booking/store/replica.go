package store

import (
	"context"
	"encoding/json"
	"errors"

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
// newer version or the patient was erased; it reports whether it did.
func (s *Store) PutPatient(ctx context.Context, p Patient) (bool, error) {
	rel, err := json.Marshal(nonNil(p.Relatives))
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, phone, relatives)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, first_name = EXCLUDED.first_name,
			last_name = EXCLUDED.last_name, phone = EXCLUDED.phone, relatives = EXCLUDED.relatives, updated_at = now()
		WHERE patients.version < EXCLUDED.version AND patients.erased_at IS NULL`,
		p.ID, p.Version, p.FirstName, p.LastName, p.Phone, rel)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// ErasePatient anonymises a patient for good: the replica keeps only the id
// (so that bookings remain, as the law requires) and the notes of their
// appointments are removed.
func (s *Store) ErasePatient(ctx context.Context, id string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name, phone, relatives, erased_at)
			VALUES ($1, 0, '', '', NULL, '[]', now())
			ON CONFLICT (id) DO UPDATE SET first_name = '', last_name = '', phone = NULL, relatives = '[]',
				erased_at = coalesce(patients.erased_at, now()), updated_at = now()`, id); err != nil {
			return err
		}
		return tx.AnonymiseNotes(ctx, id)
	})
}

// Patient reads a patient replica.
func (s *Store) Patient(ctx context.Context, id string) (Patient, error) {
	p := Patient{ID: id}
	var rel []byte
	var phone *string
	err := s.pool.QueryRow(ctx, `SELECT version, first_name, last_name, phone, relatives, erased_at IS NOT NULL
		FROM patients WHERE id = $1`, id).Scan(&p.Version, &p.FirstName, &p.LastName, &phone, &rel, &p.Erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	if phone != nil {
		p.Phone = *phone
	}
	return p, json.Unmarshal(rel, &p.Relatives)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// No-show restrictions (ADR 21): a patient account that reached a practice's
// no-show limit may not book it online until a time. markNoShow counts and
// upserts the row (CountNoShows) holding an exclusive advisory lock on
// (account, practice); every online booking statement takes the same lock
// shared in a statement of its own before the statement that checks the row,
// so that statement's snapshot is taken once any restriction that committed
// first is visible: no online booking commits after a restriction it did not
// see.

// restrictionLockSQL takes the shared lock an online booking holds on
// (account $1, practice $2) until its transaction ends.
const restrictionLockSQL = `SELECT pg_advisory_xact_lock_shared(hashtextextended('booking-restriction:' || $1::uuid::text || ':' || $2::uuid::text, 0))`

// restrictionExclusiveSQL is markNoShow's exclusive lock on the same key.
const restrictionExclusiveSQL = `SELECT pg_advisory_xact_lock(hashtextextended('booking-restriction:' || $1::uuid::text || ':' || $2::uuid::text, 0))`

// activeRestrictionSQL is the condition "account $p is restricted with
// practice $q at $now" for a booking statement, as an SQL fragment over
// placeholders named by the caller.
func activeRestriction(patient, practitioner, now string) string {
	return `EXISTS (SELECT 1 FROM booking_restrictions r WHERE r.patient_id = ` + patient + `::uuid
		AND r.practitioner_id = ` + practitioner + `::uuid AND r.lifted_at IS NULL AND r.until > ` + now + `::timestamptz)`
}

// Restriction is a live no-show restriction of an account with a practice.
type Restriction struct {
	PatientID      string `json:"patientId"`
	PractitionerID string `json:"practitionerId"`
	Country        string `json:"country,omitempty"`
	// Until is when it ends; Since when it began.
	Until time.Time `json:"until"`
	Since time.Time `json:"since"`
	// NoShows is how many no-shows it was counted from (at its last upsert).
	NoShows int `json:"noShows"`
	// PatientName is the account holder's name from the patient replica
	// ("" when unknown or erased).
	PatientName string `json:"-"`
}

// NoShowCount asks CountNoShows to count an account's no-shows with a practice.
type NoShowCount struct {
	PatientID, PractitionerID, Country string
	Now                                time.Time
	// Since is how far back no-shows count (the policy's period).
	Since time.Time
	// Limit (0: never) restricts the account until Until once reached.
	Limit int
	Until time.Time
}

// countNoShowsSQL counts the account's no-shows with the practice starting
// since $5 — but none before a restriction was lifted or ended: those were
// dealt with — and, at the limit $6, upserts the restriction until $7 (an
// active one is only ever extended), in one statement.
const countNoShowsSQL = `WITH prev AS (
		SELECT CASE WHEN lifted_at IS NOT NULL THEN lifted_at WHEN until <= $4 THEN until END AS dealt_until
		FROM booking_restrictions WHERE patient_id = $1 AND practitioner_id = $2
	), n AS (
		SELECT count(*)::int AS c FROM appointments
		WHERE country = $3 AND patient_id = $1 AND practitioner_id = $2 AND status = 'NO_SHOW' AND starts_at >= $5
		AND starts_at > coalesce((SELECT dealt_until FROM prev), '-infinity')
	), up AS (
		INSERT INTO booking_restrictions AS r (patient_id, practitioner_id, country, until, no_shows, created_at, updated_at)
		SELECT $1, $2, $3, $7, n.c, $4, $4 FROM n WHERE $6 > 0 AND n.c >= $6
		ON CONFLICT (patient_id, practitioner_id) DO UPDATE SET country = EXCLUDED.country, no_shows = EXCLUDED.no_shows,
			until = CASE WHEN r.lifted_at IS NULL AND r.until > $4 THEN greatest(r.until, EXCLUDED.until) ELSE EXCLUDED.until END,
			created_at = CASE WHEN r.lifted_at IS NULL AND r.until > $4 THEN r.created_at ELSE EXCLUDED.created_at END,
			lifted_at = NULL, lifted_by = NULL, updated_at = $4
		RETURNING until, created_at, no_shows
	) SELECT n.c, up.until, up.created_at, up.no_shows FROM n LEFT JOIN up ON true`

// CountNoShows takes the account's exclusive restriction lock with the
// practice (waiting for the online bookings in flight) and then, in a
// statement of its own, counts the no-shows and restricts at the limit
// (NoShowCount). It returns the count and the restriction when there is one
// now (nil otherwise).
func (t *Tx) CountNoShows(ctx context.Context, q NoShowCount) (int, *Restriction, error) {
	var (
		n       int
		until   *time.Time
		since   *time.Time
		counted *int
	)
	b := &pgx.Batch{}
	b.Queue(restrictionExclusiveSQL, q.PatientID, q.PractitionerID)
	b.Queue(countNoShowsSQL, q.PatientID, q.PractitionerID, q.Country, q.Now, q.Since, q.Limit, q.Until).QueryRow(func(row pgx.Row) error {
		return row.Scan(&n, &until, &since, &counted)
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, nil, err
	}
	if until == nil {
		return n, nil, nil
	}
	return n, &Restriction{PatientID: q.PatientID, PractitionerID: q.PractitionerID, Country: q.Country,
		Until: until.UTC(), Since: since.UTC(), NoShows: *counted}, nil
}

const restrictionCols = `r.patient_id::text, r.practitioner_id::text, r.country, r.until, r.created_at, r.no_shows,
	coalesce(CASE WHEN p.erased_at IS NULL THEN nullif(btrim(p.first_name || ' ' || p.last_name), '') END, '')`

func scanRestrictions(rows pgx.Rows, err error) ([]Restriction, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Restriction, error) {
		var x Restriction
		err := r.Scan(&x.PatientID, &x.PractitionerID, &x.Country, &x.Until, &x.Since, &x.NoShows, &x.PatientName)
		x.Until, x.Since = x.Until.UTC(), x.Since.UTC()
		return x, err
	})
}

// PatientRestrictions lists the account's restrictions live at now, soonest
// ending first.
func (s *Store) PatientRestrictions(ctx context.Context, patientID string, now time.Time) ([]Restriction, error) {
	return scanRestrictions(s.pool.Query(ctx, `SELECT `+restrictionCols+` FROM booking_restrictions r
		LEFT JOIN patients p ON p.id = r.patient_id
		WHERE r.patient_id = $1 AND r.lifted_at IS NULL AND r.until > $2 ORDER BY r.until, r.practitioner_id`, patientID, now))
}

// PracticeRestrictions lists the practice's restrictions live at now, soonest
// ending first.
func (s *Store) PracticeRestrictions(ctx context.Context, practitionerID string, now time.Time) ([]Restriction, error) {
	return scanRestrictions(s.pool.Query(ctx, `SELECT `+restrictionCols+` FROM booking_restrictions r
		LEFT JOIN patients p ON p.id = r.patient_id
		WHERE r.practitioner_id = $1 AND r.lifted_at IS NULL AND r.until > $2 ORDER BY r.until, r.patient_id`, practitionerID, now))
}

// ActiveRestriction is the account's restriction with the practice live at
// now (ErrNotFound when none).
func (s *Store) ActiveRestriction(ctx context.Context, patientID, practitionerID string, now time.Time) (Restriction, error) {
	list, err := scanRestrictions(s.pool.Query(ctx, `SELECT `+restrictionCols+` FROM booking_restrictions r
		LEFT JOIN patients p ON p.id = r.patient_id
		WHERE r.patient_id = $1 AND r.practitioner_id = $2 AND r.lifted_at IS NULL AND r.until > $3`, patientID, practitionerID, now))
	if err != nil {
		return Restriction{}, err
	}
	if len(list) == 0 {
		return Restriction{}, ErrNotFound
	}
	return list[0], nil
}

// LiftRestriction ends the account's live restriction with the practice at
// now (by: who lifted it) and reports whether there was one.
func (s *Store) LiftRestriction(ctx context.Context, patientID, practitionerID, by string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE booking_restrictions SET lifted_at = $3, lifted_by = $4, updated_at = $3
		WHERE patient_id = $1 AND practitioner_id = $2 AND lifted_at IS NULL AND until > $3`, patientID, practitionerID, now, by)
	return tag.RowsAffected() == 1, err
}

// LockRestriction takes the account's shared restriction lock with the
// practice for the transaction (as an online booking does) and then, in a
// statement of its own, reads its restriction live at now (nil when none).
func (t *Tx) LockRestriction(ctx context.Context, patientID, practitionerID string, now time.Time) (*Restriction, error) {
	var restriction *Restriction
	b := &pgx.Batch{}
	b.Queue(restrictionLockSQL, patientID, practitionerID)
	b.Queue(`SELECT r.country, r.until, r.created_at, r.no_shows FROM booking_restrictions r
		WHERE r.patient_id = $1 AND r.practitioner_id = $2 AND r.lifted_at IS NULL AND r.until > $3`,
		patientID, practitionerID, now).QueryRow(func(row pgx.Row) error {
		x := Restriction{PatientID: patientID, PractitionerID: practitionerID}
		err := row.Scan(&x.Country, &x.Until, &x.Since, &x.NoShows)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		x.Until, x.Since = x.Until.UTC(), x.Since.UTC()
		restriction = &x
		return err
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return restriction, nil
}

// ErrRestricted is a booking the account's live restriction with the
// practice refused (nothing was written).
var ErrRestricted = errors.New("the account may not book this practice online")

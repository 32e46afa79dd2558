package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeskPatient is a person record a practice holds for a caller who has no
// account (ADR 21). Email is lower case and Phone E.164; either may be empty.
type DeskPatient struct {
	ID             string
	PractitionerID string
	FirstName      string
	LastName       string
	BirthDate      time.Time
	Email          string
	Phone          string
	CreatedBy      string
	ClaimedBy      string // "" while unclaimed
	ClaimedAt      *time.Time
	Version        int64
	CreatedAt      time.Time
}

const deskCols = `id::text, practitioner_id::text, first_name, last_name, birth_date, coalesce(email, ''), coalesce(phone, ''),
	created_by::text, coalesce(claimed_by::text, ''), claimed_at, version, created_at`

func scanDeskPatient(row pgx.Row) (DeskPatient, error) {
	var d DeskPatient
	err := row.Scan(&d.ID, &d.PractitionerID, &d.FirstName, &d.LastName, &d.BirthDate, &d.Email, &d.Phone,
		&d.CreatedBy, &d.ClaimedBy, &d.ClaimedAt, &d.Version, &d.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	return d, err
}

func collectDesk(rows pgx.Rows, err error) ([]DeskPatient, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeskPatient, error) { return scanDeskPatient(r) })
}

// InsertDeskPatient records d unless the practice holds a record of the same
// birth date and the same e-mail or phone (or, without either, the same
// name) already: then it writes nothing and returns that record, with
// created false. A concurrent first insert of the same person makes this
// wait for it (ON CONFLICT on the unique indexes) and then return its row:
// the second statement reads with a new snapshot.
func (t *Tx) InsertDeskPatient(ctx context.Context, d DeskPatient) (DeskPatient, bool, error) {
	row, err := scanDeskPatient(t.tx.QueryRow(ctx, `INSERT INTO desk_patients
		(id, practitioner_id, first_name, last_name, birth_date, email, phone, created_by)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''), $8)
		ON CONFLICT DO NOTHING
		RETURNING `+deskCols,
		d.ID, d.PractitionerID, d.FirstName, d.LastName, d.BirthDate, d.Email, d.Phone, d.CreatedBy))
	if err == nil {
		return row, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return DeskPatient{}, false, err
	}
	// The oldest record the new one collides with: by e-mail or phone, or,
	// when neither was given, by name.
	row, err = scanDeskPatient(t.tx.QueryRow(ctx, `SELECT `+deskCols+` FROM desk_patients
		WHERE practitioner_id = $1 AND birth_date = $2 AND (email = nullif($3, '') OR phone = nullif($4, '')
			OR ($3 = '' AND $4 = '' AND email IS NULL AND phone IS NULL AND lower(last_name) = lower($5) AND lower(first_name) = lower($6)))
		ORDER BY created_at, id LIMIT 1`,
		d.PractitionerID, d.BirthDate, d.Email, d.Phone, d.LastName, d.FirstName))
	if err != nil {
		return DeskPatient{}, false, err
	}
	return row, false, nil
}

// DeskPatientsByIDs reads desk patients; missing ids are absent.
func (s *Store) DeskPatientsByIDs(ctx context.Context, ids []string) ([]DeskPatient, error) {
	return collectDesk(s.pool.Query(ctx, `SELECT `+deskCols+` FROM desk_patients WHERE id = ANY($1::uuid[])`, ids))
}

// DeskPatientPage selects a page of one practice's desk patients.
type DeskPatientPage struct {
	PractitionerID string
	// Name, when set, keeps the records whose "first last" or "last first"
	// contains it (any letter case); Email and Phone those with that exact
	// contact. All set ones must hold.
	Name, Email, Phone string
	// AfterCreated and AfterID are where the previous page ended (newest first).
	AfterCreated *time.Time
	AfterID      string
	Limit        int
}

// DeskPatients reads a page of one practice's desk patients, newest first.
func (s *Store) DeskPatients(ctx context.Context, q DeskPatientPage) ([]DeskPatient, error) {
	b := psql.Select(deskCols).From("desk_patients").Where("practitioner_id = ?", q.PractitionerID)
	if q.Name != "" {
		like := "%" + escapeLike(strings.ToLower(q.Name)) + "%"
		b = b.Where("(lower(first_name || ' ' || last_name) LIKE ? OR lower(last_name || ' ' || first_name) LIKE ?)", like, like)
	}
	if q.Email != "" {
		b = b.Where("email = ?", q.Email)
	}
	if q.Phone != "" {
		b = b.Where("phone = ?", q.Phone)
	}
	if q.AfterCreated != nil {
		b = b.Where("(created_at, id) < (?, ?::uuid)", *q.AfterCreated, q.AfterID)
	}
	sql, args, err := b.OrderBy("created_at DESC", "id DESC").Limit(uint64(q.Limit)).ToSql()
	if err != nil {
		return nil, err
	}
	return collectDesk(s.pool.Query(ctx, sql, args...))
}

// escapeLike makes s match itself in a LIKE pattern (backslash is the default escape).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ClaimDeskPatients gives account every unclaimed desk record, in any
// practice, of birthDate with the e-mail email or the phone phone ("" for
// either: not that contact), bumping each one's version, and returns them.
// Rows are locked in id order; a record another registration claimed
// meanwhile is passed over (the claim condition is checked again once its
// lock is held).
func (t *Tx) ClaimDeskPatients(ctx context.Context, account string, birthDate time.Time, email, phone string, now time.Time) ([]DeskPatient, error) {
	if email == "" && phone == "" {
		return nil, nil
	}
	return collectDesk(t.tx.Query(ctx, `WITH c AS (
			SELECT id AS claim_id FROM desk_patients WHERE claimed_by IS NULL AND birth_date = $2
			AND (email = nullif($3, '') OR phone = nullif($4, '')) ORDER BY id FOR UPDATE
		)
		UPDATE desk_patients SET claimed_by = $1, claimed_at = $5, version = version + 1, updated_at = $5
		FROM c WHERE id = c.claim_id AND claimed_by IS NULL
		RETURNING `+deskCols, account, birthDate, email, phone, now))
}

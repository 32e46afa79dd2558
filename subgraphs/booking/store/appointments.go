package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/eventdata"
)

// Appointment statuses: the event contract's words.
const (
	StatusHeld      = eventdata.StatusHeld
	StatusConfirmed = eventdata.StatusConfirmed
	StatusCancelled = eventdata.StatusCancelled
	StatusNoShow    = eventdata.StatusNoShow
	StatusExpired   = eventdata.StatusExpired
)

// Appointment is a hold or an appointment row, with the attending person's
// name and the account's phone from the patient replica (empty when unknown
// or erased).
type Appointment struct {
	Country            string     `json:"country"`
	ID                 string     `json:"id"`
	PractitionerID     string     `json:"practitionerId"`
	PatientID          string     `json:"patientId"`
	RelativeID         string     `json:"relativeId,omitempty"`
	PersonID           string     `json:"personId"`
	AppointmentTypeID  string     `json:"appointmentTypeId"`
	LocationID         string     `json:"locationId"`
	Status             string     `json:"status"`
	StartsAt           time.Time  `json:"startsAt"`
	EndsAt             time.Time  `json:"endsAt"`
	BlockedFrom        time.Time  `json:"blockedFrom"`
	BlockedUntil       time.Time  `json:"blockedUntil"`
	HoldExpiresAt      *time.Time `json:"holdExpiresAt,omitempty"`
	IdempotencyKey     string     `json:"idempotencyKey,omitempty"`
	Note               string     `json:"note,omitempty"`
	CancelledAt        *time.Time `json:"cancelledAt,omitempty"`
	CancelledBy        string     `json:"cancelledBy,omitempty"`
	CancellationReason string     `json:"cancellationReason,omitempty"`
	Version            int64      `json:"version"`
	CreatedAt          time.Time  `json:"createdAt"`
	PatientName        string     `json:"patientName,omitempty"`
	PatientPhone       string     `json:"patientPhone,omitempty"`
	// DeskPatient: PatientID is a practice's desk patient, not an account (ADR 21).
	DeskPatient bool `json:"deskPatient,omitempty"`
	// SeriesID, SeriesIndex (1 to SeriesCount) and SeriesCount place a
	// session of a treatment series (series.go); empty otherwise.
	SeriesID    string `json:"seriesId,omitempty"`
	SeriesIndex int    `json:"seriesIndex,omitempty"`
	SeriesCount int    `json:"seriesCount,omitempty"`
}

// Occupies reports whether the row blocks its range (a live hold or a
// confirmed appointment; an expired hold still HELD blocks until expired).
func (a Appointment) Occupies() bool { return a.Status == StatusHeld || a.Status == StatusConfirmed }

// selectCols reads an appointment row "a" joined with the patient replica "p"
// (an account, or a practice's desk patient: then p.practitioner_id is set).
const selectCols = `a.country, a.id::text, a.practitioner_id::text, a.patient_id::text,
	coalesce(a.relative_id::text, ''), a.person_id::text, a.appointment_type_id::text, a.location_id::text,
	a.status, a.starts_at, a.ends_at, lower(a.blocked), upper(a.blocked), a.hold_expires_at,
	coalesce(a.idempotency_key, ''), coalesce(a.note, ''), a.cancelled_at, coalesce(a.cancelled_by, ''),
	coalesce(a.cancellation_reason, ''), a.version, a.created_at,
	coalesce(CASE
		WHEN p.erased_at IS NOT NULL THEN NULL
		WHEN a.relative_id IS NULL THEN nullif(btrim(p.first_name || ' ' || p.last_name), '')
		ELSE (SELECT nullif(btrim(coalesce(r->>'firstName', '') || ' ' || coalesce(r->>'lastName', '')), '')
			FROM jsonb_array_elements(p.relatives) r WHERE r->>'id' = a.relative_id::text LIMIT 1)
	END, ''),
	coalesce(CASE WHEN p.erased_at IS NULL THEN p.phone END, ''),
	p.practitioner_id IS NOT NULL,
	coalesce(a.series_id::text, ''), coalesce(a.series_index, 0),
	coalesce(CASE WHEN a.series_id IS NOT NULL THEN (SELECT s.count FROM series s WHERE s.id = a.series_id) END, 0)`

// joinPatient joins appointment rows "a" to their patients in the replica
// (the p.* of selectCols): one primary-key lookup per row, whatever the
// statistics say. As a plain join, a table loaded faster than it is analyzed
// (or never analyzed) was hashed whole for one appointment: a sequential scan
// of the patient replica per booking event (ADR 0030). LATERAL with LIMIT is
// never flattened into a join the planner may choose to hash.
const joinPatient = ` LEFT JOIN LATERAL (SELECT * FROM patients WHERE patients.id = a.patient_id LIMIT 1) p ON true`

const fromJoined = ` a` + joinPatient

// returning wraps a data-modifying statement that RETURNs * into one that
// returns the joined columns of the rows it changed.
func returning(stmt string) string { return returningAs(stmt, "*") }

// returningAs is returning for a statement whose changed table is aliased
// (target is then e.g. "u.*").
func returningAs(stmt, target string) string {
	return `WITH a AS (` + stmt + ` RETURNING ` + target + `) SELECT ` + selectCols + ` FROM a` + joinPatient
}

func scanAppointment(row pgx.Row) (Appointment, error) { return scanAppointmentAnd(row) }

// scanAppointmentAnd scans selectCols and then extra columns into extra.
func scanAppointmentAnd(row pgx.Row, extra ...any) (Appointment, error) {
	var a Appointment
	err := row.Scan(append([]any{&a.Country, &a.ID, &a.PractitionerID, &a.PatientID, &a.RelativeID, &a.PersonID,
		&a.AppointmentTypeID, &a.LocationID, &a.Status, &a.StartsAt, &a.EndsAt, &a.BlockedFrom, &a.BlockedUntil,
		&a.HoldExpiresAt, &a.IdempotencyKey, &a.Note, &a.CancelledAt, &a.CancelledBy, &a.CancellationReason,
		&a.Version, &a.CreatedAt, &a.PatientName, &a.PatientPhone, &a.DeskPatient, &a.SeriesID, &a.SeriesIndex, &a.SeriesCount}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.StartsAt, a.EndsAt, a.CreatedAt = a.StartsAt.UTC(), a.EndsAt.UTC(), a.CreatedAt.UTC()
	a.BlockedFrom, a.BlockedUntil = a.BlockedFrom.UTC(), a.BlockedUntil.UTC()
	a.HoldExpiresAt, a.CancelledAt = utcPtr(a.HoldExpiresAt), utcPtr(a.CancelledAt)
	return a, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func collect(rows pgx.Rows, err error) ([]Appointment, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Appointment, error) { return scanAppointment(r) })
}

// Insert adds a hold or an appointment unless it would overlap an occupying
// row of the practitioner (then it inserts nothing and returns
// ErrPractitionerOverlap: ON CONFLICT DO NOTHING, no target, never raises
// that violation) or a confirmed appointment of the person in any country
// (ErrPersonOverlap: the person constraint raises, and the transaction is
// aborted).
func (t *Tx) Insert(ctx context.Context, a Appointment) (Appointment, error) {
	out, err := scanAppointment(t.tx.QueryRow(ctx, returning(`INSERT INTO appointments
		(country, id, practitioner_id, patient_id, relative_id, person_id, appointment_type_id, location_id,
		 status, starts_at, ends_at, blocked, hold_expires_at, idempotency_key, note)
		VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, $9, $10, $11, tstzrange($12, $13), $14,
		 nullif($15, ''), nullif($16, ''))
		ON CONFLICT DO NOTHING`),
		a.Country, a.ID, a.PractitionerID, a.PatientID, a.RelativeID, a.PersonID, a.AppointmentTypeID, a.LocationID,
		a.Status, a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil, a.HoldExpiresAt, a.IdempotencyKey, a.Note))
	if errors.Is(err, ErrNotFound) {
		return Appointment{}, ErrPractitionerOverlap
	}
	return out, overlapError(err)
}

// ExpireHolds marks the practitioner's holds that are still HELD but expired
// at now and overlap [from, to) as EXPIRED, and returns them. Rows are locked
// in id order so that concurrent bookings do not deadlock on them; a row
// another transaction expired meanwhile is skipped.
func (t *Tx) ExpireHolds(ctx context.Context, country, practitionerID string, from, to, now time.Time) ([]Appointment, error) {
	return collect(t.tx.Query(ctx, returningAs(`UPDATE appointments u SET status = 'EXPIRED', version = u.version + 1, updated_at = $5
		FROM (SELECT id FROM appointments WHERE country = $1 AND practitioner_id = $2 AND status = 'HELD'
			AND hold_expires_at <= $5 AND blocked && tstzrange($3, $4) ORDER BY id FOR UPDATE) x
		WHERE u.country = $1 AND u.id = x.id AND u.status = 'HELD'`, "u.*"), country, practitionerID, from, to, now))
}

// ExpireDueHolds expires up to limit holds (of any practitioner) that are
// due at now, skipping rows another transaction has locked: the sweeper.
func (t *Tx) ExpireDueHolds(ctx context.Context, now time.Time, limit int) ([]Appointment, error) {
	return collect(t.tx.Query(ctx, returningAs(`UPDATE appointments u SET status = 'EXPIRED', version = u.version + 1, updated_at = $1
		FROM (SELECT country, id FROM appointments WHERE status = 'HELD' AND hold_expires_at <= $1
			ORDER BY hold_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) x
		WHERE u.country = x.country AND u.id = x.id AND u.status = 'HELD'`, "u.*"), now, limit))
}

// EndHold ends a hold that is still HELD (live, or due but not yet swept).
func (t *Tx) EndHold(ctx context.Context, country, id string, now time.Time) (Appointment, error) {
	return scanAppointment(t.tx.QueryRow(ctx, returning(`UPDATE appointments SET status = 'EXPIRED',
		version = version + 1, updated_at = $3 WHERE country = $1 AND id = $2 AND status = 'HELD'`), country, id, now))
}

// Blocked returns the ranges occupied at now in [from, to) by the
// practitioner's confirmed appointments and live holds, other than excludeID.
func (t *Tx) Blocked(ctx context.Context, country, practitionerID string, from, to, now time.Time, excludeID string) ([][2]time.Time, error) {
	rows, err := t.tx.Query(ctx, `SELECT lower(blocked), upper(blocked) FROM appointments
		WHERE country = $1 AND practitioner_id = $2 AND status IN ('HELD', 'CONFIRMED')
		AND (status = 'CONFIRMED' OR hold_expires_at > $5) AND blocked && tstzrange($3, $4) AND id <> $6`,
		country, practitionerID, from, to, now, orZeroUUID(excludeID))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]time.Time, error) {
		var iv [2]time.Time
		err := r.Scan(&iv[0], &iv[1])
		return iv, err
	})
}

// SeenBefore reports whether the person has a non-cancelled appointment
// (confirmed or a no-show) with the practitioner starting before before,
// other than excludeID: then they are not a new patient.
func (t *Tx) SeenBefore(ctx context.Context, country, practitionerID, personID string, before time.Time, excludeID string) (bool, error) {
	var seen bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM appointments WHERE country = $1 AND person_id = $2
		AND practitioner_id = $3 AND status IN ('CONFIRMED', 'NO_SHOW') AND starts_at < $4 AND id <> $5)`,
		country, personID, practitionerID, before, orZeroUUID(excludeID)).Scan(&seen)
	return seen, err
}

// Lock reads an appointment or hold for update.
func (t *Tx) Lock(ctx context.Context, id string) (Appointment, error) {
	return scanAppointment(t.tx.QueryRow(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.id = $1 FOR UPDATE OF a`, id))
}

// Move gives a confirmed appointment new times; the exclusion constraints
// check the new range against every other row (ErrPractitionerOverlap,
// ErrPersonOverlap; the transaction is then aborted).
func (t *Tx) Move(ctx context.Context, a Appointment, now time.Time) (Appointment, error) {
	out, err := scanAppointment(t.tx.QueryRow(ctx, returning(`UPDATE appointments SET starts_at = $3, ends_at = $4,
		blocked = tstzrange($5, $6), version = version + 1, updated_at = $7
		WHERE country = $1 AND id = $2 AND status = 'CONFIRMED'`),
		a.Country, a.ID, a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil, now))
	return out, overlapError(err)
}

// Cancel cancels a confirmed appointment.
func (t *Tx) Cancel(ctx context.Context, country, id, by, reason string, now time.Time) (Appointment, error) {
	return scanAppointment(t.tx.QueryRow(ctx, returning(`UPDATE appointments SET status = 'CANCELLED',
		cancelled_at = $5, cancelled_by = $3, cancellation_reason = $4, version = version + 1, updated_at = $5
		WHERE country = $1 AND id = $2 AND status = 'CONFIRMED'`), country, id, by, reason, now))
}

// MarkNoShow records that the patient of a confirmed appointment did not come.
func (t *Tx) MarkNoShow(ctx context.Context, country, id string, now time.Time) (Appointment, error) {
	return scanAppointment(t.tx.QueryRow(ctx, returning(`UPDATE appointments SET status = 'NO_SHOW',
		version = version + 1, updated_at = $3 WHERE country = $1 AND id = $2 AND status = 'CONFIRMED'`), country, id, now))
}

// ByIDs reads appointments and holds; missing ids are absent.
func (s *Store) ByIDs(ctx context.Context, ids []string) ([]Appointment, error) {
	return collect(s.pool.Query(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.id = ANY($1::uuid[])`, ids))
}

// Agenda reads the practitioner's appointments (not holds) starting in [from, to).
func (s *Store) Agenda(ctx context.Context, practitionerID string, from, to time.Time) ([]Appointment, error) {
	return collect(s.pool.Query(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.practitioner_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3
		AND a.status IN ('CONFIRMED', 'CANCELLED', 'NO_SHOW')
		ORDER BY a.starts_at, a.id`, practitionerID, from, to))
}

// PageQuery selects a page of a patient's appointments.
type PageQuery struct {
	PatientID string
	// Upcoming: nil for all, true for confirmed ones not ended at Now
	// (ascending), false for the rest (descending).
	Upcoming *bool
	Now      time.Time
	// After is the (startsAt, id) the previous page ended at, if any.
	AfterStart *time.Time
	AfterID    string
	Limit      int
}

// PatientAppointments reads a page of a patient's appointments (not holds).
func (s *Store) PatientAppointments(ctx context.Context, q PageQuery) ([]Appointment, error) {
	asc := q.Upcoming != nil && *q.Upcoming
	b := psql.Select(selectCols).From("appointments"+fromJoined).
		Where("a.patient_id = ?", q.PatientID)
	switch {
	case q.Upcoming == nil:
		b = b.Where("a.status IN ('CONFIRMED', 'CANCELLED', 'NO_SHOW')")
	case *q.Upcoming:
		b = b.Where("a.status = 'CONFIRMED' AND a.ends_at > ?", q.Now)
	default:
		b = b.Where("(a.status IN ('CANCELLED', 'NO_SHOW') OR (a.status = 'CONFIRMED' AND a.ends_at <= ?))", q.Now)
	}
	if q.AfterStart != nil {
		if asc {
			b = b.Where("(a.starts_at, a.id) > (?, ?::uuid)", *q.AfterStart, q.AfterID)
		} else {
			b = b.Where("(a.starts_at, a.id) < (?, ?::uuid)", *q.AfterStart, q.AfterID)
		}
	}
	if asc {
		b = b.OrderBy("a.starts_at", "a.id")
	} else {
		b = b.OrderBy("a.starts_at DESC", "a.id DESC")
	}
	sql, args, err := b.Limit(uint64(q.Limit)).ToSql()
	if err != nil {
		return nil, err
	}
	return collect(s.pool.Query(ctx, sql, args...))
}

// EachOccupied streams, in batches, every row occupying its range at now
// (confirmed, or a hold live at now) whose blocked range ends after now.
func (s *Store) EachOccupied(ctx context.Context, now time.Time, afterCountry, afterID string, batch int, fn func([]Appointment) error) error {
	for {
		rows, err := collect(s.pool.Query(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
			WHERE (a.status = 'CONFIRMED' OR (a.status = 'HELD' AND a.hold_expires_at > $1))
			AND upper(a.blocked) > $1 AND (a.country, a.id) > ($2, $3::uuid)
			ORDER BY a.country, a.id LIMIT $4`, now, afterCountry, orZeroUUID(afterID), batch))
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		if err := fn(rows); err != nil {
			return err
		}
		if len(rows) < batch {
			return nil
		}
		last := rows[len(rows)-1]
		afterCountry, afterID = last.Country, last.ID
	}
}

// Key is a stored idempotency key.
type Key struct {
	Operation     string
	RequestHash   []byte
	AppointmentID string
	Response      json.RawMessage // nil while the first request is in flight
}

// LookupKey reads a committed idempotency key.
func (s *Store) LookupKey(ctx context.Context, subject, key string) (Key, error) {
	return lookupKey(ctx, s.pool, subject, key)
}

func lookupKey(ctx context.Context, q querier, subject, key string) (Key, error) {
	var k Key
	var resp []byte
	err := q.QueryRow(ctx, `SELECT operation, request_hash, appointment_id::text, response
		FROM idempotency_keys WHERE subject = $1 AND key = $2`, subject, key).
		Scan(&k.Operation, &k.RequestHash, &k.AppointmentID, &resp)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, ErrNotFound
	}
	k.Response = resp
	return k, err
}

// ClaimKey records a new idempotency key in the transaction and reports
// whether it was new. A concurrent first request with the same key makes
// this wait until that one commits (then false) or rolls back (then true).
func (t *Tx) ClaimKey(ctx context.Context, subject, key, operation string, hash []byte, appointmentID string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO idempotency_keys (subject, key, operation, request_hash, appointment_id)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, subject, key, operation, hash, appointmentID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// SaveResponse stores the answer of a claimed key.
func (t *Tx) SaveResponse(ctx context.Context, subject, key string, response []byte) error {
	_, err := t.tx.Exec(ctx, `UPDATE idempotency_keys SET response = $3 WHERE subject = $1 AND key = $2`,
		subject, key, response)
	return err
}

// PruneKeys deletes idempotency keys created before before.
func (s *Store) PruneKeys(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, before)
	return tag.RowsAffected(), err
}

// orZeroUUID stands in for "no id" in comparisons such as id <> $n.
func orZeroUUID(id string) string {
	if id == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return id
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// Placing a hold: its transaction locks the patient's holds, expires the
// due holds in its way and reads what is occupied (one round trip), then
// inserts the hold with its event (one statement).

// LockPatientLiveHolds serialises one patient's hold placements for the
// transaction (an advisory lock), takes the patient's shared restriction lock
// with practitionerID (restrictions.go) and then returns the patient's live
// holds, oldest first, locked, and their restriction with the practitioner
// live at now (nil when none): pipelined in one round trip, and run in that
// order, so the reads' snapshots are taken once the locks are held.
func (t *Tx) LockPatientLiveHolds(ctx context.Context, patientID, practitionerID string, now time.Time) ([]Appointment, *Restriction, error) {
	var live []Appointment
	var restriction *Restriction
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('booking-holds:' || $1, 0))`, patientID)
	b.Queue(restrictionLockSQL, patientID, practitionerID)
	b.Queue(`SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.patient_id = $1 AND a.status = 'HELD' AND a.hold_expires_at > $2
		ORDER BY a.created_at, a.id FOR UPDATE OF a`, patientID, now).Query(func(rows pgx.Rows) error {
		var err error
		live, err = collect(rows, nil)
		return err
	})
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
		return nil, nil, err
	}
	return live, restriction, nil
}

// ExpireHoldsThenBlocked is ExpireHolds over [from, to) then, when blockedFrom
// is before blockedTo, Blocked over [blockedFrom, blockedTo), pipelined in one
// round trip (in order: the read sees the holds just expired as expired).
func (t *Tx) ExpireHoldsThenBlocked(ctx context.Context, country, practitionerID string, from, to, now time.Time,
	blockedFrom, blockedTo time.Time, excludeID string) (expired []Appointment, blocked [][2]time.Time, err error) {
	b := &pgx.Batch{}
	b.Queue(returningAs(`UPDATE appointments u SET status = 'EXPIRED', version = u.version + 1, updated_at = $5
		FROM (SELECT id FROM appointments WHERE country = $1 AND practitioner_id = $2 AND status = 'HELD'
			AND hold_expires_at <= $5 AND blocked && tstzrange($3, $4) ORDER BY id FOR UPDATE) x
		WHERE u.country = $1 AND u.id = x.id AND u.status = 'HELD'`, "u.*"), country, practitionerID, from, to, now).
		Query(func(rows pgx.Rows) error {
			var err error
			expired, err = collect(rows, nil)
			return err
		})
	if blockedFrom.Before(blockedTo) {
		b.Queue(`SELECT lower(blocked), upper(blocked) FROM appointments
			WHERE country = $1 AND practitioner_id = $2 AND status IN ('HELD', 'CONFIRMED')
			AND (status = 'CONFIRMED' OR hold_expires_at > $5) AND blocked && tstzrange($3, $4) AND id <> $6`,
			country, practitionerID, blockedFrom, blockedTo, now, orZeroUUID(excludeID)).Query(func(rows pgx.Rows) error {
			var err error
			blocked, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]time.Time, error) {
				var iv [2]time.Time
				err := r.Scan(&iv[0], &iv[1])
				return iv, err
			})
			return err
		})
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	return expired, blocked, nil
}

// insertHoldSQL inserts a new hold unless a constraint says no (ON CONFLICT
// DO NOTHING), and only if it did, its outbox event ($13 on), returning the
// row as Lock reads it.
var insertHoldSQL = `WITH ins AS (INSERT INTO appointments
		(country, id, practitioner_id, patient_id, person_id, appointment_type_id, location_id,
		 status, starts_at, ends_at, blocked, hold_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'HELD', $8, $9, tstzrange($10, $11), $12)
		ON CONFLICT DO NOTHING RETURNING *
	), o AS (` + outbox.InsertFromSQL("ins", 13) + `)
	SELECT ` + selectCols + ` FROM ins a` + joinPatient

// InsertHold is Insert for a new hold (Version 1) together with its outbox
// event ev (on topic, keyed by the practitioner id), in one statement: the
// event is written only if the hold is. ErrPractitionerOverlap when a
// constraint refused the row (nothing is written).
func (t *Tx) InsertHold(ctx context.Context, a Appointment, topic string, ev events.Envelope) (Appointment, error) {
	if a.Status != StatusHeld || a.HoldExpiresAt == nil || a.Version != 1 {
		return Appointment{}, fmt.Errorf("store: InsertHold writes new holds only")
	}
	row, err := outbox.NewRow(ctx, topic, a.PractitionerID, ev)
	if err != nil {
		return Appointment{}, err
	}
	out, err := scanAppointment(t.tx.QueryRow(ctx, insertHoldSQL, append([]any{
		a.Country, a.ID, a.PractitionerID, a.PatientID, a.PersonID, a.AppointmentTypeID, a.LocationID,
		a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil, a.HoldExpiresAt}, row.Args()...)...))
	if errors.Is(err, ErrNotFound) {
		return Appointment{}, ErrPractitionerOverlap
	}
	return out, err
}

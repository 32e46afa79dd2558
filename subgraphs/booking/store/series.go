package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// Treatment series (ADR 21): sessions of one type with one practitioner,
// booked all or nothing in one transaction (BookSeries). A session is an
// ordinary appointment row with its series_id and series_index.

// Series is a treatment series as booked.
type Series struct {
	ID                string    `json:"id"`
	Country           string    `json:"country"`
	PatientID         string    `json:"patientId"`
	RelativeID        string    `json:"relativeId,omitempty"`
	PractitionerID    string    `json:"practitionerId"`
	AppointmentTypeID string    `json:"appointmentTypeId"`
	Count             int       `json:"count"`
	EveryDays         int       `json:"everyDays"`
	CreatedAt         time.Time `json:"createdAt"`
}

// SeriesBooking is a new series, its sessions and everything that commits
// with them.
type SeriesBooking struct {
	Series Series
	// Sessions are the rows to write (CONFIRMED, Version 1, CreatedAt, their
	// SeriesID and SeriesIndex set), in index order.
	Sessions []Appointment
	// Key is the series' idempotency key with its answer (its
	// AppointmentID: the series id); Limit the day it counts on, once.
	Key   NewKey
	Limit DayLimit
	// Events go to Topic, keyed by the practitioner id, in order: one
	// AppointmentBooked per session, then SeriesBooked.
	Topic  string
	Events []events.Envelope
	// AtDesk and Now: as for Booking (no restriction check at the desk).
	AtDesk bool
	Now    time.Time
}

// ErrSeriesRefused is BookSeries' answer when a constraint (or, online, the
// account's restriction) refused sessions: nothing was written.
type ErrSeriesRefused struct {
	// Refused are the indexes (1-based) of the sessions not written.
	Refused []int
}

func (e *ErrSeriesRefused) Error() string {
	return fmt.Sprintf("series refused: sessions %v could not be booked", e.Refused)
}

// insertSessionsSQL inserts every session of a series, each unless a
// constraint says no (ON CONFLICT DO NOTHING, as a single booking does, so
// racing bookings wait for each other rather than deadlock), or none when
// the account is restricted online ($15 false), and returns the indexes it
// wrote.
var insertSessionsSQL = `INSERT INTO appointments (country, id, practitioner_id, patient_id, relative_id, person_id,
		appointment_type_id, location_id, status, starts_at, ends_at, blocked, note, created_at, series_id, series_index)
	SELECT $1, s.id, $2, $3, nullif($4, '')::uuid, $5, $6, s.location_id, 'CONFIRMED', s.starts_at, s.ends_at,
		tstzrange(s.blocked_from, s.blocked_until), nullif($7, ''), $8, $9, s.idx
	FROM unnest($10::uuid[], $11::uuid[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $16::timestamptz[], $17::int[])
		AS s(id, location_id, starts_at, ends_at, blocked_from, blocked_until, idx)
	WHERE $15::boolean OR NOT ` + activeRestriction("$3", "$2", "$18") + `
	ORDER BY s.idx
	ON CONFLICT DO NOTHING
	RETURNING series_index`

// BookSeries writes b all or nothing, in one transaction and one round trip
// before its commit: the account's restriction lock (online), the key, the
// series row, every session, the day's count (once) and every event. When a
// session is refused, nothing is written and the error is
// *ErrSeriesRefused. As Book: ErrKeyTaken, ErrPersonOverlap (the person has
// a confirmed appointment then: which session, PersonOverlaps says),
// ErrBookingLimit.
func (s *Store) BookSeries(ctx context.Context, b SeriesBooking) error {
	rows := make([]outbox.Row, len(b.Events))
	for i, ev := range b.Events {
		var err error
		if rows[i], err = outbox.NewRow(ctx, b.Topic, b.Series.PractitionerID, ev); err != nil {
			return err
		}
	}
	n := len(b.Sessions)
	ids, locations := make([]string, n), make([]string, n)
	starts, ends, froms, untils := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	indexes := make([]int, n)
	for i, a := range b.Sessions {
		if a.Status != StatusConfirmed || a.Version != 1 || a.SeriesID != b.Series.ID || a.SeriesIndex != i+1 {
			return fmt.Errorf("store: BookSeries writes new confirmed sessions of its series, in order")
		}
		ids[i], locations[i], indexes[i] = a.ID, a.LocationID, a.SeriesIndex
		starts[i], ends[i], froms[i], untils[i] = a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil
	}
	se := b.Series
	first := Appointment{}
	if n > 0 {
		first = b.Sessions[0]
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		var written []int
		batch := &pgx.Batch{}
		if !b.AtDesk {
			batch.Queue(restrictionLockSQL, se.PatientID, se.PractitionerID)
		}
		batch.Queue(`INSERT INTO idempotency_keys (subject, key, operation, request_hash, appointment_id, response)
			VALUES ($1, $2, $3, $4, $5, $6)`, b.Key.Subject, b.Key.Key, b.Key.Operation, b.Key.RequestHash, se.ID, b.Key.Response)
		batch.Queue(`INSERT INTO series (id, country, patient_id, relative_id, practitioner_id, appointment_type_id,
			count, every_days, created_at) VALUES ($1, $2, $3, nullif($4, '')::uuid, $5, $6, $7, $8, $9)`,
			se.ID, se.Country, se.PatientID, se.RelativeID, se.PractitionerID, se.AppointmentTypeID, se.Count, se.EveryDays, se.CreatedAt)
		batch.Queue(insertSessionsSQL, se.Country, se.PractitionerID, se.PatientID, se.RelativeID, first.PersonID,
			se.AppointmentTypeID, first.Note, first.CreatedAt, se.ID, ids, locations, starts, ends, froms, b.AtDesk, untils,
			indexes, b.Now).Query(func(rs pgx.Rows) error {
			var err error
			written, err = pgx.CollectRows(rs, pgx.RowTo[int])
			return err
		})
		batch.Queue(`INSERT INTO booking_counts (patient_id, practitioner_id, day, booked, max_booked) VALUES ($1, $2, $3, 1, $4)
			ON CONFLICT (patient_id, practitioner_id, day) DO UPDATE
			SET booked = booking_counts.booked + 1, max_booked = EXCLUDED.max_booked`, se.PatientID, se.PractitionerID, b.Limit.Day, b.Limit.Max)
		for _, r := range rows {
			outbox.Queue(batch, r)
		}
		if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		if len(written) < n {
			got := make(map[int]bool, len(written))
			for _, i := range written {
				got[i] = true
			}
			refused := &ErrSeriesRefused{}
			for _, i := range indexes {
				if !got[i] {
					refused.Refused = append(refused.Refused, i)
				}
			}
			return refused
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "idempotency_keys" {
		return ErrKeyTaken
	}
	return limitError(overlapError(err))
}

// PersonOverlaps returns the indexes (1-based) of the spans [starts[i],
// ends[i]) that overlap a confirmed appointment of the person.
func (s *Store) PersonOverlaps(ctx context.Context, personID string, starts, ends []time.Time) ([]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT w.i::int FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(s, e, i)
		WHERE EXISTS (SELECT 1 FROM person_appointments pa WHERE pa.person_id = $1 AND pa.during && tstzrange(w.s, w.e))
		ORDER BY w.i`, personID, starts, ends)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// BlockedIn returns the ranges occupied at now by the practitioner's
// confirmed appointments and live holds that overlap any of windows (each
// [from, to)), other than those of excludeIDs: one round trip, each window
// found through the exclusion constraint's index.
func (s *Store) BlockedIn(ctx context.Context, country, practitionerID string, windows [][2]time.Time, now time.Time, excludeIDs []string) ([][2]time.Time, error) {
	return blockedIn(ctx, s.pool, country, practitionerID, windows, now, excludeIDs)
}

// BlockedIn is Store.BlockedIn as this transaction sees it.
func (t *Tx) BlockedIn(ctx context.Context, country, practitionerID string, windows [][2]time.Time, now time.Time, excludeIDs []string) ([][2]time.Time, error) {
	return blockedIn(ctx, t.tx, country, practitionerID, windows, now, excludeIDs)
}

func blockedIn(ctx context.Context, q querier, country, practitionerID string, windows [][2]time.Time, now time.Time, excludeIDs []string) ([][2]time.Time, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	froms, tos := make([]time.Time, len(windows)), make([]time.Time, len(windows))
	for i, w := range windows {
		froms[i], tos[i] = w[0], w[1]
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT lower(a.blocked), upper(a.blocked)
		FROM unnest($3::timestamptz[], $4::timestamptz[]) AS w(f, t)
		JOIN appointments a ON a.country = $1 AND a.practitioner_id = $2 AND a.blocked && tstzrange(w.f, w.t)
		WHERE a.status IN ('HELD', 'CONFIRMED') AND (a.status = 'CONFIRMED' OR a.hold_expires_at > $5)
		AND NOT a.id = ANY($6::uuid[])`, country, practitionerID, froms, tos, now, nonNil(excludeIDs))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]time.Time, error) {
		var iv [2]time.Time
		err := r.Scan(&iv[0], &iv[1])
		return iv, err
	})
}

// SeriesByID reads a series (ErrNotFound when none).
func (s *Store) SeriesByID(ctx context.Context, id string) (Series, error) {
	var se Series
	err := s.pool.QueryRow(ctx, `SELECT id::text, country, patient_id::text, coalesce(relative_id::text, ''), practitioner_id::text,
		appointment_type_id::text, count, every_days, created_at FROM series WHERE id = $1`, id).
		Scan(&se.ID, &se.Country, &se.PatientID, &se.RelativeID, &se.PractitionerID, &se.AppointmentTypeID, &se.Count,
			&se.EveryDays, &se.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return se, ErrNotFound
	}
	se.CreatedAt = se.CreatedAt.UTC()
	return se, err
}

// LockSessions reads the sessions of a series from index from on, in index
// order, for update.
func (t *Tx) LockSessions(ctx context.Context, country, seriesID string, from int) ([]Appointment, error) {
	return collect(t.tx.Query(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.country = $1 AND a.series_id = $2 AND a.series_index >= $3 ORDER BY a.series_index FOR UPDATE OF a`,
		country, seriesID, from))
}

// Sessions reads every session of a series, in index order.
func (s *Store) Sessions(ctx context.Context, seriesID string) ([]Appointment, error) {
	return collect(s.pool.Query(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.series_id = $1 ORDER BY a.series_index`, seriesID))
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// The booking fast path: everything a booking decision reads goes to
// PostgreSQL in one round trip (ReadForBooking), and the booking, its
// idempotency key with the answer and its outbox event are written by one
// statement (BookOnce), so the database sees two round trips per booking
// instead of a dozen. The exclusion constraints remain the only gate.

// BookReadQuery says what ReadForBooking reads.
type BookReadQuery struct {
	// Subject and Key name the idempotency key to look up.
	Subject, Key string
	// PractitionerID's schedule replica is read; its snapshot only when its
	// version is not *KnownVersion (nil: always).
	PractitionerID string
	KnownVersion   *int64
	// Country, when set, also asks whether PersonID was seen by the
	// practitioner before Start (SeenBefore) and, when BlockedFrom is before
	// BlockedTo, for the ranges occupied at Now in [BlockedFrom, BlockedTo)
	// (Blocked).
	Country                string
	PersonID               string
	Start                  time.Time
	BlockedFrom, BlockedTo time.Time
	Now                    time.Time
	// PatientID's name (or RelativeID's, the canonical id, when set) and
	// phone are read as an appointment row would show them; RelativeOf
	// checks that RelativeOf is one of the patient's relatives.
	PatientID, RelativeID string
	RelativeOf            string
}

// BookRead is what ReadForBooking read.
type BookRead struct {
	// Key is the stored idempotency key (HasKey false when unused).
	Key    Key
	HasKey bool
	// ScheduleFound is false when the practitioner has no replica; Schedule
	// then has the Country and Version, and the Snapshot when the version is
	// not the known one.
	ScheduleFound bool
	Schedule      Schedule
	// Seen and Blocked answer the Country-dependent questions (when asked).
	Seen    bool
	Blocked [][2]time.Time
	// PatientName and PatientPhone are what an appointment row of the
	// patient (for RelativeID) would show; IsRelative whether RelativeOf is
	// one of the patient's relatives.
	PatientName, PatientPhone string
	IsRelative                bool
}

const (
	lookupKeySQL = `SELECT operation, request_hash, appointment_id::text, response
		FROM idempotency_keys WHERE subject = $1 AND key = $2`
	scheduleIfNewerSQL = `SELECT country, version, CASE WHEN version = $2 THEN NULL ELSE snapshot END
		FROM practitioner_schedules WHERE practitioner_id = $1`
)

// readForBookingSQL is every read of ReadForBooking in one statement (one
// row whatever exists): the key, the replica, the patient, whether the
// person was seen before and the occupied ranges (none when $5, the
// country, is NULL).
const readForBookingSQL = `SELECT k.operation, k.request_hash, k.appointment_id::text, k.response,
		s.country, s.version, CASE WHEN s.version = $4 THEN NULL ELSE s.snapshot END,
		EXISTS (SELECT 1 FROM appointments WHERE country = $5 AND person_id = $6
			AND practitioner_id = $3 AND status IN ('CONFIRMED', 'NO_SHOW') AND starts_at < $7),
		ARRAY(SELECT blocked FROM appointments
			WHERE country = $5 AND practitioner_id = $3 AND status IN ('HELD', 'CONFIRMED')
			AND (status = 'CONFIRMED' OR hold_expires_at > $10) AND $8::timestamptz IS NOT NULL
			AND blocked && tstzrange($8, $9)),
		coalesce(CASE
			WHEN p.erased_at IS NOT NULL THEN NULL
			WHEN $12 = '' THEN nullif(btrim(p.first_name || ' ' || p.last_name), '')
			ELSE (SELECT nullif(btrim(coalesce(r->>'firstName', '') || ' ' || coalesce(r->>'lastName', '')), '')
				FROM jsonb_array_elements(p.relatives) r WHERE r->>'id' = $12 LIMIT 1)
		END, ''),
		coalesce(CASE WHEN p.erased_at IS NULL THEN p.phone END, ''),
		$13 <> '' AND EXISTS (SELECT 1 FROM jsonb_array_elements(p.relatives) r WHERE r->>'id' = $13)
	FROM (SELECT 1) one
	LEFT JOIN idempotency_keys k ON k.subject = $1 AND k.key = $2
	LEFT JOIN practitioner_schedules s ON s.practitioner_id = $3
	LEFT JOIN patients p ON p.id = $11`

// ReadForBooking reads, in one round trip, what deciding a booking needs.
func (s *Store) ReadForBooking(ctx context.Context, q BookReadQuery) (BookRead, error) {
	var (
		r                  BookRead
		op, keyAppointment *string
		hash, resp, snap   []byte
		country            *string
		version            *int64
		ranges             []pgtype.Range[pgtype.Timestamptz]
		country5           *string
		from, to           *time.Time
	)
	if q.Country != "" {
		country5 = &q.Country
		if q.BlockedFrom.Before(q.BlockedTo) {
			from, to = &q.BlockedFrom, &q.BlockedTo
		}
	}
	err := s.pool.QueryRow(ctx, readForBookingSQL, q.Subject, q.Key, q.PractitionerID, q.KnownVersion,
		country5, q.PersonID, q.Start, from, to, q.Now, q.PatientID, q.RelativeID, q.RelativeOf).
		Scan(&op, &hash, &keyAppointment, &resp, &country, &version, &snap, &r.Seen, &ranges,
			&r.PatientName, &r.PatientPhone, &r.IsRelative)
	if err != nil {
		return BookRead{}, err
	}
	if op != nil {
		r.HasKey = true
		r.Key = Key{Operation: *op, RequestHash: hash, AppointmentID: *keyAppointment, Response: resp}
	}
	if country != nil {
		r.ScheduleFound = true
		r.Schedule = Schedule{PractitionerID: q.PractitionerID, Country: *country, Version: *version, Snapshot: snap}
	}
	if len(ranges) > 0 {
		r.Blocked = make([][2]time.Time, len(ranges))
		for i, rg := range ranges {
			r.Blocked[i] = [2]time.Time{rg.Lower.Time, rg.Upper.Time}
		}
	}
	return r, nil
}

// ScheduleIfNewer reads a practitioner's schedule replica, with its snapshot
// only when its version is not *knownVersion (nil: always).
func (s *Store) ScheduleIfNewer(ctx context.Context, practitionerID string, knownVersion *int64) (Schedule, error) {
	sc := Schedule{PractitionerID: practitionerID}
	var snap []byte
	err := s.pool.QueryRow(ctx, scheduleIfNewerSQL, practitionerID, knownVersion).Scan(&sc.Country, &sc.Version, &snap)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrNotFound
	}
	sc.Snapshot = snap
	return sc, err
}

// ErrKeyTaken is BookOnce's answer when another request committed the
// idempotency key first: nothing was written.
var ErrKeyTaken = errors.New("idempotency key already used")

// NewKey is an idempotency key written with its answer.
type NewKey struct {
	Subject, Key, Operation string
	RequestHash             []byte
	Response                []byte
}

// bookOnceSQL inserts a confirmed appointment unless a constraint says no
// (ON CONFLICT DO NOTHING, no target: it never raises the practitioner's
// exclusion violation), and only if it did, its idempotency key with the
// answer, its outbox event and the account's count of bookings with the
// practice that day: one statement, so one implicit transaction. The
// person constraint (trigger) and the count's CHECK raise, aborting it whole.
const bookOnceSQL = `WITH ins AS (
		INSERT INTO appointments (country, id, practitioner_id, patient_id, relative_id, person_id,
			appointment_type_id, location_id, status, starts_at, ends_at, blocked, idempotency_key, note, created_at)
		VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, 'CONFIRMED', $9, $10, tstzrange($11, $12),
			nullif($13, ''), nullif($14, ''), $15)
		ON CONFLICT DO NOTHING
		RETURNING id
	), k AS (
		INSERT INTO idempotency_keys (subject, key, operation, request_hash, appointment_id, response)
		SELECT $16, $17, $18, $19, ins.id, $20 FROM ins
	), o AS (
		INSERT INTO outbox (id, topic, key, type, payload, traceparent) SELECT $21, $22, $23, $24, $25, $26 FROM ins
	), c AS (
		INSERT INTO booking_counts (patient_id, practitioner_id, day, booked, max_booked) SELECT $4, $3, $27, 1, $28 FROM ins
		ON CONFLICT (patient_id, practitioner_id, day) DO UPDATE
		SET booked = booking_counts.booked + 1, max_booked = EXCLUDED.max_booked
	)
	SELECT count(*) FROM ins`

// BookOnce writes a confirmed appointment a (its CreatedAt and Version as
// given, Version being 1), its idempotency key k and its outbox event ev (on
// topic, keyed by the practitioner id) in one statement, and reports
// whether it did. false: a constraint refused the row (the conflicting row
// is committed by now: the insert waited for its transaction) and nothing
// was written. ErrKeyTaken: another request committed k first.
// ErrPersonOverlap: the person has a confirmed appointment then, in any
// country (the person constraint raised; nothing was written).
// ErrBookingLimit: the account has booked limit.Max appointments with the
// practice on limit.Day already (nothing was written).
func (s *Store) BookOnce(ctx context.Context, a Appointment, k NewKey, limit DayLimit, topic string, ev events.Envelope) (bool, error) {
	if a.Status != StatusConfirmed || a.HoldExpiresAt != nil || a.Version != 1 {
		return false, fmt.Errorf("store: BookOnce writes new confirmed appointments only")
	}
	if err := ev.Validate(); err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	payload, err := ev.Encode()
	if err != nil {
		return false, fmt.Errorf("outbox: encode event %s: %w", ev.ID, err)
	}
	var n int
	for attempt := range maxAttempts {
		err = s.pool.QueryRow(ctx, bookOnceSQL,
			a.Country, a.ID, a.PractitionerID, a.PatientID, a.RelativeID, a.PersonID,
			a.AppointmentTypeID, a.LocationID, a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil,
			a.IdempotencyKey, a.Note, a.CreatedAt,
			k.Subject, k.Key, k.Operation, k.RequestHash, k.Response,
			ev.ID, topic, a.PractitionerID, ev.Type, payload, outbox.TraceParent(ctx), limit.Day, limit.Max).Scan(&n)
		if !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "idempotency_keys" {
		return false, ErrKeyTaken
	}
	if err != nil {
		return false, limitError(overlapError(err))
	}
	if n == 1 {
		outbox.Committed(s.pool)
	}
	return n == 1, nil
}

// DayLimit is the day a booking counts on (the local date of the country
// when it is made) and the country's limit of bookings per account and
// practice on one day.
type DayLimit struct {
	Day time.Time // a date: only year, month and day count
	Max int
}

// ErrBookingLimit is a booking past the country's bookings per account,
// practice and day.
var ErrBookingLimit = errors.New("too many bookings with this practice today")

const bookingCountSQL = `INSERT INTO booking_counts (patient_id, practitioner_id, day, booked, max_booked) VALUES ($1, $2, $3, 1, $4)
	ON CONFLICT (patient_id, practitioner_id, day) DO UPDATE SET booked = booking_counts.booked + 1, max_booked = EXCLUDED.max_booked`

// CountBooking counts a booking the transaction makes against the account's
// bookings with the practice that day: ErrBookingLimit past the limit (the
// transaction is then aborted).
func (t *Tx) CountBooking(ctx context.Context, patientID, practitionerID string, limit DayLimit) error {
	_, err := t.tx.Exec(ctx, bookingCountSQL, patientID, practitionerID, limit.Day, limit.Max)
	return limitError(err)
}

// PruneBookingCounts deletes the counts of days before before.
func (s *Store) PruneBookingCounts(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM booking_counts WHERE day < $1`, before)
	return tag.RowsAffected(), err
}

func limitError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "booking_counts_limit" {
		return ErrBookingLimit
	}
	return err
}

// NoRowQuery asks why BookOnce wrote nothing.
type NoRowQuery struct {
	Subject, Key                   string
	Country, PractitionerID        string
	BlockedFrom, BlockedUntil, Now time.Time
}

// NoRow says why BookOnce wrote nothing: the key was committed meanwhile
// (HasKey), or a hold that expired at Now but is still HELD overlaps the
// range (ExpiredHold); otherwise the practitioner is busy then. (A busy
// person is no "no row": the person constraint raised ErrPersonOverlap.)
type NoRow struct {
	Key         Key
	HasKey      bool
	ExpiredHold bool
}

// WhyNoRow reads, in one round trip, why BookOnce wrote nothing.
func (s *Store) WhyNoRow(ctx context.Context, q NoRowQuery) (NoRow, error) {
	var r NoRow
	b := &pgx.Batch{}
	b.Queue(lookupKeySQL, q.Subject, q.Key).QueryRow(func(row pgx.Row) error {
		var resp []byte
		err := row.Scan(&r.Key.Operation, &r.Key.RequestHash, &r.Key.AppointmentID, &resp)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		r.Key.Response, r.HasKey = resp, err == nil
		return err
	})
	b.Queue(`SELECT EXISTS (SELECT 1 FROM appointments WHERE country = $1 AND practitioner_id = $2 AND status = 'HELD'
		AND hold_expires_at <= $5 AND blocked && tstzrange($3, $4))`,
		q.Country, q.PractitionerID, q.BlockedFrom, q.BlockedUntil, q.Now).QueryRow(func(row pgx.Row) error {
		return row.Scan(&r.ExpiredHold)
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return NoRow{}, err
	}
	return r, nil
}

// LockPatientLiveHolds is LockPatient then LiveHolds, pipelined in one round
// trip: PostgreSQL runs them in order, so the read's snapshot is taken once
// the lock is held, as when they are sent one by one.
func (t *Tx) LockPatientLiveHolds(ctx context.Context, patientID string, now time.Time) ([]Appointment, error) {
	var live []Appointment
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('booking-holds:' || $1, 0))`, patientID)
	b.Queue(`SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.patient_id = $1 AND a.status = 'HELD' AND a.hold_expires_at > $2
		ORDER BY a.created_at, a.id FOR UPDATE OF a`, patientID, now).Query(func(rows pgx.Rows) error {
		var err error
		live, err = collect(rows, nil)
		return err
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return live, nil
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

// InsertHold is Insert for a new hold (Version 1) together with its outbox
// event ev (on topic, keyed by the practitioner id), in one statement: the
// event is written only if the hold is. ErrPractitionerOverlap when a
// constraint refused the row (nothing is written).
func (t *Tx) InsertHold(ctx context.Context, a Appointment, topic string, ev events.Envelope) (Appointment, error) {
	if a.Status != StatusHeld || a.HoldExpiresAt == nil || a.Version != 1 {
		return Appointment{}, fmt.Errorf("store: InsertHold writes new holds only")
	}
	if err := ev.Validate(); err != nil {
		return Appointment{}, fmt.Errorf("outbox: %w", err)
	}
	payload, err := ev.Encode()
	if err != nil {
		return Appointment{}, fmt.Errorf("outbox: encode event %s: %w", ev.ID, err)
	}
	out, err := scanAppointment(t.tx.QueryRow(ctx, `WITH ins AS (INSERT INTO appointments
		(country, id, practitioner_id, patient_id, person_id, appointment_type_id, location_id,
		 status, starts_at, ends_at, blocked, hold_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'HELD', $8, $9, tstzrange($10, $11), $12)
		ON CONFLICT DO NOTHING RETURNING *
	), o AS (
		INSERT INTO outbox (id, topic, key, type, payload, traceparent) SELECT $13, $14, $15, $16, $17, $18 FROM ins
	) SELECT `+selectCols+` FROM ins a LEFT JOIN patients p ON p.id = a.patient_id`,
		a.Country, a.ID, a.PractitionerID, a.PatientID, a.PersonID, a.AppointmentTypeID, a.LocationID,
		a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil, a.HoldExpiresAt,
		ev.ID, topic, a.PractitionerID, ev.Type, payload, outbox.TraceParent(ctx)))
	if errors.Is(err, ErrNotFound) {
		return Appointment{}, ErrPractitionerOverlap
	}
	return out, err
}

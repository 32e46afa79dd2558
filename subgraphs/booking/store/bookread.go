package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The reads of a booking: what its decision needs (ReadForBooking, one
// round trip) and, when Book wrote nothing, why (WhyNoRow).

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
	// (Blocked) by rows other than HoldID's.
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
	// HoldID, when set, is a hold the booking means to replace: read too.
	HoldID string
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
	// Hold is HoldID's row, of whatever status (HasHold false when none).
	Hold    Appointment
	HasHold bool
	// Restriction is PatientID's no-show restriction with the practitioner
	// live at Now (nil when none).
	Restriction *Restriction
}

const (
	lookupKeySQL = `SELECT operation, request_hash, appointment_id::text, response
		FROM idempotency_keys WHERE subject = $1 AND key = $2`
	scheduleIfNewerSQL = `SELECT country, version, CASE WHEN version = $2 THEN NULL ELSE snapshot END
		FROM practitioner_schedules WHERE practitioner_id = $1`
	holdSQL = `SELECT ` + selectCols + ` FROM appointments` + fromJoined + ` WHERE a.id = $1`
)

// readForBookingSQL is every read of ReadForBooking but the hold's in one
// statement (one row whatever exists): the key, the replica, the patient,
// whether the person was seen before and the occupied ranges (none when $5,
// the country, is NULL), the account's live restriction with the practice.
const readForBookingSQL = `SELECT k.operation, k.request_hash, k.appointment_id::text, k.response,
		s.country, s.version, CASE WHEN s.version = $4 THEN NULL ELSE s.snapshot END,
		EXISTS (SELECT 1 FROM appointments WHERE country = $5 AND person_id = $6
			AND practitioner_id = $3 AND status IN ('CONFIRMED', 'NO_SHOW') AND starts_at < $7),
		ARRAY(SELECT blocked FROM appointments
			WHERE country = $5 AND practitioner_id = $3 AND status IN ('HELD', 'CONFIRMED')
			AND (status = 'CONFIRMED' OR hold_expires_at > $10) AND $8::timestamptz IS NOT NULL
			AND blocked && tstzrange($8, $9) AND id <> $14),
		coalesce(CASE
			WHEN p.erased_at IS NOT NULL THEN NULL
			WHEN $12 = '' THEN nullif(btrim(p.first_name || ' ' || p.last_name), '')
			ELSE (SELECT nullif(btrim(coalesce(r->>'firstName', '') || ' ' || coalesce(r->>'lastName', '')), '')
				FROM jsonb_array_elements(p.relatives) r WHERE r->>'id' = $12 LIMIT 1)
		END, ''),
		coalesce(CASE WHEN p.erased_at IS NULL THEN p.phone END, ''),
		$13 <> '' AND EXISTS (SELECT 1 FROM jsonb_array_elements(p.relatives) r WHERE r->>'id' = $13),
		br.until, br.created_at, br.no_shows
	FROM (SELECT 1) one
	LEFT JOIN idempotency_keys k ON k.subject = $1 AND k.key = $2
	LEFT JOIN practitioner_schedules s ON s.practitioner_id = $3
	LEFT JOIN patients p ON p.id = $11
	LEFT JOIN booking_restrictions br ON br.patient_id = $11 AND br.practitioner_id = $3 AND br.lifted_at IS NULL
		AND br.until > $10`

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
		until, since       *time.Time
		noShows            *int
	)
	if q.Country != "" {
		country5 = &q.Country
		if q.BlockedFrom.Before(q.BlockedTo) {
			from, to = &q.BlockedFrom, &q.BlockedTo
		}
	}
	args := []any{q.Subject, q.Key, q.PractitionerID, q.KnownVersion,
		country5, q.PersonID, q.Start, from, to, q.Now, q.PatientID, q.RelativeID, q.RelativeOf, orZeroUUID(q.HoldID)}
	scan := func(row pgx.Row) error {
		return row.Scan(&op, &hash, &keyAppointment, &resp, &country, &version, &snap, &r.Seen, &ranges,
			&r.PatientName, &r.PatientPhone, &r.IsRelative, &until, &since, &noShows)
	}
	var err error
	if q.HoldID == "" {
		err = scan(s.pool.QueryRow(ctx, readForBookingSQL, args...))
	} else {
		// The hold's row in the same round trip.
		b := &pgx.Batch{}
		b.Queue(readForBookingSQL, args...).QueryRow(scan)
		b.Queue(holdSQL, q.HoldID).QueryRow(func(row pgx.Row) error {
			var err error
			r.Hold, err = scanAppointment(row)
			if r.HasHold = err == nil; errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		})
		err = s.pool.SendBatch(ctx, b).Close()
	}
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
	if until != nil {
		r.Restriction = &Restriction{PatientID: q.PatientID, PractitionerID: q.PractitionerID, Until: until.UTC(),
			Since: since.UTC(), NoShows: *noShows}
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

// NoRowQuery asks why Book wrote nothing.
type NoRowQuery struct {
	Subject, Key                   string
	Country, PractitionerID        string
	BlockedFrom, BlockedUntil, Now time.Time
	// PatientID is the account booking; its restriction with the practice
	// is read unless AtDesk.
	PatientID string
	AtDesk    bool
}

// NoRow says why Book wrote nothing: the key was committed meanwhile
// (HasKey), the account is restricted with the practice (Restriction, an
// online booking only), or a hold that expired at Now but is still HELD
// overlaps the range (ExpiredHold); otherwise the practitioner is busy then.
// (A busy person is no "no row": the person constraint raised
// ErrPersonOverlap.)
type NoRow struct {
	Key         Key
	HasKey      bool
	Restriction *Restriction
	ExpiredHold bool
}

// WhyNoRow reads, in one round trip, why Book wrote nothing.
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
	if !q.AtDesk {
		b.Queue(`SELECT r.until, r.created_at, r.no_shows FROM booking_restrictions r
			WHERE r.patient_id = $1 AND r.practitioner_id = $2 AND r.lifted_at IS NULL AND r.until > $3`,
			q.PatientID, q.PractitionerID, q.Now).QueryRow(func(row pgx.Row) error {
			x := Restriction{PatientID: q.PatientID, PractitionerID: q.PractitionerID, Country: q.Country}
			err := row.Scan(&x.Until, &x.Since, &x.NoShows)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			x.Until, x.Since = x.Until.UTC(), x.Since.UTC()
			r.Restriction = &x
			return err
		})
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return NoRow{}, err
	}
	return r, nil
}

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
	"github.com/careslot/careslot/internal/postgres"
)

// A booking: everything its decision reads goes to PostgreSQL in one round
// trip (ReadForBooking), and the booking, its idempotency key with the
// answer, its outbox event and its count for the day are written by one
// statement (Book), so the database sees two round trips per booking
// instead of a dozen. A booking that replaces the booker's hold ends the
// hold in the same transaction. The exclusion constraints remain the only
// gate.

// ErrKeyTaken is Book's answer when another request committed the
// idempotency key first: nothing was written.
var ErrKeyTaken = errors.New("idempotency key already used")

// NewKey is an idempotency key written with its answer.
type NewKey struct {
	Subject, Key, Operation string
	RequestHash             []byte
	Response                []byte
}

// Booking is a new confirmed appointment and everything that commits with it.
type Booking struct {
	// Appointment is the row to write (CONFIRMED, Version 1, its CreatedAt set).
	Appointment Appointment
	// Key is its idempotency key with the answer; Limit the day it counts on.
	Key   NewKey
	Limit DayLimit
	// Event is its AppointmentBooked, on Topic, keyed by the practitioner id.
	Topic string
	Event events.Envelope
	// Replaces, when set, is the booker's hold the booking takes the place of.
	Replaces *HoldEnd
	// Offer, when set, is the earlier-slot offer whose hold (Replaces) the
	// booking accepts: it is taken in the same transaction, or nothing is
	// written (ErrOfferTaken).
	Offer *OfferTaken
	// AtDesk is a booking the practice makes (a desk booking): the account's
	// no-show restriction with the practice, which stops online bookings
	// only, is not checked. Now is when the restriction is checked at.
	AtDesk bool
	Now    time.Time
}

// HoldEnd ends a live hold in the transaction of the booking that replaces it.
type HoldEnd struct {
	// Hold is the hold as read; it is ended only if it is still that very
	// row (same version) and still live at Now. Otherwise the booking goes
	// ahead without it, as any would.
	Hold Appointment
	Now  time.Time
	// Event is its HoldReleased, saying what the ended row will (status
	// EXPIRED, the next version), on the booking's Topic.
	Event events.Envelope
}

// bookSQL inserts a confirmed appointment unless a constraint says no (ON
// CONFLICT DO NOTHING, no target: it never raises the practitioner's
// exclusion violation) or, for an online booking ($29 false), the account is
// restricted with the practice at $30 (restrictions.go), and only if it did,
// its idempotency key with the answer, the account's count of bookings with
// the practice that day and its outbox event: one statement, so one implicit
// transaction (or part of the one that ends the hold it replaces). The
// person constraint (trigger), the count's CHECK and a committed key raise,
// aborting it whole.
var bookSQL = `WITH ins AS (
		INSERT INTO appointments (country, id, practitioner_id, patient_id, relative_id, person_id,
			appointment_type_id, location_id, status, starts_at, ends_at, blocked, idempotency_key, note, created_at)
		SELECT $1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, 'CONFIRMED', $9, $10, tstzrange($11, $12),
			nullif($13, ''), nullif($14, ''), $15
		WHERE $29::boolean OR NOT ` + activeRestriction("$4", "$3", "$30") + `
		ON CONFLICT DO NOTHING
		RETURNING id
	), k AS (
		INSERT INTO idempotency_keys (subject, key, operation, request_hash, appointment_id, response)
		SELECT $16, $17, $18, $19, ins.id, $20 FROM ins
	), c AS (
		INSERT INTO booking_counts (patient_id, practitioner_id, day, booked, max_booked) SELECT $4, $3, $21, 1, $22 FROM ins
		WHERE $22::integer IS NOT NULL
		ON CONFLICT (patient_id, practitioner_id, day) DO UPDATE
		SET booked = booking_counts.booked + 1, max_booked = EXCLUDED.max_booked
	), o AS (` + outbox.InsertFromSQL("ins", 23) + `)
	SELECT count(*) FROM ins`

// endHoldSQL ends a hold the booking replaces, if it is still the live row
// that was read, and writes its event ($6 on) only if it did.
var endHoldSQL = `WITH ended AS (
		UPDATE appointments SET status = 'EXPIRED', version = version + 1, updated_at = $5
		WHERE country = $1 AND id = $2 AND patient_id = $3 AND version = $4 AND status = 'HELD' AND hold_expires_at > $5
		RETURNING id
	) ` + outbox.InsertFromSQL("ended", 6)

// errNotBooked rolls back the hold's end when the booking wrote nothing.
var errNotBooked = errors.New("nothing booked")

// Book writes b and reports whether it did: one statement, or, when b
// replaces a hold, one transaction that ends the hold (if still live) and
// then runs that statement. false: a constraint refused the appointment (the
// conflicting row is committed by now: the insert waited for its
// transaction), or, online, the account is restricted with the practice
// (WhyNoRow tells them apart), and nothing was written, the hold's end
// neither.
// ErrKeyTaken: another request committed the key first. ErrPersonOverlap:
// the person has a confirmed appointment then, in any country.
// ErrBookingLimit: the account has booked Limit.Max appointments with the
// practice on Limit.Day already. ErrOfferTaken: b accepts an offer that is no
// longer on offer. Nothing is written in those cases either.
func (s *Store) Book(ctx context.Context, b Booking) (bool, error) {
	a := b.Appointment
	if a.Status != StatusConfirmed || a.HoldExpiresAt != nil || a.Version != 1 {
		return false, fmt.Errorf("store: Book writes new confirmed appointments only")
	}
	event, err := outbox.NewRow(ctx, b.Topic, a.PractitionerID, b.Event)
	if err != nil {
		return false, err
	}
	args := append([]any{a.Country, a.ID, a.PractitionerID, a.PatientID, a.RelativeID, a.PersonID,
		a.AppointmentTypeID, a.LocationID, a.StartsAt, a.EndsAt, a.BlockedFrom, a.BlockedUntil,
		a.IdempotencyKey, a.Note, a.CreatedAt,
		b.Key.Subject, b.Key.Key, b.Key.Operation, b.Key.RequestHash, b.Key.Response,
		b.Limit.Day, b.Limit.max()}, event.Args()...)
	args = append(args, b.AtDesk, b.Now)
	var n int
	switch {
	case b.Offer != nil:
		err = s.bookTakingOffer(ctx, b, args, &n)
	case b.Replaces != nil:
		err = s.bookReplacingHold(ctx, *b.Replaces, b.Topic, a, b.AtDesk, args, &n)
	case b.AtDesk:
		err = postgres.RetryAborted(ctx, func() error { return s.pool.QueryRow(ctx, bookSQL, args...).Scan(&n) })
	default:
		// The restriction lock first, in a statement of its own: the booking
		// statement's snapshot then sees any restriction committed before it
		// (restrictions.go). One round trip, one implicit transaction.
		err = postgres.RetryAborted(ctx, func() error {
			batch := &pgx.Batch{}
			batch.Queue(restrictionLockSQL, a.PatientID, a.PractitionerID)
			batch.Queue(bookSQL, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
			return s.pool.SendBatch(ctx, batch).Close()
		})
	}
	if err == nil && n == 1 && b.Replaces == nil {
		outbox.Committed(s.pool)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "idempotency_keys" {
		return false, ErrKeyTaken
	}
	if err != nil {
		return false, limitError(overlapError(err))
	}
	return n == 1, nil
}

// bookReplacingHold is Book's transaction for a booking that replaces a hold.
func (s *Store) bookReplacingHold(ctx context.Context, end HoldEnd, topic string, a Appointment, atDesk bool, bookArgs []any, n *int) error {
	h := end.Hold
	released, err := outbox.NewRow(ctx, topic, h.PractitionerID, end.Event)
	if err != nil {
		return err
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		if !atDesk {
			if _, err := tx.tx.Exec(ctx, restrictionLockSQL, a.PatientID, a.PractitionerID); err != nil {
				return err
			}
		}
		if _, err := tx.tx.Exec(ctx, endHoldSQL, append([]any{h.Country, h.ID, h.PatientID, h.Version, end.Now},
			released.Args()...)...); err != nil {
			return err
		}
		if err := tx.tx.QueryRow(ctx, bookSQL, bookArgs...).Scan(n); err != nil {
			return err
		}
		if *n == 0 {
			return errNotBooked
		}
		return nil
	})
	if errors.Is(err, errNotBooked) {
		return nil
	}
	return err
}

// DayLimit is the day a booking counts on (the local date of the country
// when it is made) and the country's limit of bookings per account and
// practice on one day.
type DayLimit struct {
	Day time.Time // a date: only year, month and day count
	Max int
	// Uncounted: the booking counts against no limit (a desk booking: the
	// practice booked it, not the patient online).
	Uncounted bool
}

// max is the statement's argument: NULL when the booking is not counted.
func (l DayLimit) max() any {
	if l.Uncounted {
		return nil
	}
	return l.Max
}

// ErrBookingLimit is a booking past the country's bookings per account,
// practice and day.
var ErrBookingLimit = errors.New("too many bookings with this practice today")

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

// Package business holds the booking service's rules: who may hold, book,
// move, cancel and mark no-shows, how a start is decided (by internal/slots,
// against the practitioner's schedule replica and the occupied ranges in
// PostgreSQL), idempotency, and which event each change emits.
//
// PostgreSQL is the only gate: the decision turns away what is plainly not
// bookable, and the insert (ON CONFLICT DO NOTHING against the exclusion
// constraints) settles every race. A conflict is SLOT_UNAVAILABLE, never an
// internal error.
//
// The schedule replica may lag the practice's owner: a hold, booking or move
// it refuses for a reason of the practice's is decided again with the
// owner's snapshot when that is newer (readthrough.go).
package business

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Source is the CloudEvents source of this service's events.
var Source = events.Source("booking")

// Defaults of Options.
const (
	DefaultHoldTTL  = 5 * time.Minute
	MaxKeyLength    = 200
	MaxNoteLength   = 1000
	MaxReasonLength = 500
)

// Options tune the service.
type Options struct {
	// HoldTTL is how long a hold lives (DefaultHoldTTL when zero).
	HoldTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Owner reads a practice from the practitioner service when the
	// schedule replica refused a request (nil: the replica's answer stands).
	Owner PracticeOwner
	// OwnerTimeout bounds such a read (DefaultOwnerTimeout when zero).
	OwnerTimeout time.Duration
}

// Service is the booking business layer.
type Service struct {
	store     *store.Store
	countries *countries.Catalog
	now       func() time.Time
	holdTTL   time.Duration
	log       *slog.Logger
	plans     *planCache // decoded schedule replicas
	// owner, ownerTimeout and ownerReads serve the replica read-through
	// (readthrough.go).
	owner        PracticeOwner
	ownerTimeout time.Duration
	ownerReads   singleflight.Group
}

// New builds the service.
func New(st *store.Store, cat *countries.Catalog, opts Options) *Service {
	s := &Service{store: st, countries: cat, now: opts.Now, holdTTL: opts.HoldTTL, log: opts.Logger,
		plans: newPlanCache(DefaultPlanCacheSize), owner: opts.Owner, ownerTimeout: opts.OwnerTimeout}
	if s.ownerTimeout <= 0 {
		s.ownerTimeout = DefaultOwnerTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.holdTTL <= 0 {
		s.holdTTL = DefaultHoldTTL
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// HoldTTL is how long a new hold lives.
func (s *Service) HoldTTL() time.Duration { return s.holdTTL }

// HoldInput is a slot to hold.
type HoldInput struct {
	PractitionerID    string
	AppointmentTypeID string
	StartsAt          time.Time
}

// Hold holds a slot for the calling patient for HoldTTL: the slot is then
// occupied (by the same constraint as a booking) until the hold expires, is
// released or is turned into a booking. Holding the very slot the patient
// already holds returns that hold; a hold beyond the country's live holds per
// patient is HOLD_LIMIT_REACHED (counted under a per-patient lock in the
// transaction that inserts, so racing holds cannot pass it together).
func (s *Service) Hold(ctx context.Context, in HoldInput) (store.Appointment, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Appointment{}, err
	}
	if err := ids(field{"practitionerId", in.PractitionerID}, field{"appointmentTypeId", in.AppointmentTypeID}); err != nil {
		return store.Appointment{}, err
	}
	return withFreshPractice(ctx, s, func() (store.Appointment, error) { return s.hold(ctx, me, in) })
}

// hold is Hold once its input is checked.
func (s *Service) hold(ctx context.Context, me string, in HoldInput) (store.Appointment, error) {
	p, err := s.loadPlan(ctx, in.PractitionerID, in.AppointmentTypeID)
	if err != nil {
		return store.Appointment{}, err
	}
	start := in.StartsAt.UTC()
	var out store.Appointment
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		now := s.now()
		live, err := tx.LockPatientLiveHolds(ctx, me, now)
		if err != nil {
			return err
		}
		for _, h := range live {
			if h.PractitionerID == p.practitionerID && h.AppointmentTypeID == p.typ.ID && h.StartsAt.Equal(start) {
				out = h
				return nil
			}
		}
		if limit := s.limits(p.country).LiveHoldsPerPatient; len(live) >= limit {
			return &apperr.Error{Code: apperr.HoldLimitReached, Message: fmt.Sprintf(
				"you already hold %d slots, the most at once: book or release one (releaseHold), or let one expire", len(live))}
		}
		// Expire the due holds in the way, then read what is occupied (one
		// round trip, in that order).
		br := blockedRange(p, start)
		dates, from, to, err := blockedWindow(p, start)
		if err != nil {
			return err
		}
		expired, ranges, err := tx.ExpireHoldsThenBlocked(ctx, p.country, p.practitionerID, br.Start, br.End, now, from, to, "")
		if err != nil {
			return err
		}
		for _, h := range expired {
			if err := s.emit(ctx, tx, eventdata.HoldReleased, h, nil); err != nil {
				return err
			}
		}
		// Whether the patient is new is settled when they book (they may book
		// for a relative): a hold only needs the slot to be open.
		d, err := decideWith(p, start, now, false, dates, ranges)
		if err != nil {
			return err
		}
		// The row as PostgreSQL will return it (canonical ids, microseconds),
		// so that the event, written by the same statement, says the same.
		expires := now.Add(s.holdTTL).UTC().Truncate(time.Microsecond)
		h := store.Appointment{
			Country: p.country, ID: uid.New(), PractitionerID: p.practitionerID, PatientID: canonicalID(me), PersonID: canonicalID(me),
			AppointmentTypeID: canonicalID(p.typ.ID), LocationID: canonicalID(d.locationID), Status: store.StatusHeld,
			StartsAt: start, EndsAt: start.Add(p.typ.Duration), BlockedFrom: d.blocked.Start.UTC(), BlockedUntil: d.blocked.End.UTC(),
			HoldExpiresAt: &expires, Version: 1,
		}
		ev, err := events.New(Source, eventdata.HoldPlaced, h.ID, Payload(h))
		if err != nil {
			return err
		}
		if out, err = tx.InsertHold(ctx, h, events.BookingEvents, ev); err != nil {
			return conflict(err)
		}
		return nil
	})
	if err != nil {
		return store.Appointment{}, err
	}
	return out, nil
}

// ReleaseHold ends one of the calling patient's holds at once, freeing its
// slot (HoldReleased). A hold that has already ended is returned as it is;
// anyone else's, or an unknown id, is NOT_FOUND.
func (s *Service) ReleaseHold(ctx context.Context, holdID string) (store.Appointment, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Appointment{}, err
	}
	if err := ids(field{"holdId", holdID}); err != nil {
		return store.Appointment{}, err
	}
	var out store.Appointment
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		h, err := tx.Lock(ctx, holdID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (h.PatientID != canonicalID(me) || h.HoldExpiresAt == nil)) {
			return apperr.NotFoundf("hold %q not found", holdID)
		}
		if err != nil {
			return err
		}
		now := s.now()
		out = h
		if h.Status != store.StatusHeld {
			return nil
		}
		// A hold past its expiry that the sweeper has not reached yet ends now too.
		if out, err = tx.EndHold(ctx, h.Country, h.ID, now); err != nil {
			return err
		}
		return s.emit(ctx, tx, eventdata.HoldReleased, out, nil)
	})
	return out, err
}

// limits are the country's domain limits (the defaults for a country the
// catalogue does not serve).
func (s *Service) limits(country string) countries.Limits {
	if c, ok := s.countries.Get(country); ok {
		return c.Limits
	}
	return countries.DefaultLimits
}

// dayLimit is what a booking made at now counts against: the country's local
// date then and its bookings per account, practice and day.
func (s *Service) dayLimit(country string, now time.Time) store.DayLimit {
	zone := time.UTC
	if c, ok := s.countries.Get(country); ok && c.Location() != nil {
		zone = c.Location()
	}
	y, m, d := now.In(zone).Date()
	return store.DayLimit{Day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), Max: s.limits(country).BookingsPerPatientPerPracticePerDay}
}

// BookInput is a booking request.
type BookInput struct {
	PractitionerID    string
	AppointmentTypeID string
	StartsAt          time.Time
	IdempotencyKey    string
	HoldID            string // optional: the caller's live hold on this slot
	RelativeID        string // optional: one of the caller's relatives
	Note              string
}

const (
	opBook       = "book"
	opReschedule = "reschedule"
)

// answer is what an idempotency key remembers.
type answer struct {
	Appointment store.Appointment  `json:"appointment"`
	Previous    *store.Appointment `json:"previous,omitempty"`
}

// errReplayed aborts a transaction whose idempotency key another request
// committed first; the caller then returns that request's answer.
var errReplayed = errors.New("idempotency key already used")

// Book books a slot for the calling patient or one of their relatives:
// decide the start, insert (the constraint settles races), emit
// AppointmentBooked and remember the answer under the idempotency key, all
// or nothing. Without a hold it takes the fast path (bookFast: one round
// trip of reads, one statement of writes); with the caller's hold, one
// transaction that turns the hold into the booking (bookInTx).
func (s *Service) Book(ctx context.Context, in BookInput) (store.Appointment, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Appointment{}, err
	}
	fs := []field{{"practitionerId", in.PractitionerID}, {"appointmentTypeId", in.AppointmentTypeID}}
	if in.HoldID != "" {
		fs = append(fs, field{"holdId", in.HoldID})
	}
	if in.RelativeID != "" {
		fs = append(fs, field{"relativeId", in.RelativeID})
	}
	if err := ids(fs...); err != nil {
		return store.Appointment{}, err
	}
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return store.Appointment{}, err
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > MaxNoteLength {
		return store.Appointment{}, apperr.Invalid("note", "must be at most %d characters", MaxNoteLength)
	}
	start := in.StartsAt.UTC()
	hash := requestHash(opBook, in.PractitionerID, in.AppointmentTypeID, start.Format(time.RFC3339Nano), in.HoldID, in.RelativeID, note)
	return onceMoreIfConnectionLost(s, func() (store.Appointment, error) {
		return withFreshPractice(ctx, s, func() (store.Appointment, error) {
			if in.HoldID == "" {
				return s.bookFast(ctx, me, in, key, note, start, hash)
			}
			return s.bookInTx(ctx, me, in, key, note, start, hash)
		})
	})
}

// onceMoreIfConnectionLost runs a keyed change (a booking, a move) again when
// its database connection died under it — the server restarted, an operator
// terminated the sessions — instead of failing the caller: the idempotency
// key makes the second run answer what the first committed, if it did. The
// pool's other connections likely died too: they are dropped first.
func onceMoreIfConnectionLost[T any](s *Service, run func() (T, error)) (T, error) {
	out, err := run()
	if store.ConnectionLost(err) {
		s.log.Warn("booking: database connection lost; reconnecting and trying once more", "err", err)
		s.store.DropConnections()
		out, err = run()
	}
	return out, err
}

// bookInTx is Book in one transaction, the way of a booking that turns the
// caller's hold into the appointment: claim the idempotency key, expire the
// overlapping holds that are due, release the hold, decide the start, insert
// (the constraint settles races), emit AppointmentBooked, store the answer.
func (s *Service) bookInTx(ctx context.Context, me string, in BookInput, key, note string, start time.Time, hash []byte) (store.Appointment, error) {
	if a, ok, err := s.replay(ctx, me, key, opBook, hash); ok || err != nil {
		return a.Appointment, err
	}
	p, err := s.loadPlan(ctx, in.PractitionerID, in.AppointmentTypeID)
	if err != nil {
		return store.Appointment{}, err
	}
	person := me
	if in.RelativeID != "" {
		if err := s.checkRelative(ctx, me, in.RelativeID); err != nil {
			return store.Appointment{}, err
		}
		person = in.RelativeID
	}
	var out store.Appointment
	id := uid.New()
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.ClaimKey(ctx, me, key, opBook, hash, id)
		if err != nil {
			return err
		}
		if !claimed {
			return errReplayed
		}
		now := s.now()
		if err := s.expireOverlapping(ctx, tx, p, start, now); err != nil {
			return err
		}
		if in.HoldID != "" {
			if err := s.convertHold(ctx, tx, me, in.HoldID, p, start, now); err != nil {
				return err
			}
		}
		seen, err := tx.SeenBefore(ctx, p.country, p.practitionerID, person, start, "")
		if err != nil {
			return err
		}
		d, err := s.decide(ctx, tx, p, start, now, !seen, "")
		if err != nil {
			return err
		}
		a := store.Appointment{
			Country: p.country, ID: id, PractitionerID: p.practitionerID, PatientID: me, RelativeID: in.RelativeID,
			PersonID: person, AppointmentTypeID: p.typ.ID, LocationID: d.locationID, Status: store.StatusConfirmed,
			StartsAt: start, EndsAt: start.Add(p.typ.Duration), BlockedFrom: d.blocked.Start, BlockedUntil: d.blocked.End,
			IdempotencyKey: key, Note: note,
		}
		if out, err = tx.Insert(ctx, a); err != nil {
			return conflict(err)
		}
		if err := tx.CountBooking(ctx, me, p.practitionerID, s.dayLimit(p.country, now)); err != nil {
			return conflict(err)
		}
		if err := s.emit(ctx, tx, eventdata.AppointmentBooked, out, nil); err != nil {
			return err
		}
		return s.remember(ctx, tx, me, key, answer{Appointment: out})
	})
	if errors.Is(err, errReplayed) {
		a, _, err := s.replay(ctx, me, key, opBook, hash)
		return a.Appointment, err
	}
	if err != nil {
		return store.Appointment{}, err
	}
	return out, nil
}

// convertHold releases the caller's live hold on this very slot so that the
// booking can take it in the same transaction. A hold that has expired in
// the meantime is no error: the booking then competes for the slot like any.
func (s *Service) convertHold(ctx context.Context, tx *store.Tx, me, holdID string, p *plan, start, now time.Time) error {
	h, err := tx.Lock(ctx, holdID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (h.PatientID != me || h.HoldExpiresAt == nil)) {
		return apperr.NotFoundf("hold %q not found", holdID)
	}
	if err != nil {
		return err
	}
	if h.PractitionerID != p.practitionerID || h.AppointmentTypeID != p.typ.ID || !h.StartsAt.Equal(start) {
		return apperr.Invalid("holdId", "is a hold on another slot")
	}
	if h.Status != store.StatusHeld || !h.HoldExpiresAt.After(now) {
		return nil
	}
	released, err := tx.ReleaseHold(ctx, h.Country, h.ID, me, now)
	if err != nil {
		return err
	}
	return s.emit(ctx, tx, eventdata.HoldReleased, released, nil)
}

// expireOverlapping marks the practitioner's holds that are due but not yet
// swept and overlap what start would occupy as EXPIRED (emitting
// HoldReleased), so that they no longer stand in the constraint's way.
func (s *Service) expireOverlapping(ctx context.Context, tx *store.Tx, p *plan, start, now time.Time) error {
	br := blockedRange(p, start)
	expired, err := tx.ExpireHolds(ctx, p.country, p.practitionerID, br.Start, br.End, now)
	if err != nil {
		return err
	}
	for _, h := range expired {
		if err := s.emit(ctx, tx, eventdata.HoldReleased, h, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkRelative checks, against the patient replica, that relativeID is one
// of the caller's relatives.
func (s *Service) checkRelative(ctx context.Context, me, relativeID string) error {
	pt, err := s.store.Patient(ctx, me)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, r := range pt.Relatives {
		if r.ID == relativeID {
			return nil
		}
	}
	return apperr.Invalid("relativeId", "is not one of your relatives")
}

// RescheduleInput moves an appointment.
type RescheduleInput struct {
	AppointmentID  string
	StartsAt       time.Time
	IdempotencyKey string
}

// Moved is the result of a move: the appointment at its new time (same id)
// and as it was before.
type Moved struct {
	Appointment store.Appointment
	Previous    store.Appointment
}

// Reschedule moves the caller's confirmed appointment to another start of the
// same type, in one transaction: the appointment row takes its new range (the
// exclusion constraints check it against every other row) and frees the old
// one at once, or, on any refusal, nothing changes and nothing is emitted.
// The appointment keeps its id; one AppointmentRescheduled carries the new
// times and the previous slot. The country's cancellation cut-off applies
// (moving frees the old slot, as a cancellation would).
func (s *Service) Reschedule(ctx context.Context, in RescheduleInput) (Moved, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return Moved{}, err
	}
	if err := ids(field{"appointmentId", in.AppointmentID}); err != nil {
		return Moved{}, err
	}
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return Moved{}, err
	}
	start := in.StartsAt.UTC()
	hash := requestHash(opReschedule, in.AppointmentID, start.Format(time.RFC3339Nano))
	return onceMoreIfConnectionLost(s, func() (Moved, error) {
		return withFreshPractice(ctx, s, func() (Moved, error) { return s.reschedule(ctx, me, in, key, start, hash) })
	})
}

// reschedule is Reschedule once its input is checked.
func (s *Service) reschedule(ctx context.Context, me string, in RescheduleInput, key string, start time.Time, hash []byte) (Moved, error) {
	if a, ok, err := s.replay(ctx, me, key, opReschedule, hash); ok || err != nil {
		return moved(a), err
	}
	cur, err := s.own(ctx, me, in.AppointmentID)
	if err != nil {
		return Moved{}, err
	}
	p, err := s.loadPlan(ctx, cur.PractitionerID, cur.AppointmentTypeID)
	if err != nil {
		return Moved{}, err
	}
	var out Moved
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.ClaimKey(ctx, me, key, opReschedule, hash, cur.ID)
		if err != nil {
			return err
		}
		if !claimed {
			return errReplayed
		}
		old, err := tx.Lock(ctx, cur.ID)
		if err != nil {
			return err
		}
		if old.Status != store.StatusConfirmed {
			return &apperr.Error{Code: apperr.InvalidInput, Field: "appointmentId", Reason: "NOT_CONFIRMED",
				Message: "only a confirmed appointment can be moved"}
		}
		now := s.now()
		if err := s.cancellationOpen(old, now); err != nil {
			return err
		}
		if err := s.expireOverlapping(ctx, tx, p, start, now); err != nil {
			return err
		}
		seen, err := tx.SeenBefore(ctx, p.country, p.practitionerID, old.PersonID, start, old.ID)
		if err != nil {
			return err
		}
		d, err := s.decide(ctx, tx, p, start, now, !seen, old.ID)
		if err != nil {
			return err
		}
		next := old
		next.StartsAt, next.EndsAt = start, start.Add(p.typ.Duration)
		next.BlockedFrom, next.BlockedUntil = d.blocked.Start, d.blocked.End
		a, err := tx.Move(ctx, next, now)
		if err != nil {
			return conflict(err)
		}
		prev := &eventdata.Slot{StartsAt: old.StartsAt, EndsAt: old.EndsAt, BlockedFrom: old.BlockedFrom, BlockedUntil: old.BlockedUntil}
		if err := s.emit(ctx, tx, eventdata.AppointmentRescheduled, a, prev); err != nil {
			return err
		}
		out = Moved{Appointment: a, Previous: old}
		return s.remember(ctx, tx, me, key, answer{Appointment: a, Previous: &old})
	})
	if errors.Is(err, errReplayed) {
		a, _, err := s.replay(ctx, me, key, opReschedule, hash)
		return moved(a), err
	}
	if err != nil {
		return Moved{}, err
	}
	return out, nil
}

func moved(a answer) Moved {
	m := Moved{Appointment: a.Appointment}
	if a.Previous != nil {
		m.Previous = *a.Previous
	}
	return m
}

// CancelInput cancels an appointment.
type CancelInput struct {
	AppointmentID string
	Reason        string
}

// Cancel cancels an appointment with a reason: the patient who booked it
// until the country's cut-off before the start (CANCELLATION_CLOSED after),
// the practitioner or a secretary acting for them at any time. Cancelling a
// cancelled appointment returns it unchanged (cancels are naturally
// idempotent); anyone else's appointment is NOT_FOUND.
func (s *Service) Cancel(ctx context.Context, in CancelInput) (store.Appointment, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return store.Appointment{}, err
	}
	if err := ids(field{"appointmentId", in.AppointmentID}); err != nil {
		return store.Appointment{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		return store.Appointment{}, apperr.Invalid("reason", "is required")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return store.Appointment{}, apperr.Invalid("reason", "must be at most %d characters", MaxReasonLength)
	}
	var out store.Appointment
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.Lock(ctx, in.AppointmentID)
		if err != nil {
			return notFound(err, in.AppointmentID)
		}
		by, ok := side(caller, a)
		if !ok {
			return apperr.NotFoundf("appointment %q not found", in.AppointmentID)
		}
		switch a.Status {
		case store.StatusCancelled:
			out = a
			return nil
		case store.StatusNoShow:
			return &apperr.Error{Code: apperr.InvalidInput, Field: "appointmentId", Reason: "NO_SHOW",
				Message: "a no-show cannot be cancelled"}
		}
		now := s.now()
		if by == cancelledByPatient {
			if err := s.cancellationOpen(a, now); err != nil {
				return err
			}
		}
		if out, err = tx.Cancel(ctx, a.Country, a.ID, by, reason, now); err != nil {
			return err
		}
		return s.emit(ctx, tx, eventdata.AppointmentCancelled, out, nil)
	})
	if err != nil {
		return store.Appointment{}, err
	}
	return out, nil
}

const (
	cancelledByPatient      = "PATIENT"
	cancelledByPractitioner = "PRACTITIONER"
)

// side says on whose behalf the caller acts on appointment a, if at all.
// Holds are not appointments: nobody sees them through this.
func side(caller auth.Principal, a store.Appointment) (string, bool) {
	if a.HoldExpiresAt != nil {
		return "", false
	}
	switch {
	case caller.Role == auth.RolePatient && caller.Account == a.PatientID:
		return cancelledByPatient, true
	case caller.Role != auth.RolePatient && auth.CanActForPractitioner(caller, a.PractitionerID):
		return cancelledByPractitioner, true
	}
	return "", false
}

// cancellationOpen is CANCELLATION_CLOSED once now is within the country's
// cut-off before the appointment's start.
func (s *Service) cancellationOpen(a store.Appointment, now time.Time) error {
	var cutoff time.Duration
	if c, ok := s.countries.Get(a.Country); ok {
		cutoff = c.CancellationCutoff()
	}
	if !now.Before(a.StartsAt.Add(-cutoff)) {
		return apperr.E(apperr.CancellationClosed,
			"appointments can only be cancelled or moved online until %s before the start; please call the practice", cutoff)
	}
	return nil
}

// MarkNoShow records that the patient did not come: the practitioner or a
// secretary acting for them, once the appointment has started. Marking a
// no-show again returns it unchanged.
func (s *Service) MarkNoShow(ctx context.Context, appointmentID string) (store.Appointment, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin)
	if err != nil {
		return store.Appointment{}, err
	}
	if err := ids(field{"appointmentId", appointmentID}); err != nil {
		return store.Appointment{}, err
	}
	var out store.Appointment
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.Lock(ctx, appointmentID)
		if err != nil {
			return notFound(err, appointmentID)
		}
		if by, ok := side(caller, a); !ok || by != cancelledByPractitioner {
			return apperr.NotFoundf("appointment %q not found", appointmentID)
		}
		switch a.Status {
		case store.StatusNoShow:
			out = a
			return nil
		case store.StatusCancelled:
			return &apperr.Error{Code: apperr.InvalidInput, Field: "appointmentId", Reason: "CANCELLED",
				Message: "a cancelled appointment cannot be a no-show"}
		}
		now := s.now()
		if now.Before(a.StartsAt) {
			return &apperr.Error{Code: apperr.InvalidInput, Field: "appointmentId", Reason: "NOT_STARTED",
				Message: "a no-show can only be recorded after the start time"}
		}
		if out, err = tx.MarkNoShow(ctx, a.Country, a.ID, now); err != nil {
			return err
		}
		return s.emit(ctx, tx, eventdata.AppointmentNoShow, out, nil)
	})
	if err != nil {
		return store.Appointment{}, err
	}
	return out, nil
}

// own reads the caller's appointment (not a hold): NOT_FOUND otherwise.
func (s *Service) own(ctx context.Context, me, id string) (store.Appointment, error) {
	rows, err := s.store.ByIDs(ctx, []string{id})
	if err != nil {
		return store.Appointment{}, err
	}
	if len(rows) == 0 || rows[0].PatientID != me || rows[0].HoldExpiresAt != nil {
		return store.Appointment{}, apperr.NotFoundf("appointment %q not found", id)
	}
	return rows[0], nil
}

// replay returns the stored answer of an idempotency key, if the key was
// used: INVALID_INPUT when it was used for a different request.
func (s *Service) replay(ctx context.Context, me, key, op string, hash []byte) (answer, bool, error) {
	k, err := s.store.LookupKey(ctx, me, key)
	if errors.Is(err, store.ErrNotFound) {
		return answer{}, false, nil
	}
	if err != nil {
		return answer{}, false, err
	}
	a, err := storedAnswer(k, op, hash)
	return a, err == nil, err
}

// storedAnswer is the answer a used key gives a request: INVALID_INPUT when
// it was used for a different request.
func storedAnswer(k store.Key, op string, hash []byte) (answer, error) {
	if k.Operation != op || !bytes.Equal(k.RequestHash, hash) {
		return answer{}, apperr.Invalid("idempotencyKey", "was already used for a different request")
	}
	var a answer
	if err := json.Unmarshal(k.Response, &a); err != nil {
		return answer{}, err
	}
	return a, nil
}

// remember stores the answer of the request that claimed key.
func (s *Service) remember(ctx context.Context, tx *store.Tx, me, key string, a answer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.SaveResponse(ctx, me, key, b)
}

// requestHash identifies a request's content for its idempotency key.
func requestHash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func idempotencyKey(k string) (string, error) {
	k = strings.TrimSpace(k)
	if k == "" || len(k) > MaxKeyLength {
		return "", apperr.Invalid("idempotencyKey", "must be 1 to %d characters", MaxKeyLength)
	}
	return k, nil
}

// emit writes a booking event (keyed by practitioner id) to the outbox in tx.
func (s *Service) emit(ctx context.Context, tx *store.Tx, eventType string, a store.Appointment, prev *eventdata.Slot) error {
	data := Payload(a)
	data.Previous = prev
	ev, err := events.New(Source, eventType, a.ID, data)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, events.BookingEvents, a.PractitionerID, ev)
}

// Payload converts a row to the booking event contract.
func Payload(a store.Appointment) eventdata.Appointment {
	return eventdata.Appointment{
		ID: a.ID, Version: a.Version, PractitionerID: a.PractitionerID, Country: a.Country, PatientID: a.PatientID,
		RelativeID: a.RelativeID, AppointmentTypeID: a.AppointmentTypeID, LocationID: a.LocationID, Status: a.Status,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, BlockedFrom: a.BlockedFrom, BlockedUntil: a.BlockedUntil,
		HoldExpiresAt: a.HoldExpiresAt, CancelledBy: a.CancelledBy, CancellationReason: a.CancellationReason,
	}
}

type field struct{ name, value string }

func ids(fs ...field) error {
	for _, f := range fs {
		if !uid.Valid(f.value) {
			return apperr.NotFoundf("%s %q not found", strings.TrimSuffix(f.name, "Id"), f.value)
		}
	}
	return nil
}

func notFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("appointment %q not found", id)
	}
	return err
}

package business

import (
	"context"
	"errors"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

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
//
// The practitioner, or a secretary acting for them, may move any
// appointment of the practice (ADR 21): with the desk's rules (desk.go: not
// the online-only ones) and no cut-off; their keys are their own.
func (s *Service) Reschedule(ctx context.Context, in RescheduleInput) (Moved, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return Moved{}, err
	}
	staff := caller.Role != auth.RolePatient
	me := caller.Account
	if !staff {
		if me, err = auth.PatientAccount(ctx); err != nil {
			return Moved{}, err
		}
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
		return withFreshPractice(ctx, s, func() (Moved, error) { return s.reschedule(ctx, caller, staff, me, in, key, start, hash) })
	})
}

// reschedule is Reschedule once its input is checked.
func (s *Service) reschedule(ctx context.Context, caller auth.Principal, staff bool, me string, in RescheduleInput, key string, start time.Time, hash []byte) (Moved, error) {
	if a, ok, err := s.replay(ctx, me, key, opReschedule, hash); ok || err != nil {
		return moved(a), err
	}
	var cur store.Appointment
	var err error
	if staff {
		cur, err = s.ofPractice(ctx, caller, in.AppointmentID)
	} else {
		cur, err = s.own(ctx, me, in.AppointmentID)
	}
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
		a, err := s.moveInTx(ctx, tx, p, old, start, s.now(), staff)
		if err != nil {
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

// moveInTx moves old (confirmed, locked by tx) to start at now: the
// country's cut-off applies to a patient (moving frees the old slot, as a cancellation
// would), due holds in the way are expired, the start is decided
// (decideStart; the appointment itself does not count) and the update is
// what finally decides a race: the constraints. The slot it leaves is
// offered to a waiting patient (offer.go) before AppointmentRescheduled is
// written, so that nobody sees it open in between.
//
// staff is a move by the practice (ADR 21): no cut-off, and the desk's rules
// (deskRequest) rather than the online ones.
func (s *Service) moveInTx(ctx context.Context, tx *store.Tx, p *plan, old store.Appointment, start, now time.Time, staff bool) (store.Appointment, error) {
	if !staff {
		if err := s.cancellationOpen(old, now); err != nil {
			return store.Appointment{}, err
		}
	}
	if err := s.expireOverlapping(ctx, tx, p, start, now); err != nil {
		return store.Appointment{}, err
	}
	rules := deskRequest(now)
	if !staff {
		seen, err := tx.SeenBefore(ctx, p.country, p.practitionerID, old.PersonID, start, old.ID)
		if err != nil {
			return store.Appointment{}, err
		}
		rules = slots.Request{Now: now, NewPatient: !seen, Online: true}
	}
	d, err := s.decideInTx(ctx, tx, p, start, rules, old.ID)
	if err != nil {
		return store.Appointment{}, err
	}
	next := old
	next.StartsAt, next.EndsAt = start, start.Add(p.typ.Duration)
	next.BlockedFrom, next.BlockedUntil = d.blocked.Start, d.blocked.End
	a, err := tx.Move(ctx, next, now)
	if err != nil {
		return store.Appointment{}, conflict(err)
	}
	if err := s.offerFreed(ctx, tx, old, now); err != nil {
		return store.Appointment{}, err
	}
	prev := &eventdata.Slot{StartsAt: old.StartsAt, EndsAt: old.EndsAt, BlockedFrom: old.BlockedFrom, BlockedUntil: old.BlockedUntil}
	if err := s.emit(ctx, tx, eventdata.AppointmentRescheduled, a, prev); err != nil {
		return store.Appointment{}, err
	}
	return a, nil
}

func moved(a answer) Moved {
	m := Moved{Appointment: a.Appointment}
	if a.Previous != nil {
		m.Previous = *a.Previous
	}
	return m
}

// ofPractice reads an appointment (not a hold) of a practice the caller
// acts for: NOT_FOUND otherwise.
func (s *Service) ofPractice(ctx context.Context, caller auth.Principal, id string) (store.Appointment, error) {
	rows, err := s.store.ByIDs(ctx, []string{id})
	if err != nil {
		return store.Appointment{}, err
	}
	if len(rows) == 0 {
		return store.Appointment{}, apperr.NotFoundf("appointment %q not found", id)
	}
	if by, ok := side(caller, rows[0]); !ok || by != cancelledByPractitioner {
		return store.Appointment{}, apperr.NotFoundf("appointment %q not found", id)
	}
	return rows[0], nil
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

// decideInTx decides start (decideStartFor) in the context rules against
// the practitioner's confirmed appointments and live holds as this
// transaction sees them at rules.Now (excludeID, the appointment being
// moved, does not count). The update that follows is what finally decides
// a race: the constraint.
func (s *Service) decideInTx(ctx context.Context, tx *store.Tx, p *plan, start time.Time, rules slots.Request, excludeID string) (decision, error) {
	now := rules.Now
	dates, from, to, err := blockedWindow(p, start)
	if err != nil {
		return decision{}, err
	}
	var ranges [][2]time.Time
	if len(dates) > 0 {
		if ranges, err = tx.Blocked(ctx, p.country, p.practitionerID, from, to, now, excludeID); err != nil {
			return decision{}, err
		}
	}
	return decideStartFor(p, start, rules, dates, ranges)
}

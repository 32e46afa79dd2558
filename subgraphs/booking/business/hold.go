package business

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

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
// transaction that inserts, so racing holds cannot pass it together); a
// patient the practice's no-show policy restricts is BOOKING_RESTRICTED.
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
		live, restriction, err := tx.LockPatientLiveHolds(ctx, canonicalID(me), p.practitionerID, now)
		if err != nil {
			return err
		}
		if restriction != nil {
			return restricted(*restriction)
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
		d, err := decideStart(p, start, now, false, dates, ranges)
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
		ev, err := newEvent(eventdata.HoldPlaced, h, nil)
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
		// Releasing an earlier-slot offer's hold declines the offer: the slot
		// passes on (offer.go) before its HoldReleased is written.
		declined, err := tx.DecideOffer(ctx, h.ID, store.OfferDeclined, now)
		if err != nil {
			return err
		}
		if declined {
			if err := s.offerFreed(ctx, tx, out, now); err != nil {
				return err
			}
		}
		return s.emit(ctx, tx, eventdata.HoldReleased, out, nil)
	})
	return out, err
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

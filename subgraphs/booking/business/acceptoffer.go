package business

import (
	"context"
	"errors"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// errCurrentGone: the appointment an accepted offer was to move is no
// longer confirmed; the offer is then booked instead.
var errCurrentGone = errors.New("the current appointment is no longer confirmed")

// AcceptSlotOffer takes one of the calling patient's live offers. With a
// current appointment (the entry's, still confirmed) it is moved onto the
// offered slot in one transaction: the same appointment, one
// AppointmentRescheduled, the offer's hold consumed, the entry fulfilled,
// and the slot it leaves offered to the next waiting patient. Without one,
// the hold becomes the booking through the one booking path (Book with the
// hold: AppointmentBooked). Concurrent accepts serialise on the offer row:
// one wins; the others get its answer (same key) or OFFER_UNAVAILABLE, as
// does an offer declined, withdrawn or expired. Accepting is an online
// booking: an account the practice's no-show policy restricts is
// BOOKING_RESTRICTED either way, and the offer is left to expire.
func (s *Service) AcceptSlotOffer(ctx context.Context, offerID, clientKey string) (Moved, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return Moved{}, err
	}
	if err := ids(field{"offerId", offerID}); err != nil {
		return Moved{}, err
	}
	key, err := idempotencyKey(clientKey)
	if err != nil {
		return Moved{}, err
	}
	offerID = canonicalID(offerID)
	hash := requestHash(opAcceptOffer, offerID)
	out, err := s.acceptOffer(ctx, me, offerID, key, hash)
	if apperr.CodeOf(err) == apperr.OfferUnavailable {
		// Taken meanwhile, maybe by this very request sent twice.
		if a, ok, rerr := s.replay(ctx, me, key, opAcceptOffer, hash); ok || rerr != nil {
			return moved(a), rerr
		}
	}
	return out, err
}

func (s *Service) acceptOffer(ctx context.Context, me, offerID, key string, hash []byte) (Moved, error) {
	if a, ok, err := s.replay(ctx, me, key, opAcceptOffer, hash); ok || err != nil {
		return moved(a), err
	}
	o, e, err := s.store.OfferByID(ctx, offerID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.PatientID != canonicalID(me)) {
		return Moved{}, apperr.NotFoundf("offer %q not found", offerID)
	}
	if err != nil {
		return Moved{}, err
	}
	if !o.Live(s.now()) {
		return Moved{}, offerUnavailable()
	}
	if e.CurrentStartsAt != nil {
		m, err := onceMoreIfConnectionLost(s, func() (Moved, error) {
			return withFreshPractice(ctx, s, func() (Moved, error) { return s.acceptByMove(ctx, me, o, e, key, hash) })
		})
		if !errors.Is(err, errCurrentGone) {
			return m, err
		}
	}
	req := bookRequest{in: BookInput{PractitionerID: o.Hold.PractitionerID, AppointmentTypeID: o.Hold.AppointmentTypeID,
		StartsAt: o.Hold.StartsAt, IdempotencyKey: key, HoldID: o.ID, RelativeID: e.RelativeID},
		me: me, key: key, start: o.Hold.StartsAt, hash: hash, op: opAcceptOffer, offer: &store.OfferTaken{OfferID: o.ID}}
	a, err := onceMoreIfConnectionLost(s, func() (store.Appointment, error) {
		return withFreshPractice(ctx, s, func() (store.Appointment, error) { return s.book(ctx, req) })
	})
	return Moved{Appointment: a}, err
}

// acceptByMove is AcceptSlotOffer for an entry with a current appointment:
// in one transaction, the key is claimed, the offer taken (its entry
// fulfilled) and its hold ended, and the appointment moved onto the slot
// (moveInTx, which offers the slot it leaves); HoldReleased is written
// after AppointmentRescheduled, so the slot never reads as open between.
func (s *Service) acceptByMove(ctx context.Context, me string, o store.Offer, e store.Entry, key string, hash []byte) (Moved, error) {
	p, err := s.loadPlan(ctx, o.Hold.PractitionerID, o.Hold.AppointmentTypeID)
	if err != nil {
		return Moved{}, err
	}
	var out Moved
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.ClaimKey(ctx, me, key, opAcceptOffer, hash, e.CurrentAppointmentID)
		if err != nil {
			return err
		}
		if !claimed {
			return errReplayed
		}
		now := s.now()
		// Accepting is an online booking: a restricted account may not
		// (under the restriction lock, as Book; the offer stays until it
		// expires and passes on).
		restriction, err := tx.LockRestriction(ctx, canonicalID(me), o.Hold.PractitionerID, now)
		if err != nil {
			return err
		}
		if restriction != nil {
			return restricted(*restriction)
		}
		taken, err := tx.TakeOffer(ctx, o.ID, now)
		if err != nil {
			return err
		}
		if !taken {
			return offerUnavailable()
		}
		h, err := tx.Lock(ctx, o.ID)
		if err != nil {
			return err
		}
		if h.Status != store.StatusHeld || h.HoldExpiresAt == nil || !h.HoldExpiresAt.After(now) {
			return offerUnavailable()
		}
		ended, err := tx.EndHold(ctx, h.Country, h.ID, now)
		if err != nil {
			return err
		}
		old, err := tx.Lock(ctx, e.CurrentAppointmentID)
		if err != nil {
			return err
		}
		if old.Status != store.StatusConfirmed || old.PatientID != canonicalID(me) {
			return errCurrentGone
		}
		a, err := s.moveInTx(ctx, tx, p, old, ended.StartsAt, now, false)
		if err != nil {
			return err
		}
		if err := s.emit(ctx, tx, eventdata.HoldReleased, ended, nil); err != nil {
			return err
		}
		out = Moved{Appointment: a, Previous: old}
		return s.remember(ctx, tx, me, key, answer{Appointment: a, Previous: &old})
	})
	if errors.Is(err, errReplayed) {
		a, _, err := s.replay(ctx, me, key, opAcceptOffer, hash)
		return moved(a), err
	}
	return out, err
}

// DeclineSlotOffer refuses one of the calling patient's offers: its slot
// passes to the next waiting patient at once (or is freed). The entry keeps
// waiting. An offer already declined, withdrawn or expired is returned as it
// is; an accepted one is OFFER_UNAVAILABLE.
func (s *Service) DeclineSlotOffer(ctx context.Context, offerID string) (store.Offer, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return store.Offer{}, err
	}
	if err := ids(field{"offerId", offerID}); err != nil {
		return store.Offer{}, err
	}
	var out store.Offer
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		o, e, err := tx.LockOffer(ctx, offerID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.PatientID != canonicalID(me)) {
			return apperr.NotFoundf("offer %q not found", offerID)
		}
		if err != nil {
			return err
		}
		now := s.now()
		out = o
		switch o.Effective(now) {
		case store.OfferOffered:
		case store.OfferAccepted:
			return offerUnavailable()
		default:
			return nil
		}
		if err := s.endOffer(ctx, tx, o.ID, store.OfferDeclined, now); err != nil {
			return err
		}
		out, _, err = tx.LockOffer(ctx, o.ID)
		return err
	})
	return out, err
}

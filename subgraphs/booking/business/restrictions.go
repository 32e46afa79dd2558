package business

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// No-show restrictions (ADR 21): after the practice's limit of no-shows in
// its period (its own policy, carried in its snapshot, or its country's),
// markNoShow restricts the account with the practice (noshow.go); online
// holds and bookings of a restricted account are then BOOKING_RESTRICTED
// until the restriction ends or the practice lifts it, and so is accepting
// an earlier-slot offer (acceptoffer.go). Desk bookings are not restricted
// (bookRequest.desk).

// ReasonNoShows is the reason of BOOKING_RESTRICTED.
const ReasonNoShows = "NO_SHOWS"

// restricted is the refusal of an online hold or booking by an account the
// practice restricts: BOOKING_RESTRICTED with extensions.until.
func restricted(r store.Restriction) error {
	return &apperr.Error{Code: apperr.BookingRestricted, Reason: ReasonNoShows,
		Message: fmt.Sprintf("after %d missed appointments, this practice can only be booked by calling it until %s",
			r.NoShows, r.Until.UTC().Format(time.RFC3339)),
		// As the DateTime scalar writes it, so a client compares it with Patient.bookingRestrictions.
		Extensions: map[string]any{"until": r.Until.UTC().Format(time.RFC3339Nano), "noShows": r.NoShows}}
}

// noShowPolicy is the policy of the practice: its own from the schedule
// replica, else its country's (the catalogue's default for a country it does
// not serve).
func (s *Service) noShowPolicy(ctx context.Context, practitionerID, country string) (countries.NoShowPolicy, error) {
	id := canonicalID(practitionerID)
	cached := s.plans.get(id)
	sc, err := s.store.ScheduleIfNewer(ctx, id, knownVersion(cached))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return countries.NoShowPolicy{}, err
	default:
		pr, err := s.practiceOf(id, sc, cached)
		if err != nil {
			return countries.NoShowPolicy{}, err
		}
		if pr.noShow != nil {
			return *pr.noShow, nil
		}
	}
	if c, ok := s.countries.Get(country); ok {
		return c.NoShowPolicy, nil
	}
	return countries.DefaultNoShowPolicy, nil
}

// PatientRestrictions lists the calling patient's live restrictions (only
// the patient themself): with which practice, until when and why.
func (s *Service) PatientRestrictions(ctx context.Context, patientID string) ([]store.Restriction, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return nil, err
	}
	if me != patientID {
		return nil, apperr.Forbiddenf("a patient may only read their own restrictions")
	}
	return s.store.PatientRestrictions(ctx, canonicalID(me), s.now())
}

// PracticeRestrictions lists the practice's live restrictions: for the
// practitioner or a secretary acting for them.
func (s *Service) PracticeRestrictions(ctx context.Context, practitionerID string) ([]store.Restriction, error) {
	if err := s.actsFor(ctx, practitionerID); err != nil {
		return nil, err
	}
	return s.store.PracticeRestrictions(ctx, canonicalID(practitionerID), s.now())
}

// LiftRestriction ends a patient's restriction with the practice at once
// (the practitioner or a secretary acting for them) and reports whether there
// was one. The no-shows before it no longer count toward the next.
func (s *Service) LiftRestriction(ctx context.Context, practitionerID, patientID string) (bool, error) {
	if err := s.actsFor(ctx, practitionerID); err != nil {
		return false, err
	}
	if err := ids(field{"patientId", patientID}); err != nil {
		return false, err
	}
	caller, _ := auth.FromContext(ctx)
	by := caller.Account
	if by == "" {
		by = caller.Subject
	}
	lifted, err := s.store.LiftRestriction(ctx, canonicalID(patientID), canonicalID(practitionerID), by, s.now())
	if err == nil && lifted {
		s.log.InfoContext(ctx, "booking restriction lifted", "practitioner_id", practitionerID, "patient_id", patientID)
	}
	return lifted, err
}

// actsFor is FORBIDDEN unless the caller may act for the practitioner.
func (s *Service) actsFor(ctx context.Context, practitionerID string) error {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return err
	}
	if !auth.CanActForPractitioner(caller, practitionerID) {
		return apperr.Forbiddenf("you do not act for practitioner %q", practitionerID)
	}
	return ids(field{"practitionerId", practitionerID})
}

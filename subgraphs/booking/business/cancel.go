package business

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

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
		// The freed slot goes to a waiting patient first, its offer written
		// before the cancellation: nobody sees it open in between.
		if err := s.offerFreed(ctx, tx, out, now); err != nil {
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

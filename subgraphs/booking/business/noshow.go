package business

import (
	"context"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

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

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
//
// In the same transaction it counts the account's no-shows with the
// practice within the practice's no-show policy period and, at the policy's
// limit, restricts the account with the practice (restrictions.go): from its
// commit on, no online hold or booking of the account with the practice
// commits, including those in flight (the count holds the restriction lock
// exclusively, so it waits for them, and they see the restriction after).
func (s *Service) MarkNoShow(ctx context.Context, appointmentID string) (store.Appointment, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin)
	if err != nil {
		return store.Appointment{}, err
	}
	if err := ids(field{"appointmentId", appointmentID}); err != nil {
		return store.Appointment{}, err
	}
	// The practice's policy, read before the transaction (the practice of an
	// appointment never changes).
	rows, err := s.store.ByIDs(ctx, []string{appointmentID})
	if err != nil {
		return store.Appointment{}, err
	}
	if len(rows) == 0 {
		return store.Appointment{}, apperr.NotFoundf("appointment %q not found", appointmentID)
	}
	policy, err := s.noShowPolicy(ctx, rows[0].PractitionerID, rows[0].Country)
	if err != nil {
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
		if err := s.emit(ctx, tx, eventdata.AppointmentNoShow, out, nil); err != nil {
			return err
		}
		n, r, err := tx.CountNoShows(ctx, store.NoShowCount{PatientID: a.PatientID, PractitionerID: a.PractitionerID,
			Country: a.Country, Now: now, Since: now.Add(-policy.Period()), Limit: policy.Limit, Until: now.Add(policy.Restriction())})
		if err != nil {
			return err
		}
		if r != nil {
			s.log.InfoContext(ctx, "patient restricted after no-shows", "practitioner_id", a.PractitionerID,
				"patient_id", a.PatientID, "no_shows", n, "until", r.Until)
		}
		return nil
	})
	if err != nil {
		return store.Appointment{}, err
	}
	return out, nil
}

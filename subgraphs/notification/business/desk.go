package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// putDeskPatient keeps a practice's desk patient (ADR 21) in the patient
// replica, beside the accounts: the caller is told on whatever contact the
// practice recorded (e-mail, SMS, both or none), in the practice's language
// (no locale or country of their own: the appointment's country decides).
func (s *Service) putDeskPatient(ctx context.Context, d eventdata.DeskPatient) error {
	stored := false
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		stored, err = tx.PutPatient(ctx, store.Patient{ID: d.ID, Version: d.Version, Email: d.Email, Phone: d.Phone,
			FirstName: d.FirstName, LastName: d.LastName, NotifyEmail: d.Email != "", NotifySMS: d.Phone != ""})
		return err
	})
	if err == nil && stored {
		s.Wake() // messages waiting for the record can be written now
	}
	return err
}

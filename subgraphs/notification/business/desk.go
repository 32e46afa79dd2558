package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// applyDeskPatient keeps a practice's desk patient (ADR 21) in the patient
// replica, beside the accounts: the caller is told on whatever contact the
// practice recorded (e-mail, SMS, both or none), in the practice's language
// (no locale or country of their own: the appointment's country decides).
func (s *Service) applyDeskPatient(ctx context.Context, ev events.Envelope) error {
	var d eventdata.DeskPatient
	if err := ev.DataAs(&d); err != nil || !uid.Valid(d.ID) {
		s.log.ErrorContext(ctx, "skipping malformed desk patient event", "event_id", ev.ID, "type", ev.Type, "err", err)
		return nil
	}
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

package business

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// SeriesKey is the dedupe key of a series' confirmation (recorded against
// its first session).
func SeriesKey(seriesID string) string { return "series:" + seriesID }

// applySeriesBooked records the confirmation of a treatment series, once per
// channel whatever replays, in one transaction with the event's claim. The
// sessions' own events (before it on the topic) record their copies and
// reminders.
func (s *Service) applySeriesBooked(ctx context.Context, ev events.Envelope) error {
	var se eventdata.Series
	if err := ev.DataAs(&se); err != nil || !uid.Valid(se.ID) || !uid.Valid(se.PatientID) || len(se.Sessions) == 0 ||
		!uid.Valid(se.Sessions[0].ID) {
		return events.Malformed(ev, err)
	}
	facts, err := json.Marshal(se)
	if err != nil {
		return err
	}
	now := s.now()
	added := false
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if first, err := tx.Claim(ctx, BookingGroup, ev.ID); err != nil || !first {
			return err
		}
		p, err := tx.Patient(ctx, se.PatientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = store.Patient{ID: se.PatientID, NotifyEmail: true}
		case err != nil:
			return err
		case p.Erased:
			return nil
		}
		for _, ch := range channelsOf(p) {
			ok, err := tx.AddMessage(ctx, store.Message{ID: uid.New(), PatientID: se.PatientID, AppointmentID: se.Sessions[0].ID,
				Kind: KindSeriesConfirmation, Channel: ch, DedupeKey: SeriesKey(se.ID), Facts: facts, DueAt: now})
			if err != nil {
				return err
			}
			added = added || ok
		}
		return nil
	})
	if err == nil && added {
		s.Wake()
	}
	return err
}

package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
)

// ApplyPractitionerEvent applies one practitioner-events event: every one
// carries the whole practice at a version. A malformed event is logged and
// passed over (retrying cannot fix it).
func (s *Service) ApplyPractitionerEvent(ctx context.Context, ev events.Envelope) error {
	var p eventdata.Practitioner
	if err := ev.DataAs(&p); err != nil {
		s.log.Error("skipping undecodable practitioner event", "event_id", ev.ID, "type", ev.Type, "err", err)
		return nil
	}
	if p.ID == "" || p.Country == "" {
		s.log.Error("skipping practitioner event without id or country", "event_id", ev.ID, "type", ev.Type)
		return nil
	}
	_, err := s.ApplyPractitioner(ctx, p)
	return err
}

// ApplyBookingEvent applies one booking-events event about an appointment
// (or hold, an earlier-slot offer's included): those carry it after the
// change. Others (SeriesBooked, whose sessions have their own
// AppointmentBooked) carry no status and are passed over.
func (s *Service) ApplyBookingEvent(ctx context.Context, ev events.Envelope) error {
	var a eventdata.Appointment
	if err := ev.DataAs(&a); err != nil {
		s.log.Error("skipping undecodable booking event", "event_id", ev.ID, "type", ev.Type, "err", err)
		return nil
	}
	if a.Status == "" {
		return nil
	}
	if a.ID == "" || a.PractitionerID == "" || a.Country == "" {
		s.log.Error("skipping booking event without ids or country", "event_id", ev.ID, "type", ev.Type)
		return nil
	}
	_, err := s.ApplyAppointment(ctx, a)
	return err
}

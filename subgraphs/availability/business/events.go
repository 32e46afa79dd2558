package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
)

// ApplyPractitionerEvent applies one practitioner-events event: every one
// carries the whole practice at a version. A malformed event is an
// events.Malformed error: retrying cannot fix it, the consumer dead-letters it.
func (s *Service) ApplyPractitionerEvent(ctx context.Context, ev events.Envelope) error {
	var p eventdata.Practitioner
	if err := ev.DataAs(&p); err != nil {
		return events.Malformed(ev, err)
	}
	if p.ID == "" || p.Country == "" {
		return events.Malformed(ev, nil)
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
		return events.Malformed(ev, err)
	}
	if a.Status == "" {
		return nil
	}
	if a.ID == "" || a.PractitionerID == "" || a.Country == "" {
		return events.Malformed(ev, nil)
	}
	_, err := s.ApplyAppointment(ctx, a)
	return err
}

package business_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

func applyDesk(t *testing.T, e *env, d eventdata.DeskPatient) {
	t.Helper()
	if err := e.svc.ApplyPatientEvent(context.Background(), envelope(t, "/careslot/patient", eventdata.DeskPatientRecorded, d.ID, d)); err != nil {
		t.Fatal(err)
	}
}

// TestDeskPatientToldOnTheirContact: a desk patient who gave a phone only is
// told by SMS of the booking, the move and the cancellation, in the
// practice's language; one who gave an e-mail only, whose record arrives
// after the booking, gets the e-mail, and the SMS recorded meanwhile is
// skipped.
func TestDeskPatientToldOnTheirContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	phoneOnly := eventdata.DeskPatient{ID: uuid.NewString(), Version: 1, PractitionerID: pr.id, FirstName: "Léa", LastName: "Roux",
		BirthDate: "1975-05-06", Phone: "+33611223344"}
	applyDesk(t, e, phoneOnly)
	a := appointment(pr, phoneOnly.ID, pr.paris, time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC))
	a.DeskPatient = true
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	moved := a
	moved.Version, moved.StartsAt, moved.EndsAt = 2, a.StartsAt.Add(time.Hour), a.EndsAt.Add(time.Hour)
	moved.Previous = &eventdata.Slot{StartsAt: a.StartsAt, EndsAt: a.EndsAt}
	apply(t, e, bookingEvent(t, eventdata.AppointmentRescheduled, moved))
	cancelled := moved
	cancelled.Version, cancelled.Status, cancelled.Previous = 3, eventdata.StatusCancelled, nil
	cancelled.CancelledBy, cancelled.CancellationReason = "PRACTITIONER", "Le cabinet est fermé"
	apply(t, e, bookingEvent(t, eventdata.AppointmentCancelled, cancelled))
	sendDue(t, e)
	sent := e.out.messages()
	if len(sent) != 3 {
		t.Fatalf("sent %d messages: %+v", len(sent), sent)
	}
	for _, want := range []string{"RDV confirmé", "déplacé du", "annulé"} {
		n := 0
		for _, m := range sent {
			if m.Channel == business.ChannelSMS && m.To == "+33611223344" && strings.Contains(m.Body, want) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d SMS in French saying %q in %+v", n, want, sent)
		}
	}
	for _, m := range messagesOf(t, e, a.ID) {
		if m.Channel != business.ChannelSMS {
			t.Errorf("message on %s for a phone-only caller", m.Channel)
		}
	}

	// The booking outruns the record: both channels wait, the record decides.
	late := eventdata.DeskPatient{ID: uuid.NewString(), Version: 1, PractitionerID: pr.id, FirstName: "Marc", LastName: "Roux",
		BirthDate: "1980-01-02", Email: "marc@example.org"}
	b := appointment(pr, late.ID, pr.paris, time.Date(2026, 3, 11, 8, 30, 0, 0, time.UTC))
	b.DeskPatient = true
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, b))
	sendDue(t, e)
	if n := len(byKind(messagesOf(t, e, b.ID), business.KindConfirmation, business.ChannelSMS)); n != 1 {
		t.Fatalf("%d SMS confirmations recorded before the record", n)
	}
	applyDesk(t, e, late)
	e.clock.Add(time.Minute)
	sendDue(t, e)
	out := e.out.messages()[3:]
	if len(out) != 1 || out[0].To != "marc@example.org" || !strings.HasPrefix(out[0].Subject, "Rendez-vous confirmé") {
		t.Fatalf("sent %+v", out)
	}
	if m := byKind(messagesOf(t, e, b.ID), business.KindConfirmation, business.ChannelSMS)[0]; m.Status != store.StatusSkipped {
		t.Fatalf("the SMS without a phone: %+v", m)
	}
}

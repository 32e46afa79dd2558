package business_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// offerOf is an earlier-slot offer's event data: the hold, until deadline,
// moving current when given.
func offerOf(pr practice, patientID, locationID string, start, deadline time.Time, current *time.Time) eventdata.Appointment {
	a := appointment(pr, patientID, locationID, start)
	a.Status, a.HoldExpiresAt = eventdata.StatusHeld, &deadline
	if current != nil {
		a.Previous = &eventdata.Slot{StartsAt: *current, EndsAt: current.Add(30 * time.Minute)}
	}
	return a
}

// TestSlotOfferToldWithItsDeadline: SlotOffered sends the waiting patient
// the slot and the deadline to accept it, in their language, in the
// location's zone, and which appointment accepting moves; once per offer
// and channel, whatever replays; no calendar file (nothing is booked yet)
// and no copy kept as an appointment.
func TestSlotOfferToldWithItsDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	fr := patient(t, e, "fr-FR", true, nil)
	start := time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC) // 09:30 in Paris
	deadline := t0.Add(15 * time.Minute)                   // 11:15 in Paris
	current := time.Date(2026, 3, 20, 15, 0, 0, 0, time.UTC)
	o := offerOf(pr, fr.ID, pr.paris, start, deadline, &current)
	ev := bookingEvent(t, eventdata.SlotOffered, o)
	apply(t, e, ev)
	apply(t, e, ev)
	if ms := messagesOf(t, e, o.ID); len(byKind(ms, business.KindSlotOffered, business.ChannelEmail)) != 1 ||
		len(byKind(ms, business.KindSlotOffered, business.ChannelSMS)) != 1 || len(ms) != 2 {
		t.Fatalf("messages %+v", ms)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM appointments WHERE id = $1`, o.ID); n != 0 {
		t.Fatal("the offer's hold was kept as an appointment")
	}
	if got := sendDue(t, e); got != 2 {
		t.Fatalf("sent %d", got)
	}
	out := e.out.messages()
	email, sms := sentTo(out, sender.Email), sentTo(out, sender.SMS)
	if want := "Un créneau plus tôt s'est libéré : Dr Claire Dubois, mardi 10 mars 2026 à 09:30"; email[0].Subject != want {
		t.Errorf("subject %q, want %q", email[0].Subject, want)
	}
	for _, want := range []string{"Bonjour Camille", "le mardi 10 mars 2026 à 09:30, au lieu du vendredi 20 mars 2026 à 16:00",
		"jusqu'au dimanche 1 mars 2026 à 11:15", "Cabinet Dubois, 12 rue de Rivoli, 75004 Paris"} {
		if !strings.Contains(email[0].Body, want) {
			t.Errorf("email lacks %q:\n%s", want, email[0].Body)
		}
	}
	if len(email[0].Attachments) != 0 {
		t.Error("an offer came with a calendar file")
	}
	if !strings.Contains(sms[0].Body, "réservé pour vous jusqu'au dimanche 1 mars 2026 à 11:15") {
		t.Errorf("sms %q", sms[0].Body)
	}
	for _, m := range messagesOf(t, e, o.ID) {
		if m.Status != store.StatusSent {
			t.Errorf("record %+v", m)
		}
	}

	// Without a current appointment, in English, at the Cayenne location (UTC−3).
	en := patient(t, e, "en-GB", false, nil)
	x := offerOf(pr, en.ID, pr.cayenne, start, deadline, nil)
	apply(t, e, bookingEvent(t, eventdata.SlotOffered, x))
	before := len(e.out.messages())
	sendDue(t, e)
	got := e.out.messages()[before:]
	if len(got) != 1 || got[0].Subject != "An earlier slot is free: Dr Claire Dubois, Tuesday 10 March 2026 at 05:30" ||
		!strings.Contains(got[0].Body, "holding it for you until Sunday 1 March 2026 at 07:15") || strings.Contains(got[0].Body, "instead of") {
		t.Fatalf("sent %+v", got)
	}
}

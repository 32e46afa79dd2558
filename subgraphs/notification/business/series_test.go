package business_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/sender"
)

// A treatment series is confirmed once, by email (every session listed, all
// of them in the attached calendar) and SMS, instead of once per session; its
// sessions keep their own reminders; replays record nothing more.
func TestSeriesConfirmedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", true, nil)
	series := eventdata.Series{ID: uuid.NewString(), PractitionerID: pr.id, Country: "fr", PatientID: p.ID,
		AppointmentTypeID: pr.typeID, EveryDays: 7, Count: 4}
	first := time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC) // Tuesdays 09:30 in Paris
	for i := range series.Count {
		a := appointment(pr, p.ID, pr.paris, first.AddDate(0, 0, 7*i))
		a.SeriesID, a.SeriesIndex = series.ID, i+1
		series.Sessions = append(series.Sessions, a)
	}
	for _, a := range series.Sessions {
		apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	}
	booked := envelope(t, "/careslot/booking", eventdata.SeriesBooked, series.ID, series)
	apply(t, e, booked)
	apply(t, e, booked)

	for i, a := range series.Sessions {
		ms := messagesOf(t, e, a.ID)
		if n := len(byKind(ms, business.KindConfirmation, business.ChannelEmail)); n != 0 {
			t.Fatalf("session %d has its own confirmation", i+1)
		}
		if n := len(byKind(ms, business.KindReminder, business.ChannelEmail)); n != 2 {
			t.Fatalf("session %d: %d email reminders, want the country's 2", i+1, n)
		}
	}
	ms := messagesOf(t, e, series.Sessions[0].ID)
	if len(byKind(ms, business.KindSeriesConfirmation, business.ChannelEmail)) != 1 || len(byKind(ms, business.KindSeriesConfirmation, business.ChannelSMS)) != 1 {
		t.Fatalf("series confirmations: %+v", ms)
	}
	if got := sendDue(t, e); got != 2 {
		t.Fatalf("sent %d, want the series' email and SMS", got)
	}
	out := e.out.messages()
	email, sms := sentTo(out, sender.Email), sentTo(out, sender.SMS)
	if len(email) != 1 || len(sms) != 1 {
		t.Fatalf("sent %+v", out)
	}
	if want := "Série de 4 rendez-vous confirmée : Dr Claire Dubois"; email[0].Subject != want {
		t.Errorf("subject %q, want %q", email[0].Subject, want)
	}
	for _, want := range []string{"Vos 4 rendez-vous avec Dr Claire Dubois (Consultation) sont confirmés",
		"- mardi 10 mars 2026 à 09:30\n- mardi 17 mars 2026 à 09:30\n- mardi 24 mars 2026 à 09:30\n- mardi 31 mars 2026 à 10:30",
		"Cabinet Dubois, 12 rue de Rivoli, 75004 Paris"} {
		if !strings.Contains(email[0].Body, want) {
			t.Errorf("email lacks %q:\n%s", want, email[0].Body)
		}
	}
	if !strings.Contains(sms[0].Body, "4 RDV confirmés avec Dr Claire Dubois : mardi 10 mars 2026 à 09:30; mardi 17 mars") {
		t.Errorf("sms %q", sms[0].Body)
	}
	if len(email[0].Attachments) != 1 {
		t.Fatalf("%d attachments", len(email[0].Attachments))
	}
	ics := string(email[0].Attachments[0].Data)
	if n := strings.Count(ics, "BEGIN:VEVENT"); n != 4 {
		t.Errorf("%d events in the attachment:\n%s", n, ics)
	}
	for _, a := range series.Sessions {
		if !strings.Contains(ics, "UID:"+a.ID+"@careslot\r\n") {
			t.Errorf("attachment lacks session %d", a.SeriesIndex)
		}
	}
}

package business_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/notification/business"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

func byKind(ms []store.Message, kind, channel string) []store.Message {
	var out []store.Message
	for _, m := range ms {
		if m.Kind == kind && m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

func sentTo(ms []sender.Message, channel string) []sender.Message {
	var out []sender.Message
	for _, m := range ms {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// A booking sends a confirmation by email (with the iCalendar file) and SMS,
// in the patient's language, with the time in the location's zone.
func TestConfirmationInLocaleAndLocationZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	fr := patient(t, e, "fr-FR", true, nil)

	start := time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC) // 09:30 in Paris
	a := appointment(pr, fr.ID, pr.paris, start)
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))

	ms := messagesOf(t, e, a.ID)
	if n := len(byKind(ms, business.KindConfirmation, business.ChannelEmail)) + len(byKind(ms, business.KindConfirmation, business.ChannelSMS)); n != 2 {
		t.Fatalf("confirmations = %d, want email + SMS: %+v", n, ms)
	}
	if got := sendDue(t, e); got != 2 {
		t.Fatalf("sent %d, want the 2 confirmations (reminders are not due)", got)
	}
	out := e.out.messages()
	email, sms := sentTo(out, sender.Email), sentTo(out, sender.SMS)
	if len(email) != 1 || len(sms) != 1 {
		t.Fatalf("sent = %+v", out)
	}
	if email[0].To != "camille@example.fr" || sms[0].To != "+33612345678" {
		t.Errorf("recipients = %q, %q", email[0].To, sms[0].To)
	}
	wantSubject := "Rendez-vous confirmé : Dr Claire Dubois, mardi 10 mars 2026 à 09:30"
	if email[0].Subject != wantSubject {
		t.Errorf("subject = %q, want %q", email[0].Subject, wantSubject)
	}
	for _, want := range []string{"Bonjour Camille", "Dr Claire Dubois (Consultation)", "mardi 10 mars 2026 à 09:30",
		"Cabinet Dubois, 12 rue de Rivoli, 75004 Paris"} {
		if !strings.Contains(email[0].Body, want) {
			t.Errorf("email body lacks %q:\n%s", want, email[0].Body)
		}
	}
	if !strings.Contains(sms[0].Body, "RDV confirmé avec Dr Claire Dubois le mardi 10 mars 2026 à 09:30") || sms[0].Subject != "" {
		t.Errorf("sms = %+v", sms[0])
	}
	if len(email[0].Attachments) != 1 || len(sms[0].Attachments) != 0 {
		t.Fatalf("attachments: email %d, sms %d", len(email[0].Attachments), len(sms[0].Attachments))
	}
	ics := string(email[0].Attachments[0].Data)
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "UID:" + a.ID + "@careslot\r\n", "DTSTART:20260310T083000Z\r\n",
		"DTEND:20260310T090000Z\r\n", "LOCATION:Cabinet Dubois\\, 12 rue de Rivoli\\, 75004 Paris\r\n", "STATUS:CONFIRMED\r\n"} {
		if !strings.Contains(ics, want) {
			t.Errorf("ics lacks %q:\n%s", want, ics)
		}
	}
	if email[0].Attachments[0].Filename != "appointment.ics" || !strings.HasPrefix(email[0].Attachments[0].ContentType, "text/calendar") {
		t.Errorf("attachment = %s %s", email[0].Attachments[0].Filename, email[0].Attachments[0].ContentType)
	}

	// The record: SENT, one attempt, sent at, the text as sent.
	for _, m := range byKind(messagesOf(t, e, a.ID), business.KindConfirmation, business.ChannelEmail) {
		if m.Status != store.StatusSent || m.Attempts != 1 || m.SentAt == nil || !m.SentAt.Equal(t0) || m.Subject != wantSubject ||
			m.Recipient != "camille@example.fr" {
			t.Errorf("record = %+v", m)
		}
	}

	// German, Italian and English patients; a location in another zone.
	cases := []struct {
		locale, location, subject string
	}{
		{"de-DE", pr.paris, "Termin bestätigt: Dr Claire Dubois, Dienstag, 10. März 2026 um 09:30 Uhr"},
		{"it-IT", pr.paris, "Appuntamento confermato: Dr Claire Dubois, martedì 10 marzo 2026 alle 09:30"},
		{"en-GB", pr.paris, "Appointment confirmed: Dr Claire Dubois, Tuesday 10 March 2026 at 09:30"},
		{"pt-PT", pr.paris, "Appointment confirmed: Dr Claire Dubois, Tuesday 10 March 2026 at 09:30"},
		{"fr-FR", pr.cayenne, "Rendez-vous confirmé : Dr Claire Dubois, mardi 10 mars 2026 à 05:30"},
	}
	for _, c := range cases {
		p := patient(t, e, c.locale, false, nil)
		x := appointment(pr, p.ID, c.location, start)
		apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, x))
		before := len(e.out.messages())
		sendDue(t, e)
		got := e.out.messages()[before:]
		if len(got) != 1 || got[0].Subject != c.subject || got[0].Channel != sender.Email {
			t.Errorf("%s at %s: sent %+v, want subject %q", c.locale, c.location, got, c.subject)
		}
	}
}

// Replayed and duplicated events record and send each message once.
func TestReplayedEventsSendOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", true, nil)
	a := appointment(pr, p.ID, pr.paris, t0.Add(72*time.Hour))
	ev := bookingEvent(t, eventdata.AppointmentBooked, a)
	for range 3 {
		apply(t, e, ev) // the same event redelivered
	}
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a)) // the same change under another event id
	// 2 confirmations + 2 reminders × 2 channels.
	if n := len(messagesOf(t, e, a.ID)); n != 6 {
		t.Fatalf("messages = %d, want 6", n)
	}
	sendDue(t, e)
	apply(t, e, ev) // and again after sending
	sendDue(t, e)
	if n := len(e.out.messages()); n != 2 {
		t.Fatalf("sent %d messages, want 2", n)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM processed_events WHERE consumer = $1`, business.BookingGroup); n != 2 {
		t.Errorf("claims = %d, want 2 events", n)
	}
	// An older version arriving late changes nothing either.
	stale := a
	stale.Version = 0
	stale.Status = eventdata.StatusCancelled
	apply(t, e, bookingEvent(t, eventdata.AppointmentCancelled, stale))
	if n := len(byKind(messagesOf(t, e, a.ID), business.KindCancelled, business.ChannelEmail)); n != 0 {
		t.Fatalf("a stale cancellation recorded %d messages", n)
	}
}

// Reminders are scheduled at booking time per the country's offsets, moved
// with the appointment, and each is sent once when due.
func TestRemindersScheduledMovedAndSentOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", false, nil)
	start := time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC)
	a := appointment(pr, p.ID, pr.paris, start)
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))

	rem := byKind(messagesOf(t, e, a.ID), business.KindReminder, business.ChannelEmail)
	if len(rem) != 2 || !rem[0].DueAt.Equal(start.Add(-24*time.Hour)) || !rem[1].DueAt.Equal(start.Add(-2*time.Hour)) {
		t.Fatalf("reminders = %+v", rem)
	}
	sendDue(t, e) // the confirmation

	// Moved two days later, 15:00 Paris.
	moved := a
	moved.Version = 2
	moved.StartsAt = time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC)
	moved.EndsAt = moved.StartsAt.Add(30 * time.Minute)
	moved.Previous = &eventdata.Slot{StartsAt: a.StartsAt, EndsAt: a.EndsAt}
	ev := bookingEvent(t, eventdata.AppointmentRescheduled, moved)
	apply(t, e, ev)
	apply(t, e, ev)

	ms := messagesOf(t, e, a.ID)
	rem = byKind(ms, business.KindReminder, business.ChannelEmail)
	if len(rem) != 2 || !rem[0].DueAt.Equal(moved.StartsAt.Add(-24*time.Hour)) || !rem[1].DueAt.Equal(moved.StartsAt.Add(-2*time.Hour)) {
		t.Fatalf("reminders after the move = %+v", rem)
	}
	if n := len(byKind(ms, business.KindRescheduled, business.ChannelEmail)); n != 1 {
		t.Fatalf("move notices = %d", n)
	}
	if sendDue(t, e) != 1 {
		t.Fatal("the move notice was not sent")
	}
	notice := e.out.messages()[1]
	if notice.Subject != "Rendez-vous déplacé : Dr Claire Dubois, jeudi 12 mars 2026 à 15:00" ||
		!strings.Contains(notice.Body, "prévu le mardi 10 mars 2026 à 09:30 a été déplacé au jeudi 12 mars 2026 à 15:00") ||
		len(notice.Attachments) != 1 || !strings.Contains(string(notice.Attachments[0].Data), "SEQUENCE:2\r\n") {
		t.Fatalf("move notice = %+v", notice)
	}

	// Nothing is due before the first reminder; at its time exactly one goes, once.
	e.clock.Set(moved.StartsAt.Add(-24*time.Hour - time.Minute))
	if n := sendDue(t, e); n != 0 {
		t.Fatalf("sent %d before the reminder was due", n)
	}
	e.clock.Set(moved.StartsAt.Add(-24*time.Hour + time.Minute))
	if n := sendDue(t, e); n != 1 {
		t.Fatalf("sent %d at the 24 h reminder, want 1", n)
	}
	if n := sendDue(t, e); n != 0 {
		t.Fatalf("sent %d more", n)
	}
	got := e.out.messages()
	if last := got[len(got)-1]; last.Subject != "Rappel : rendez-vous avec Dr Claire Dubois, jeudi 12 mars 2026 à 15:00" || len(last.Attachments) != 0 {
		t.Fatalf("reminder = %+v", last)
	}
	e.clock.Set(moved.StartsAt.Add(-time.Hour))
	if n := sendDue(t, e); n != 1 {
		t.Fatalf("sent %d at the 2 h reminder, want 1", n)
	}
	if n := sendDue(t, e); n != 0 {
		t.Fatalf("sent %d more", n)
	}
	if n := len(e.out.messages()); n != 4 {
		t.Fatalf("sent %d in all, want confirmation, move, 2 reminders", n)
	}
	// The worker loop sends what is due too, and nothing twice.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.svc.RunSender(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := len(e.out.messages()); n != 4 {
		t.Fatalf("the worker sent %d in all, want 4", n)
	}

	// A reminder whose time is already past at booking is not scheduled.
	late := appointment(pr, p.ID, pr.paris, e.clock.Now().Add(90*time.Minute))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, late))
	if rem := byKind(messagesOf(t, e, late.ID), business.KindReminder, business.ChannelEmail); len(rem) != 0 {
		t.Fatalf("past reminders scheduled: %+v", rem)
	}
}

// A cancellation by the practitioner tells the patient, with the reason, and
// drops the reminders; one by the patient confirms it.
func TestCancellationBySide(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "de-DE", true, func(p *eventdata.Patient) {
		p.Relatives = []eventdata.Relative{{ID: "0190b6f4-0000-7000-8000-00000000beef", FirstName: "Lena", LastName: "Martin", BirthDate: "2018-06-01"}}
	})
	start := time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC)
	a := appointment(pr, p.ID, pr.paris, start)
	a.RelativeID = "0190b6f4-0000-7000-8000-00000000beef"
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	sendDue(t, e)

	c := a
	c.Version, c.Status, c.CancelledBy, c.CancellationReason = 2, eventdata.StatusCancelled, "PRACTITIONER", "Krankheit"
	apply(t, e, bookingEvent(t, eventdata.AppointmentCancelled, c))
	ms := messagesOf(t, e, a.ID)
	if n := len(byKind(ms, business.KindReminder, business.ChannelEmail)) + len(byKind(ms, business.KindReminder, business.ChannelSMS)); n != 0 {
		t.Fatalf("reminders left after the cancellation: %d", n)
	}
	if sendDue(t, e) != 2 {
		t.Fatal("cancellation notices not sent")
	}
	out := e.out.messages()[2:]
	email, sms := sentTo(out, sender.Email), sentTo(out, sender.SMS)
	if len(email) != 1 || email[0].Subject != "Dr Claire Dubois hat Ihren Termin am Dienstag, 10. März 2026 um 09:30 Uhr abgesagt" ||
		!strings.Contains(email[0].Body, "Dr Claire Dubois hat Ihren Termin für Lena am Dienstag, 10. März 2026 um 09:30 Uhr abgesagt.\nGrund: Krankheit") ||
		len(email[0].Attachments) != 0 {
		t.Fatalf("email = %+v", email)
	}
	if len(sms) != 1 || !strings.Contains(sms[0].Body, "abgesagt. Grund: Krankheit") {
		t.Fatalf("sms = %+v", sms)
	}

	// Cancelled by the patient: a confirmation of their own cancellation.
	b := appointment(pr, p.ID, pr.paris, start.Add(48*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, b))
	cb := b
	cb.Version, cb.Status, cb.CancelledBy, cb.CancellationReason = 2, eventdata.StatusCancelled, "PATIENT", "verhindert"
	apply(t, e, bookingEvent(t, eventdata.AppointmentCancelled, cb))
	before := len(e.out.messages())
	sendDue(t, e)
	var cancelled []sender.Message
	for _, m := range e.out.messages()[before:] {
		if strings.Contains(m.Subject, "abgesagt") && m.Channel == sender.Email {
			cancelled = append(cancelled, m)
		}
	}
	if len(cancelled) != 1 || cancelled[0].Subject != "Termin abgesagt: Dr Claire Dubois, Donnerstag, 12. März 2026 um 09:30 Uhr" ||
		strings.Contains(cancelled[0].Body, "verhindert") {
		t.Fatalf("patient's cancellation = %+v", cancelled)
	}
}

// A failing provider is retried with exponential backoff, then given up.
func TestRetryWithBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.out.fail = func(n int) bool { return n <= 2 } // fails twice, then works
	pr := newPractice(t, e)
	p := patient(t, e, "en-GB", false, nil)
	a := appointment(pr, p.ID, pr.paris, t0.Add(72*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))

	confirmation := func() store.Message {
		ms := byKind(messagesOf(t, e, a.ID), business.KindConfirmation, business.ChannelEmail)
		if len(ms) != 1 {
			t.Fatalf("confirmations = %+v", ms)
		}
		return ms[0]
	}
	sendDue(t, e)
	m := confirmation()
	if m.Status != store.StatusPending || m.Attempts != 1 || !m.NextAttemptAt.Equal(t0.Add(time.Minute)) || m.LastError == "" {
		t.Fatalf("after one failure: %+v", m)
	}
	if n := sendDue(t, e); n != 0 {
		t.Fatalf("retried at once (%d)", n)
	}
	e.clock.Add(time.Minute)
	sendDue(t, e)
	if m = confirmation(); m.Status != store.StatusPending || m.Attempts != 2 || !m.NextAttemptAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after two failures: %+v", m)
	}
	e.clock.Add(2 * time.Minute)
	sendDue(t, e)
	if m = confirmation(); m.Status != store.StatusSent || m.Attempts != 3 || m.SentAt == nil {
		t.Fatalf("after the retry: %+v", m)
	}
	if n := len(e.out.messages()); n != 1 {
		t.Fatalf("delivered %d, want 1", n)
	}

	// A provider that never works: FAILED after MaxAttempts (4), backoff capped.
	if got := e.svc.Backoff(1); got != time.Minute {
		t.Errorf("backoff(1) = %v", got)
	}
	if got := e.svc.Backoff(10); got != 10*time.Minute {
		t.Errorf("backoff(10) = %v, want the 10 min cap", got)
	}
	e.out.fail = func(int) bool { return true }
	b := appointment(pr, p.ID, pr.paris, t0.Add(96*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, b))
	for range 4 {
		sendDue(t, e)
		e.clock.Add(10 * time.Minute)
	}
	ms := byKind(messagesOf(t, e, b.ID), business.KindConfirmation, business.ChannelEmail)
	if len(ms) != 1 || ms[0].Status != store.StatusFailed || ms[0].Attempts != 4 || ms[0].SentAt != nil {
		t.Fatalf("never delivered: %+v", ms)
	}
	if n := sendDue(t, e); n != 0 {
		t.Fatalf("a failed message was tried again (%d)", n)
	}
}

// A booking event seen before the patient's account is written once the
// account arrives; a channel turned off meanwhile is skipped.
func TestPatientReplicaArrivesLate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := eventdata.Patient{ID: "0190b6f4-0000-7000-8000-0000000000aa", Version: 1, Email: "late@example.it", FirstName: "Giulia",
		LastName: "Rossi", Locale: "it-IT", Country: "it", NotificationPreferences: eventdata.NotificationPreferences{Email: true}}
	a := appointment(pr, p.ID, pr.paris, time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	sendDue(t, e)
	m := byKind(messagesOf(t, e, a.ID), business.KindConfirmation, business.ChannelEmail)[0]
	// Waiting for the replica is not a failed attempt: it does not count.
	if m.Status != store.StatusPending || m.Attempts != 0 {
		t.Fatalf("without the patient: %+v", m)
	}
	applyPatient(t, e, "careslot.patient.PatientRegistered.v1", p)
	e.clock.Add(time.Minute)
	sendDue(t, e)
	out := e.out.messages()
	if len(out) != 1 || out[0].To != "late@example.it" || !strings.HasPrefix(out[0].Subject, "Appuntamento confermato") {
		t.Fatalf("sent = %+v", out)
	}

	// Email turned off before the reminder: it is skipped, not sent.
	p.Version, p.NotificationPreferences.Email = 2, false
	applyPatient(t, e, "careslot.patient.NotificationPreferencesChanged.v1", p)
	e.clock.Set(a.StartsAt.Add(-time.Hour))
	sendDue(t, e)
	for _, r := range byKind(messagesOf(t, e, a.ID), business.KindReminder, business.ChannelEmail) {
		if r.Status != store.StatusSkipped {
			t.Errorf("reminder = %+v, want SKIPPED", r)
		}
	}
	if n := len(e.out.messages()); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
}

// Erasure deletes the patient's messages and contact data for good.
func TestErasureDeletesMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", true, nil)
	other := patient(t, e, "fr-FR", false, func(x *eventdata.Patient) { x.Email = "other@example.fr" })
	a := appointment(pr, p.ID, pr.paris, t0.Add(72*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	o := appointment(pr, other.ID, pr.paris, t0.Add(96*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, o))
	sendDue(t, e)
	if n := count(t, e.pool, `SELECT count(*) FROM messages WHERE patient_id = $1`, p.ID); n == 0 {
		t.Fatal("no messages to erase")
	}

	erased := envelope(t, "/careslot/patient", eventdata.PatientErased, p.ID, eventdata.Patient{ID: p.ID, Version: 2})
	for range 2 {
		if err := e.svc.ApplyPatientEvent(context.Background(), erased); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, e.pool, `SELECT count(*) FROM messages WHERE patient_id = $1`, p.ID); n != 0 {
		t.Fatalf("%d messages left after erasure", n)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM appointments WHERE patient_id = $1`, p.ID); n != 0 {
		t.Fatalf("%d appointments left after erasure", n)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM patients WHERE id = $1 AND email IS NULL AND phone IS NULL AND first_name IS NULL
		AND erased_at IS NOT NULL`, p.ID); n != 1 {
		t.Fatal("contact data left after erasure")
	}
	if n := count(t, e.pool, `SELECT count(*) FROM messages WHERE patient_id = $1`, other.ID); n == 0 {
		t.Fatal("another patient's messages were erased")
	}

	// A replayed registration (an older version than the erasure's) does not
	// bring the data back; a replayed booking records nothing; the export is
	// empty.
	p.Version = 1
	applyPatient(t, e, "careslot.patient.PatientRegistered.v1", p)
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, appointment(pr, p.ID, pr.paris, t0.Add(120*time.Hour))))
	if n := count(t, e.pool, `SELECT count(*) FROM messages WHERE patient_id = $1`, p.ID); n != 0 {
		t.Fatalf("%d messages recorded for an erased patient", n)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM patients WHERE id = $1 AND email IS NOT NULL`, p.ID); n != 0 {
		t.Fatal("a replay restored the erased contact data")
	}
	exp, err := e.svc.ExportMine(asPatient(p.ID))
	if err != nil || exp.Contact != nil || len(exp.Messages) != 0 {
		t.Fatalf("export after erasure = %+v, %v", exp, err)
	}
}

func TestExportAndListOnlyForSelf(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", true, nil)
	a := appointment(pr, p.ID, pr.paris, t0.Add(72*time.Hour))
	apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	sendDue(t, e)

	exp, err := e.svc.ExportMine(asPatient(p.ID))
	if err != nil {
		t.Fatal(err)
	}
	if exp.PatientID != p.ID || exp.Contact == nil || exp.Contact.Email != p.Email || len(exp.Messages) != 6 {
		t.Fatalf("export = %+v", exp)
	}
	if _, err := e.svc.ExportMine(context.Background()); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Fatalf("anonymous export: %v", err)
	}

	one := 1
	page, err := e.svc.PatientNotifications(asPatient(p.ID), p.ID, &one, "")
	if err != nil || len(page.Messages) != 1 || !page.HasNextPage {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	seen := map[string]bool{page.Messages[0].ID: true}
	after := page.Cursors[0]
	for {
		page, err = e.svc.PatientNotifications(asPatient(p.ID), p.ID, &one, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if seen[m.ID] {
				t.Fatalf("%s seen twice", m.ID)
			}
			seen[m.ID] = true
		}
		if !page.HasNextPage {
			break
		}
		after = page.Cursors[len(page.Cursors)-1]
	}
	if len(seen) != 6 {
		t.Fatalf("paged through %d messages, want 6", len(seen))
	}
	if _, err := e.svc.PatientNotifications(asPatient(a.ID), p.ID, nil, ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("another patient: %v", err)
	}
	bad := 101
	if _, err := e.svc.PatientNotifications(asPatient(p.ID), p.ID, &bad, ""); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Fatalf("first 101: %v", err)
	}
	if _, err := e.svc.PatientNotifications(asPatient(p.ID), p.ID, nil, "junk"); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestPracticeToldOfPatientCancellations: a cancellation by the patient, and
// the cancellations an erasure makes (reason PATIENT_ERASED), are recorded
// once for the practice, which alone reads them; the erased patient is sent
// nothing, and the copy of an appointment booking anonymised is dropped.
func TestPracticeToldOfPatientCancellations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := newPractice(t, e)
	p := patient(t, e, "fr-FR", false, nil)
	byPatient := appointment(pr, p.ID, pr.paris, t0.Add(72*time.Hour))
	erased := appointment(pr, p.ID, pr.paris, t0.Add(96*time.Hour))
	byDoctor := appointment(pr, p.ID, pr.paris, t0.Add(120*time.Hour))
	for _, a := range []eventdata.Appointment{byPatient, erased, byDoctor} {
		apply(t, e, bookingEvent(t, eventdata.AppointmentBooked, a))
	}
	cancel := func(a eventdata.Appointment, by, reason string) {
		a.Version, a.Status, a.CancelledBy, a.CancellationReason = 2, eventdata.StatusCancelled, by, reason
		for range 2 { // replays change nothing
			apply(t, e, bookingEvent(t, eventdata.AppointmentCancelled, a))
		}
	}
	cancel(byPatient, "PATIENT", "a cold")
	cancel(byDoctor, "PRACTITIONER", "closed")
	applyPatient(t, e, eventdata.PatientErased, eventdata.Patient{ID: p.ID, Version: 2})
	cancel(erased, "PATIENT", eventdata.ReasonPatientErased)
	anon := erased
	anon.Version, anon.PatientID, anon.ErasedPersonID = 3, uuid.NewString(), p.ID
	apply(t, e, bookingEvent(t, eventdata.AppointmentAnonymised, anon))

	page, err := e.svc.PracticeNotifications(auth.WithPrincipal(context.Background(),
		auth.Principal{Subject: pr.id, Account: pr.id, Role: auth.RolePractitioner}), pr.id, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range page.Messages {
		got[m.AppointmentID] = m.Kind + " " + m.Reason
	}
	if len(got) != 2 || got[byPatient.ID] != "CANCELLED_BY_PATIENT a cold" || got[erased.ID] != "CANCELLED_BY_PATIENT "+eventdata.ReasonPatientErased {
		t.Fatalf("practice messages %v", got)
	}
	for _, ctx := range []context.Context{asPatient(p.ID), auth.WithPrincipal(context.Background(),
		auth.Principal{Subject: uuid.NewString(), Role: auth.RolePractitioner})} {
		if _, err := e.svc.PracticeNotifications(ctx, pr.id, nil, ""); err == nil {
			t.Fatal("someone else read the practice's notifications")
		}
	}
	if n := count(t, e.pool, `SELECT count(*) FROM messages WHERE appointment_id = $1`, erased.ID); n != 0 {
		t.Fatalf("%d messages about an erased patient's appointment", n)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM appointments WHERE id = $1 OR patient_id = $2`, erased.ID, p.ID); n != 0 {
		t.Fatalf("%d appointment copies of the erased patient", n)
	}
}

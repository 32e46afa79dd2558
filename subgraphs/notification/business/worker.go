package business

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/ical"
	"github.com/careslot/careslot/internal/keylanes"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// errNotReady marks a message that cannot be written yet (the patient or the
// practitioner is not replicated yet): it is retried like a failed send.
var errNotReady = errors.New("not ready")

// notReadyRetry is how soon a message waiting for a replica is looked at again.
const notReadyRetry = time.Second

// RunSender sends due messages until ctx ends: at once when an event
// recorded new ones, else when the earliest pending one falls due, polling at
// least every interval (default 5 s).
func (s *Service) RunSender(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	for {
		for {
			n, err := s.SendDue(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.ErrorContext(ctx, "sending due notifications", "err", err)
				break
			}
			if n < s.opts.BatchSize {
				break
			}
		}
		wait := interval
		if next, err := s.store.NextDue(ctx); err == nil && next != nil {
			wait = min(max(next.Sub(s.now()), 10*time.Millisecond), interval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			// Events wake the sender one by one under load: waiting a moment
			// lets the messages of the next few share one claim, one commit
			// of their outcomes and one look for the next due one.
			if s.opts.Gather > 0 {
				g := time.NewTimer(s.opts.Gather)
				select {
				case <-ctx.Done():
					g.Stop()
					return nil
				case <-g.C:
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// SendDue takes the messages due now (leased, so that several workers never
// take the same one), renders and sends each (in Lanes at once), and records
// the outcomes, together: SENT,
// a retry with exponential backoff, FAILED after the last attempt, or SKIPPED
// when it is no longer wanted. It returns how many it took.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	now := s.now()
	msgs, err := s.store.ClaimDue(ctx, now, s.opts.Lease, s.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	// A message costs a few round trips (the replicas, the provider: tens of
	// milliseconds with SES or SNS): one at a time, a worker would send a few
	// dozen a second. A patient's messages stay in one lane, in due order.
	done := make([]store.Finished, len(msgs))
	keylanes.Run(len(msgs), s.opts.Lanes, func(i int) string { return msgs[i].PatientID }, func(i int) bool {
		done[i] = store.Finished{ID: msgs[i].ID, Outcome: s.attempt(ctx, msgs[i], now)}
		return true
	})
	return len(msgs), s.store.FinishAll(ctx, done)
}

// attempt renders and sends one claimed message and says what became of it.
func (s *Service) attempt(ctx context.Context, m store.Message, now time.Time) store.Outcome {
	out, err := s.prepare(ctx, m)
	if err == nil && out.skip != "" {
		return store.Outcome{Status: store.StatusSkipped, Error: out.skip}
	}
	if err == nil {
		err = s.opts.Sender.Send(ctx, out.msg)
	}
	o := store.Outcome{Recipient: out.msg.To, Subject: out.msg.Subject, Body: out.msg.Body}
	if errors.Is(err, errNotReady) {
		// The booking event outran the patient's or practitioner's event: not
		// a failure. Look again shortly (the replica's arrival also wakes us).
		o.Status, o.NextAttemptAt, o.Uncounted, o.Error = store.StatusPending, now.Add(notReadyRetry), true, err.Error()
		return o
	}
	if err == nil {
		sent := s.now()
		o.Status, o.SentAt = store.StatusSent, &sent
		return o
	}
	o.Error = err.Error()
	if m.Attempts >= s.opts.MaxAttempts {
		o.Status = store.StatusFailed
		s.log.ErrorContext(ctx, "notification failed for good", "notification_id", m.ID, "attempts", m.Attempts, "err", err)
		return o
	}
	o.Status, o.NextAttemptAt = store.StatusPending, now.Add(s.Backoff(m.Attempts))
	s.log.WarnContext(ctx, "notification not sent; will retry", "notification_id", m.ID, "attempts", m.Attempts,
		"retry_at", o.NextAttemptAt, "err", err)
	return o
}

// Backoff is the delay after the attempt-th failed attempt: RetryBase doubled
// each time, capped at RetryMax.
func (s *Service) Backoff(attempt int) time.Duration {
	d := s.opts.RetryBase
	for i := 1; i < attempt && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.opts.RetryMax)
}

type prepared struct {
	msg  sender.Message
	skip string // why the message is no longer wanted ("" to send it)
}

// prepare writes a message for its recipient: the patient's current contact
// and locale, the practitioner's name, the location's address and zone.
func (s *Service) prepare(ctx context.Context, m store.Message) (prepared, error) {
	var (
		a      eventdata.Appointment
		series *eventdata.Series
	)
	if m.Kind == KindSeriesConfirmation {
		// The facts are the series; its first session stands for the rest.
		series = &eventdata.Series{}
		if err := json.Unmarshal(m.Facts, series); err != nil || len(series.Sessions) == 0 {
			return prepared{skip: fmt.Sprintf("unreadable series: %v", err)}, nil
		}
		a = series.Sessions[0]
	} else if err := json.Unmarshal(m.Facts, &a); err != nil {
		return prepared{skip: "unreadable appointment: " + err.Error()}, nil
	}
	p, err := s.store.Patient(ctx, m.PatientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return prepared{}, errorf("patient %s: %w", m.PatientID, errNotReady)
	case err != nil:
		return prepared{}, err
	case p.Erased:
		return prepared{skip: "the patient's account was erased"}, nil
	}
	to := p.Email
	switch {
	case m.Channel == ChannelEmail && (!p.NotifyEmail || p.Email == ""):
		return prepared{skip: "email notifications are off"}, nil
	case m.Channel == ChannelSMS && (!p.NotifySMS || p.Phone == ""):
		return prepared{skip: "SMS notifications are off"}, nil
	case m.Channel == ChannelSMS:
		to = p.Phone
	}
	if m.Kind == KindReminder {
		cur, err := s.store.Appointment(ctx, m.AppointmentID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return prepared{}, err
		}
		if err != nil || cur.Status != eventdata.StatusConfirmed || !cur.StartsAt.Equal(a.StartsAt) {
			return prepared{skip: "the appointment was moved or cancelled"}, nil
		}
	}
	pr, err := s.store.Practitioner(ctx, a.PractitionerID)
	if errors.Is(err, store.ErrNotFound) {
		return prepared{}, errorf("practitioner %s: %w", a.PractitionerID, errNotReady)
	}
	if err != nil {
		return prepared{}, err
	}
	r := Rendering{Kind: m.Kind, Channel: m.Channel, Locale: p.Locale, FirstName: p.FirstName,
		Practitioner: pr.DisplayName, StartsAt: a.StartsAt, CancelledBy: a.CancelledBy, Reason: a.CancellationReason}
	if series != nil {
		for _, x := range series.Sessions {
			r.Sessions = append(r.Sessions, x.StartsAt)
		}
	}
	if r.Locale == "" {
		// The patient's country, else (a practice's desk patient has none)
		// the appointment's: the practice's.
		country := p.Country
		if country == "" {
			country = a.Country
		}
		if c, ok := s.countries.Get(country); ok {
			r.Locale = c.Locale
		}
	}
	if a.RelativeID != "" {
		for _, x := range p.Relatives {
			if x.ID == a.RelativeID {
				r.RelativeName = x.FirstName
			}
		}
	}
	if a.Previous != nil {
		prev := a.Previous.StartsAt
		r.PreviousStartsAt = &prev
	}
	if m.Kind == KindSlotOffered {
		r.Deadline = a.HoldExpiresAt
	}
	var loc store.Location
	for _, l := range pr.Locations {
		if l.ID == a.LocationID {
			loc = l
		}
	}
	r.Zone = s.zone(loc.TimeZone, a.Country)
	r.Place = place(loc)
	for _, t := range pr.AppointmentTypes {
		if t.ID == a.AppointmentTypeID {
			r.TypeName = t.Name
		}
	}
	text, err := Render(r)
	if err != nil {
		return prepared{}, err
	}
	msg := sender.Message{ID: m.ID, Channel: m.Channel, To: to, Subject: text.Subject, Body: text.Body, Locale: r.Locale}
	if m.Channel == ChannelEmail && series != nil {
		// Every session in one calendar object, each its own event (the UID
		// of its appointment), as a single confirmation would attach it.
		cal := ical.Calendar{Method: "PUBLISH"}
		for _, x := range series.Sessions {
			cal.Events = append(cal.Events, ical.Event{UID: ical.AppointmentUID(x.ID), Sequence: x.Version, Stamp: s.now(),
				Start: x.StartsAt, End: x.EndsAt, Summary: summary(r), Location: r.Place, Description: text.Subject})
		}
		msg.Attachments = []sender.Attachment{{Filename: "appointments.ics",
			ContentType: "text/calendar; charset=utf-8; method=PUBLISH", Data: cal.Encode()}}
	}
	if m.Channel == ChannelEmail && (m.Kind == KindConfirmation || m.Kind == KindRescheduled) {
		msg.Attachments = []sender.Attachment{{
			Filename:    "appointment.ics",
			ContentType: "text/calendar; charset=utf-8; method=PUBLISH",
			Data: ical.Invite(ical.Event{UID: ical.AppointmentUID(a.ID), Sequence: a.Version, Stamp: s.now(), Start: a.StartsAt, End: a.EndsAt,
				Summary: summary(r), Location: r.Place, Description: text.Subject}),
		}}
	}
	return prepared{msg: msg}, nil
}

// zone is the location's zone, else the country's, else UTC.
func (s *Service) zone(name, country string) *time.Location {
	if name != "" {
		if z, err := time.LoadLocation(name); err == nil {
			return z
		}
	}
	if c, ok := s.countries.Get(country); ok && c.Location() != nil {
		return c.Location()
	}
	return time.UTC
}

// place is a location's name and address on one line.
func place(l store.Location) string {
	var parts []string
	for _, p := range []string{l.Name, l.Line1, strings.TrimSpace(l.PostalCode + " " + l.City)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func summary(r Rendering) string {
	if r.TypeName != "" {
		return r.Practitioner + " – " + r.TypeName
	}
	return r.Practitioner
}

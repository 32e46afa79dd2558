// Package business holds the notification service's rules: which messages an
// appointment's life calls for (confirmation, move, cancellation, reminders
// per country), at most once each, sent with retries and recorded; who may
// read them; and what an erasure removes.
package business

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/notification/sender"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// Consumer groups (and event claim names) of the notification service.
const (
	BookingGroup      = "notification.bookings"
	PatientGroup      = "notification.patients"
	PractitionerGroup = "notification.practitioners"
)

// Options tune the service; zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Sender delivers messages (default: the log sender).
	Sender sender.Sender
	// Now is the clock (tests move it to make reminders due).
	Now func() time.Time
	// MaxAttempts is how many times a message is tried before it is FAILED (default 6).
	MaxAttempts int
	// RetryBase is the delay before the first retry, doubled each time
	// (default 30 s), up to RetryMax (default 1 h).
	RetryBase, RetryMax time.Duration
	// Lease is how long a claimed message is kept from other workers while it
	// is being sent (default 2 min).
	Lease time.Duration
	// BatchSize is how many due messages a worker takes at once (default 50).
	BatchSize int
	// Gather is how long the sender waits after being woken by new messages
	// before it takes the due ones (default 25 ms; negative: not at all).
	Gather time.Duration
	// Lanes is how many messages of a batch are sent at once (default 8); a
	// patient's messages are sent one after the other.
	Lanes int
}

// Service is the notification business layer.
type Service struct {
	store     *store.Store
	countries *countries.Catalog
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	// wake nudges the sending worker after new messages were recorded.
	wake chan struct{}
}

// New builds the service.
func New(st *store.Store, cat *countries.Catalog, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Sender == nil {
		opts.Sender = sender.Log{Logger: opts.Logger}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 30 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Hour
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 50
	}
	if opts.Lanes <= 0 {
		opts.Lanes = 8
	}
	if opts.Gather == 0 {
		opts.Gather = 25 * time.Millisecond
	}
	return &Service{store: st, countries: cat, opts: opts, log: opts.Logger, now: opts.Now, wake: make(chan struct{}, 1)}
}

// ---- booking-events ----

// ApplyBookingEvent records the messages an appointment event calls for, in
// one transaction with the event's claim: a booking gets a confirmation and
// its reminders, a move a notice and its reminders moved, a cancellation a
// notice (saying who cancelled) and its reminders dropped; a treatment
// series one confirmation listing every session (SeriesBooked) instead of
// one per session. Replays change nothing (the claim, the appointment's
// version and the messages' unique key each see to it). It is the handler of
// the booking-events consumer.
func (s *Service) ApplyBookingEvent(ctx context.Context, ev events.Envelope) error {
	switch ev.Type {
	case eventdata.AppointmentBooked, eventdata.AppointmentRescheduled, eventdata.AppointmentCancelled:
	case eventdata.AppointmentAnonymised:
		return s.forgetAppointment(ctx, ev)
	case eventdata.SlotOffered:
		return s.applySlotOffer(ctx, ev)
	case eventdata.SeriesBooked:
		return s.applySeriesBooked(ctx, ev)
	default:
		return nil // holds and no-shows say nothing to the patient
	}
	var a eventdata.Appointment
	if err := ev.DataAs(&a); err != nil || !uid.Valid(a.ID) || !uid.Valid(a.PatientID) || !uid.Valid(a.PractitionerID) {
		return events.Malformed(ev, err)
	}
	facts, err := json.Marshal(a)
	if err != nil {
		return err
	}
	now := s.now()
	added := false
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if first, err := tx.Claim(ctx, BookingGroup, ev.ID); err != nil || !first {
			return err
		}
		if ev.Type == eventdata.AppointmentCancelled && a.CancelledBy == CancelledByPatient {
			// The practice is told whoever the patient is now (erased included).
			ok, err := tx.AddPracticeMessage(ctx, store.PracticeMessage{ID: uid.New(), PractitionerID: a.PractitionerID,
				AppointmentID: a.ID, Kind: PracticeCancelledByPatient, Reason: a.CancellationReason, StartsAt: a.StartsAt, EndsAt: a.EndsAt})
			if err != nil {
				return err
			}
			if ok {
				s.log.InfoContext(ctx, "practice told of a cancellation", "practitioner_id", a.PractitionerID, "appointment_id", a.ID,
					"reason_code", practiceReasonCode(a.CancellationReason))
			}
		}
		p, err := tx.Patient(ctx, a.PatientID)
		replicated := err == nil
		switch {
		case err == store.ErrNotFound:
			// Not replicated yet: email, the default channel; the address is
			// looked up when the message is sent.
			p = store.Patient{ID: a.PatientID, NotifyEmail: true}
		case err != nil:
			return err
		case p.Erased:
			return nil // nothing of an erased patient is kept, nor sent to them
		}
		if a.CancellationReason == eventdata.ReasonPatientErased {
			return nil // the erasure may reach booking before it reaches us: never write to them
		}
		applied, err := tx.PutAppointment(ctx, store.Appointment{ID: a.ID, Version: a.Version, PatientID: a.PatientID,
			PractitionerID: a.PractitionerID, Country: a.Country, Status: a.Status, StartsAt: a.StartsAt, EndsAt: a.EndsAt})
		if err != nil || !applied {
			return err // a stale event (an older version) calls for nothing
		}
		channels := channelsOf(p)
		if !replicated && a.DeskPatient {
			// A practice's desk patient not replicated yet (desk.go): either
			// channel, each sent only if the record has that contact.
			channels = []string{ChannelEmail, ChannelSMS}
		}
		add := func(kind, key string, due time.Time) error {
			for _, ch := range channels {
				ok, err := tx.AddMessage(ctx, store.Message{ID: uid.New(), PatientID: a.PatientID, AppointmentID: a.ID,
					Kind: kind, Channel: ch, DedupeKey: key, Facts: facts, DueAt: due})
				if err != nil {
					return err
				}
				added = added || ok
			}
			return nil
		}
		switch ev.Type {
		case eventdata.AppointmentBooked:
			// A session of a series is confirmed with the whole series,
			// in one message (SeriesBooked); its reminders are its own.
			if a.SeriesID == "" {
				if err := add(KindConfirmation, "", now); err != nil {
					return err
				}
			}
			return s.addReminders(a, now, add)
		case eventdata.AppointmentRescheduled:
			if _, err := tx.DropPendingReminders(ctx, a.ID); err != nil {
				return err
			}
			if err := add(KindRescheduled, "v"+strconv.FormatInt(a.Version, 10), now); err != nil {
				return err
			}
			return s.addReminders(a, now, add)
		default: // cancelled
			if _, err := tx.DropPendingReminders(ctx, a.ID); err != nil {
				return err
			}
			return add(KindCancelled, "", now)
		}
	})
	if err == nil && added {
		s.Wake()
	}
	return err
}

// applySlotOffer records the message an earlier-slot offer calls for: the
// slot, the deadline to accept and, when accepting moves an appointment,
// which one (in one transaction with the event's claim; once per offer and
// channel). The offer is a hold, not an appointment: no copy is kept.
func (s *Service) applySlotOffer(ctx context.Context, ev events.Envelope) error {
	var a eventdata.Appointment
	if err := ev.DataAs(&a); err != nil || !uid.Valid(a.ID) || !uid.Valid(a.PatientID) || !uid.Valid(a.PractitionerID) ||
		a.HoldExpiresAt == nil {
		return events.Malformed(ev, err)
	}
	facts, err := json.Marshal(a)
	if err != nil {
		return err
	}
	added := false
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if first, err := tx.Claim(ctx, BookingGroup, ev.ID); err != nil || !first {
			return err
		}
		p, err := tx.Patient(ctx, a.PatientID)
		switch {
		case err == store.ErrNotFound:
			p = store.Patient{ID: a.PatientID, NotifyEmail: true}
		case err != nil:
			return err
		case p.Erased:
			return nil
		}
		for _, ch := range channelsOf(p) {
			ok, err := tx.AddMessage(ctx, store.Message{ID: uid.New(), PatientID: a.PatientID, AppointmentID: a.ID,
				Kind: KindSlotOffered, Channel: ch, Facts: facts, DueAt: s.now()})
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

// addReminders schedules the country's reminders (e.g. 24 h and 2 h before)
// of a confirmed appointment; those already past are not sent at all.
func (s *Service) addReminders(a eventdata.Appointment, now time.Time, add func(kind, key string, due time.Time) error) error {
	if a.Status != eventdata.StatusConfirmed {
		return nil
	}
	for _, off := range s.reminderOffsets(a.Country) {
		due := a.StartsAt.Add(-time.Duration(off) * time.Minute)
		if !due.After(now) {
			continue
		}
		if err := add(KindReminder, ReminderKey(off, a.StartsAt), due); err != nil {
			return err
		}
	}
	return nil
}

// ReminderKey is a reminder's dedupe key: its offset and the start it is for,
// so a move schedules new ones while those sent for the old start stay.
func ReminderKey(offsetMinutes int, start time.Time) string {
	return strconv.Itoa(offsetMinutes) + "@" + start.UTC().Format(time.RFC3339)
}

func (s *Service) reminderOffsets(country string) []int {
	if c, ok := s.countries.Get(country); ok {
		return c.ReminderOffsetsMinutes
	}
	return nil
}

// channelsOf is where a patient wants to be told: email and/or SMS (SMS only
// with a phone number).
func channelsOf(p store.Patient) []string {
	var out []string
	if p.NotifyEmail {
		out = append(out, ChannelEmail)
	}
	if p.NotifySMS && p.Phone != "" {
		out = append(out, ChannelSMS)
	}
	return out
}

// ---- patient-events ----

// ApplyPatientEvent keeps the patient replica (contact details, locale,
// preferences, relatives' names; a newer version wins); an erasure deletes
// the patient's messages and contact data for good. It is the handler of the
// patient-events consumer. A desk patient's claim changes nothing here: the
// record stays as it is, messages already due still go to the contact the
// practice recorded, and booking's next events name the account.
func (s *Service) ApplyPatientEvent(ctx context.Context, ev events.Envelope) error {
	return eventdata.ApplyPatientEvent(ctx, ev, eventdata.PatientHandlers{
		Account:      s.putPatient,
		Erased:       func(ctx context.Context, p eventdata.Patient) error { return s.ErasePatient(ctx, p.ID, p.Version) },
		DeskRecorded: s.putDeskPatient,
	})
}

// putPatient keeps an account in the replica (newer version wins).
func (s *Service) putPatient(ctx context.Context, p eventdata.Patient) error {
	rel := make([]store.Relative, 0, len(p.Relatives))
	for _, r := range p.Relatives {
		rel = append(rel, store.Relative{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName})
	}
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.PutPatient(ctx, store.Patient{ID: p.ID, Version: p.Version, Email: p.Email, Phone: p.Phone,
			FirstName: p.FirstName, LastName: p.LastName, Locale: p.Locale, Country: p.Country,
			NotifyEmail: p.NotificationPreferences.Email, NotifySMS: p.NotificationPreferences.SMS, Relatives: rel})
		return err
	})
}

// ErasePatient deletes a patient's messages, appointment copies and contact
// data, keeping a tombstone so no replay brings them back.
func (s *Service) ErasePatient(ctx context.Context, id string, version int64) error {
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.ErasePatient(ctx, id, version)
		if err == nil {
			s.log.InfoContext(ctx, "patient erased", "patient_id", id, "messages_deleted", n)
		}
		return err
	})
}

// ---- practitioner-events ----

// ApplyPractitionerEvent keeps the practitioner replica: display name,
// locations (names, addresses, zones) and appointment type names; a newer
// version wins. It is the handler of the practitioner-events consumer.
func (s *Service) ApplyPractitionerEvent(ctx context.Context, ev events.Envelope) error {
	if !strings.HasPrefix(ev.Type, eventdata.PractitionerEventPrefix) {
		return nil
	}
	var p eventdata.Practitioner
	if err := ev.DataAs(&p); err != nil || !uid.Valid(p.ID) {
		return events.Malformed(ev, err)
	}
	rec := store.Practitioner{ID: p.ID, Version: p.Version, Country: p.Country, DisplayName: p.DisplayName}
	if rec.DisplayName == "" {
		rec.DisplayName = strings.TrimSpace(p.FirstName + " " + p.LastName)
	}
	for _, l := range p.Locations {
		rec.Locations = append(rec.Locations, store.Location{ID: l.ID, Name: l.Name, Line1: l.Line1,
			PostalCode: l.PostalCode, City: l.City, TimeZone: l.TimeZone})
	}
	for _, t := range p.AppointmentTypes {
		rec.AppointmentTypes = append(rec.AppointmentTypes, store.AppointmentType{ID: t.ID, Name: t.Name})
	}
	_, err := s.store.PutPractitioner(ctx, rec)
	return err
}

// Practice message kinds and the side that cancelled.
const (
	PracticeCancelledByPatient = "CANCELLED_BY_PATIENT"
	CancelledByPatient         = "PATIENT"
)

// practiceReasonCode is what the log may say of a reason (free text is the patient's).
func practiceReasonCode(reason string) string {
	if reason == eventdata.ReasonPatientErased {
		return reason
	}
	return "PATIENT_REASON"
}

// forgetAppointment drops the copy of an appointment booking anonymised
// (its patient erased their account), in one transaction with the claim.
func (s *Service) forgetAppointment(ctx context.Context, ev events.Envelope) error {
	var a eventdata.Appointment
	if err := ev.DataAs(&a); err != nil || !uid.Valid(a.ID) {
		return events.Malformed(ev, err)
	}
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		if first, err := tx.Claim(ctx, BookingGroup, ev.ID); err != nil || !first {
			return err
		}
		return tx.ForgetAppointment(ctx, a.ID)
	})
}

// ---- helpers ----

// Wake nudges the sending worker (new messages are due now).
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

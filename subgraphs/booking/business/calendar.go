package business

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/ical"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The calendar feed: a private address per practitioner (ADR 21) that their
// calendar application polls. The address carries a random 256-bit token,
// shown once; the store keeps only its SHA-256.
const (
	// CalendarPath starts a feed's address: CalendarPath + token + ".ics".
	CalendarPath = "/calendar/"
	// CalendarRefresh is how often the feed asks to be polled (and how long
	// its answer may be cached).
	CalendarRefresh = 15 * time.Minute
	// A feed lists the appointments from calendarPastDays back to the
	// practice's furthest booking horizon (calendarDefaultDays when no type
	// says, at most calendarMaxDays).
	calendarPastDays    = 30
	calendarDefaultDays = 400
	calendarMaxDays     = 731
	// MaxCalendarEvents bounds a feed (the nearest first).
	MaxCalendarEvents  = 20000
	calendarTokenBytes = 32
)

// CalendarFeed is a practitioner's feed as the portal sees it: whether it
// exists and since when, never its address.
type CalendarFeed struct {
	PractitionerID string
	CreatedAt      time.Time
}

// NewCalendarFeed is a feed just created, with its private address (the
// only time it is known: the store cannot give it back).
type NewCalendarFeed struct {
	CalendarFeed
	// Path is the address relative to the origin the graph is served from:
	// CalendarPath + token + ".ics".
	Path string
}

// feedOwner returns the caller if they may manage practitionerID's feed:
// the practitioner or their secretary. An admin may not: the address would
// hand a practice's patient list to someone outside it.
func feedOwner(ctx context.Context, practitionerID string) (auth.Principal, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary)
	if err != nil {
		return caller, err
	}
	if !auth.CanActForPractitioner(caller, practitionerID) {
		return caller, apperr.Forbiddenf("you do not act for practitioner %q", practitionerID)
	}
	if !uid.Valid(practitionerID) {
		return caller, apperr.NotFoundf("practitioner %q not found", practitionerID)
	}
	return caller, nil
}

// CreateCalendarFeed gives the practitioner a new feed address and returns
// it; the address they had before stops working.
func (s *Service) CreateCalendarFeed(ctx context.Context, practitionerID string) (NewCalendarFeed, error) {
	caller, err := feedOwner(ctx, practitionerID)
	if err != nil {
		return NewCalendarFeed{}, err
	}
	raw := make([]byte, calendarTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return NewCalendarFeed{}, err
	}
	sum := sha256.Sum256(raw)
	f, err := s.store.PutCalendarFeed(ctx, practitionerID, sum[:], caller.Account, s.now())
	if err != nil {
		return NewCalendarFeed{}, err
	}
	return NewCalendarFeed{
		CalendarFeed: CalendarFeed{PractitionerID: practitionerID, CreatedAt: f.CreatedAt},
		Path:         CalendarPath + base64.RawURLEncoding.EncodeToString(raw) + ".ics",
	}, nil
}

// RevokeCalendarFeed ends the practitioner's feed (its address then answers
// 404); it reports whether there was one.
func (s *Service) RevokeCalendarFeed(ctx context.Context, practitionerID string) (bool, error) {
	if _, err := feedOwner(ctx, practitionerID); err != nil {
		return false, err
	}
	return s.store.DeleteCalendarFeed(ctx, practitionerID)
}

// CalendarFeedOf tells whether the practitioner has a feed, and since when
// (nil when none).
func (s *Service) CalendarFeedOf(ctx context.Context, practitionerID string) (*CalendarFeed, error) {
	if _, err := feedOwner(ctx, practitionerID); err != nil {
		return nil, err
	}
	f, err := s.store.CalendarFeed(ctx, practitionerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &CalendarFeed{PractitionerID: practitionerID, CreatedAt: f.CreatedAt}, nil
}

// noFeed answers every address that is not a live feed alike, so an answer
// tells nothing about the token.
func noFeed() error { return apperr.NotFoundf("not found") }

// CalendarFeedByToken is the calendar of the feed whose address carries
// token: the practitioner's appointments from 30 days back to the practice's
// horizon, cancelled ones as CANCELLED (so applications remove them), times
// in UTC. Anyone holding the address may read it (it is the credential);
// NOT_FOUND for any other token, revoked or never made.
func (s *Service) CalendarFeedByToken(ctx context.Context, token string) (ical.Calendar, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != calendarTokenBytes {
		return ical.Calendar{}, noFeed()
	}
	sum := sha256.Sum256(raw)
	src, err := s.store.CalendarFeedByToken(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return ical.Calendar{}, noFeed()
	}
	if err != nil {
		return ical.Calendar{}, err
	}
	var snap eventdata.Practitioner
	if len(src.Snapshot) > 0 {
		if err := json.Unmarshal(src.Snapshot, &snap); err != nil {
			return ical.Calendar{}, err
		}
	}
	now := s.now()
	from := now.AddDate(0, 0, -calendarPastDays)
	to := now.AddDate(0, 0, feedDays(snap))
	rows, err := s.store.CalendarAppointments(ctx, src.PractitionerID, src.Country, from, to, MaxCalendarEvents)
	if err != nil {
		return ical.Calendar{}, err
	}
	if len(rows) == MaxCalendarEvents {
		s.log.WarnContext(ctx, "calendar feed truncated", "practitioner", src.PractitionerID, "events", len(rows))
	}
	cal := ical.Calendar{ProdID: "-//Careslot//Agenda//EN", Name: "Careslot", RefreshInterval: CalendarRefresh,
		Events: make([]ical.Event, 0, len(rows))}
	if snap.DisplayName != "" {
		cal.Name = "Careslot: " + snap.DisplayName
	}
	for _, r := range rows {
		cal.Events = append(cal.Events, feedEvent(r, snap))
	}
	return cal, nil
}

// feedDays is how far ahead a feed lists: the practice's furthest booking
// horizon.
func feedDays(p eventdata.Practitioner) int {
	days := 0
	for _, t := range p.AppointmentTypes {
		days = max(days, t.BookingHorizonDays)
	}
	if days <= 0 {
		return calendarDefaultDays
	}
	return min(days, calendarMaxDays)
}

// feedEvent is one appointment as the practitioner's calendar shows it: who
// and what, where. Nothing else (no note, no phone): the feed ends up at a
// calendar provider.
func feedEvent(r store.FeedAppointment, p eventdata.Practitioner) ical.Event {
	a := r.Appointment
	summary := a.PatientName
	if summary == "" {
		summary = "Appointment" // erased, or not replicated yet
	}
	for _, t := range p.AppointmentTypes {
		if t.ID == a.AppointmentTypeID && t.Name != "" {
			summary += " (" + t.Name + ")"
		}
	}
	e := ical.Event{
		UID: ical.AppointmentUID(a.ID), Sequence: a.Version,
		// Without METHOD, DTSTAMP is when the event last changed: the
		// same answer for the same state, which keeps the ETag stable.
		Stamp: r.UpdatedAt, LastModified: r.UpdatedAt,
		Start: a.StartsAt, End: a.EndsAt, Summary: summary,
	}
	for _, l := range p.Locations {
		if l.ID == a.LocationID {
			e.Location = place(l)
		}
	}
	switch a.Status {
	case store.StatusCancelled:
		e.Cancelled = true
		e.Description = "Cancelled by the practice"
		if a.CancelledBy == "PATIENT" {
			e.Description = "Cancelled by the patient"
		}
	case store.StatusNoShow:
		e.Summary = "No-show: " + e.Summary
	}
	return e
}

// place is a location's name and address on one line.
func place(l eventdata.Location) string {
	var parts []string
	for _, p := range []string{l.Name, l.Line1, strings.TrimSpace(l.PostalCode + " " + l.City)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

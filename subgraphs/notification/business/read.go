package business

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/pagination"
	"github.com/careslot/careslot/subgraphs/notification/store"
)

// Page sizes of Patient.notifications.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Page is a page of notifications with the cursor of each.
type Page struct {
	Messages    []store.Message
	Cursors     []string
	HasNextPage bool
}

// PatientNotifications lists a patient's messages, latest due first (only
// the patient themself), cursor-paginated.
func (s *Service) PatientNotifications(ctx context.Context, patientID string, first *int, after string) (Page, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return Page{}, err
	}
	if me != patientID {
		return Page{}, apperr.Forbiddenf("a patient may only read their own notifications")
	}
	limit := DefaultPageSize
	if first != nil {
		if *first < 0 || *first > MaxPageSize {
			return Page{}, apperr.Invalid("first", "must be between 0 and %d", MaxPageSize)
		}
		limit = *first
	}
	q := store.MessagePage{PatientID: me, Limit: limit + 1}
	if after != "" {
		at, id, err := pagination.Parse(after)
		if err != nil {
			return Page{}, apperr.Invalid("after", "is not a cursor of this list")
		}
		q.AfterDue, q.AfterID = &at, id
	}
	if limit == 0 {
		return Page{}, nil
	}
	rows, err := s.store.Messages(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{HasNextPage: len(rows) > limit}
	if page.HasNextPage {
		rows = rows[:limit]
	}
	page.Messages = rows
	for _, m := range rows {
		page.Cursors = append(page.Cursors, pagination.Cursor(m.DueAt, m.ID))
	}
	return page, nil
}

// PracticePage is a page of a practice's messages with the cursor of each.
type PracticePage struct {
	Messages    []store.PracticeMessage
	Cursors     []string
	HasNextPage bool
}

// PracticeNotifications lists what the practice was told, latest first: for
// the practitioner or a secretary acting for them (FORBIDDEN otherwise).
func (s *Service) PracticeNotifications(ctx context.Context, practitionerID string, first *int, after string) (PracticePage, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return PracticePage{}, err
	}
	if !auth.CanActForPractitioner(caller, practitionerID) {
		return PracticePage{}, apperr.Forbiddenf("only the practice reads its notifications")
	}
	limit := DefaultPageSize
	if first != nil {
		if *first < 0 || *first > MaxPageSize {
			return PracticePage{}, apperr.Invalid("first", "must be between 0 and %d", MaxPageSize)
		}
		limit = *first
	}
	var afterAt *time.Time
	var afterID string
	if after != "" {
		at, id, err := pagination.Parse(after)
		if err != nil {
			return PracticePage{}, apperr.Invalid("after", "is not a cursor of this list")
		}
		afterAt, afterID = &at, id
	}
	if limit == 0 {
		return PracticePage{}, nil
	}
	rows, err := s.store.PracticeMessages(ctx, practitionerID, afterAt, afterID, limit+1)
	if err != nil {
		return PracticePage{}, err
	}
	page := PracticePage{HasNextPage: len(rows) > limit}
	if page.HasNextPage {
		rows = rows[:limit]
	}
	page.Messages = rows
	for _, m := range rows {
		page.Cursors = append(page.Cursors, pagination.Cursor(m.CreatedAt, m.ID))
	}
	return page, nil
}

// ExportContact is the contact data the service holds about a patient.
type ExportContact struct {
	Email                   string           `json:"email,omitempty"`
	Phone                   string           `json:"phone,omitempty"`
	FirstName               string           `json:"firstName,omitempty"`
	LastName                string           `json:"lastName,omitempty"`
	Locale                  string           `json:"locale,omitempty"`
	Country                 string           `json:"country,omitempty"`
	NotificationPreferences map[string]bool  `json:"notificationPreferences"`
	Relatives               []store.Relative `json:"relatives"`
}

// ExportMessage is one message in an export.
type ExportMessage struct {
	ID            string          `json:"id"`
	AppointmentID string          `json:"appointmentId"`
	Kind          string          `json:"kind"`
	Channel       string          `json:"channel"`
	Status        string          `json:"status"`
	DueAt         time.Time       `json:"dueAt"`
	SentAt        *time.Time      `json:"sentAt,omitempty"`
	Attempts      int             `json:"attempts"`
	Recipient     string          `json:"recipient,omitempty"`
	Subject       string          `json:"subject,omitempty"`
	Body          string          `json:"body,omitempty"`
	Appointment   json.RawMessage `json:"appointment"`
	CreatedAt     time.Time       `json:"createdAt"`
}

// Export is everything the notification service holds about a patient.
type Export struct {
	PatientID string          `json:"patientId"`
	Contact   *ExportContact  `json:"contact"`
	Messages  []ExportMessage `json:"messages"`
}

// ExportMine gathers everything the service holds about the calling patient
// (GDPR export): the replica of their contact data and every message.
func (s *Service) ExportMine(ctx context.Context) (Export, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return Export{}, err
	}
	out := Export{PatientID: me, Messages: []ExportMessage{}}
	p, err := s.store.Patient(ctx, me)
	switch {
	case err == nil && !p.Erased:
		out.Contact = &ExportContact{Email: p.Email, Phone: p.Phone, FirstName: p.FirstName, LastName: p.LastName,
			Locale: p.Locale, Country: p.Country, Relatives: p.Relatives,
			NotificationPreferences: map[string]bool{"email": p.NotifyEmail, "sms": p.NotifySMS}}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return Export{}, err
	}
	rows, err := s.store.Messages(ctx, store.MessagePage{PatientID: me})
	if err != nil {
		return Export{}, err
	}
	for _, m := range rows {
		out.Messages = append(out.Messages, ExportMessage{ID: m.ID, AppointmentID: m.AppointmentID, Kind: m.Kind,
			Channel: m.Channel, Status: m.Status, DueAt: m.DueAt, SentAt: m.SentAt, Attempts: m.Attempts,
			Recipient: m.Recipient, Subject: m.Subject, Body: m.Body, Appointment: m.Facts, CreatedAt: m.CreatedAt})
	}
	return out, nil
}

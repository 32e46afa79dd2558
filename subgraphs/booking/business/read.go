package business

import (
	"context"
	"encoding/json"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/pagination"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// MaxAgendaDays bounds an agenda query.
const MaxAgendaDays = 62

// Page sizes of Patient.appointments.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// AppointmentsByIDs resolves federation references to Appointment. rows holds
// those the caller may see (the patient who booked, the practitioner or their
// secretary); perIndex[i] (nil when every id resolved) is NOT_FOUND for any
// other id. An anonymous caller fails the whole batch.
func (s *Service) AppointmentsByIDs(ctx context.Context, idList []string) (rows []store.Appointment, perIndex []error, err error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, nil, err
	}
	var valid []string
	for _, id := range idList {
		if uid.Valid(id) {
			valid = append(valid, id)
		}
	}
	all, err := s.store.ByIDs(ctx, valid)
	if err != nil {
		return nil, nil, err
	}
	visible := map[string]bool{}
	for _, a := range all {
		if _, ok := side(caller, a); ok {
			rows = append(rows, a)
			visible[a.ID] = true
		}
	}
	perIndex = make([]error, len(idList))
	failed := false
	for i, id := range idList {
		if !visible[id] {
			perIndex[i], failed = apperr.NotFoundf("appointment %q not found", id), true
		}
	}
	if !failed {
		perIndex = nil
	}
	return rows, perIndex, nil
}

// Appointment reads one appointment the caller may see.
func (s *Service) Appointment(ctx context.Context, id string) (store.Appointment, error) {
	rows, perIndex, err := s.AppointmentsByIDs(ctx, []string{id})
	if err != nil {
		return store.Appointment{}, err
	}
	if perIndex != nil {
		return store.Appointment{}, perIndex[0]
	}
	return rows[0], nil
}

// Agenda lists a practitioner's appointments (confirmed, cancelled, no-shows)
// starting on the local dates from..to inclusive, in the practice's zone, in
// start order: for the practitioner or a secretary acting for them.
func (s *Service) Agenda(ctx context.Context, practitionerID string, from, to time.Time) ([]store.Appointment, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, err
	}
	if !auth.CanActForPractitioner(caller, practitionerID) {
		return nil, apperr.Forbiddenf("you do not act for practitioner %q", practitionerID)
	}
	if !uid.Valid(practitionerID) {
		return nil, apperr.NotFoundf("practitioner %q not found", practitionerID)
	}
	fy, fm, fd := from.Date()
	ty, tm, td := to.Date()
	first := time.Date(fy, fm, fd, 0, 0, 0, 0, time.UTC)
	last := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	if last.Before(first) {
		return nil, apperr.Invalid("to", "must not be before from")
	}
	if last.Sub(first) >= MaxAgendaDays*24*time.Hour {
		return nil, apperr.Invalid("to", "an agenda spans at most %d days", MaxAgendaDays)
	}
	z := s.practiceZone(ctx, practitionerID)
	lo := time.Date(fy, fm, fd, 0, 0, 0, 0, z)
	hi := time.Date(ty, tm, td+1, 0, 0, 0, 0, z)
	return s.store.Agenda(ctx, practitionerID, lo, hi)
}

// practiceZone is the zone of the practitioner's first location (their
// country's, or UTC, when unknown).
func (s *Service) practiceZone(ctx context.Context, practitionerID string) *time.Location {
	sc, err := s.store.Schedule(ctx, practitionerID)
	if err != nil {
		return time.UTC
	}
	var snap eventdata.Practitioner
	if json.Unmarshal(sc.Snapshot, &snap) == nil {
		for _, l := range snap.Locations {
			if z, ok := slots.LoadZone(l.TimeZone); ok {
				return z
			}
		}
	}
	if c, ok := s.countries.Get(sc.Country); ok {
		return c.Location()
	}
	return time.UTC
}

// PageInput selects a page of a patient's appointments.
type PageInput struct {
	Upcoming *bool
	First    *int
	After    string
}

// Page is a page of appointments with the cursor of each.
type Page struct {
	Appointments []store.Appointment
	Cursors      []string
	HasNextPage  bool
}

// PatientAppointments lists a patient's own appointments (only the patient
// themself), cursor-paginated.
func (s *Service) PatientAppointments(ctx context.Context, patientID string, in PageInput) (Page, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return Page{}, err
	}
	if me != patientID {
		return Page{}, apperr.Forbiddenf("a patient may only read their own appointments")
	}
	limit := DefaultPageSize
	if in.First != nil {
		if *in.First < 0 || *in.First > MaxPageSize {
			return Page{}, apperr.Invalid("first", "must be between 0 and %d", MaxPageSize)
		}
		limit = *in.First
	}
	q := store.PageQuery{PatientID: me, Upcoming: in.Upcoming, Now: s.now(), Limit: limit + 1}
	if in.After != "" {
		at, id, err := pagination.Parse(in.After)
		if err != nil {
			return Page{}, apperr.Invalid("after", "is not a cursor of this list")
		}
		q.AfterStart, q.AfterID = &at, id
	}
	if limit == 0 {
		return Page{}, nil
	}
	rows, err := s.store.PatientAppointments(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{HasNextPage: len(rows) > limit}
	if page.HasNextPage {
		rows = rows[:limit]
	}
	page.Appointments = rows
	for _, a := range rows {
		page.Cursors = append(page.Cursors, pagination.Cursor(a.StartsAt, a.ID))
	}
	return page, nil
}

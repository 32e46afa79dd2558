package business

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/pagination"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// Desk patients (ADR 21): a practice's record of a caller who has no
// account, made by the practitioner or a secretary acting for them, seen by
// that practice only, and claimed by the person when they register with a
// contact their identity provider vouches for and the same birth date.

// Page sizes of deskPatients, and the longest search.
const (
	DefaultDeskPageSize = 20
	MaxDeskPageSize     = 100
	MaxDeskSearchLength = 100
)

// DeskPatientInput is a caller a practice records. Email and Phone are
// optional (the caller is then told nothing by that channel).
type DeskPatientInput struct {
	FirstName, LastName string
	BirthDate           time.Time
	Email, Phone        string
}

// RecordDeskPatient records a caller for the practice practitionerID (its
// practitioner, a secretary acting for it, or an admin; FORBIDDEN
// otherwise) and emits DeskPatientRecorded. It is idempotent: a caller the
// practice already holds — same birth date and the same e-mail or phone
// (case and format do not matter: e-mails are lower-cased, phones E.164),
// or, when neither is given, the same name — is returned as recorded
// (created false), also when the same caller is recorded twice at once.
func (s *Service) RecordDeskPatient(ctx context.Context, practitionerID string, in DeskPatientInput) (store.DeskPatient, bool, error) {
	caller, pid, err := practiceStaff(ctx, practitionerID)
	if err != nil {
		return store.DeskPatient{}, false, err
	}
	d := store.DeskPatient{ID: uid.New(), PractitionerID: pid, CreatedBy: caller.Account}
	if d.FirstName, err = name("firstName", in.FirstName); err != nil {
		return store.DeskPatient{}, false, err
	}
	if d.LastName, err = name("lastName", in.LastName); err != nil {
		return store.DeskPatient{}, false, err
	}
	if strings.TrimSpace(in.Email) != "" {
		if d.Email, err = email(in.Email); err != nil {
			return store.DeskPatient{}, false, err
		}
	}
	if d.Phone, err = phone(in.Phone); err != nil {
		return store.DeskPatient{}, false, err
	}
	// The practice's country is the practitioner service's: the birth date
	// is checked against the earliest zone on Earth.
	if d.BirthDate, err = s.birthDate("birthDate", in.BirthDate, nil); err != nil {
		return store.DeskPatient{}, false, err
	}
	var (
		out     store.DeskPatient
		created bool
	)
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if out, created, err = tx.InsertDeskPatient(ctx, d); err != nil || !created {
			return err
		}
		return emitDesk(ctx, tx, out.ID, eventdata.DeskPatientRecorded, DeskSnapshotOf(out))
	})
	if err != nil {
		return store.DeskPatient{}, false, err
	}
	return out, created, nil
}

// DeskPage is a page of desk patients with the cursor of each.
type DeskPage struct {
	Patients    []store.DeskPatient
	Cursors     []string
	HasNextPage bool
}

// DeskPatients lists the practice's desk patients, newest first, for its
// staff only (FORBIDDEN for anyone else: another practice never sees them).
// search, when given, is an e-mail address (exact, any case), a phone
// number in international format (exact, any spacing), or else part of the
// name.
func (s *Service) DeskPatients(ctx context.Context, practitionerID, search string, first *int, after string) (DeskPage, error) {
	_, pid, err := practiceStaff(ctx, practitionerID)
	if err != nil {
		return DeskPage{}, err
	}
	limit := DefaultDeskPageSize
	if first != nil {
		if *first < 0 || *first > MaxDeskPageSize {
			return DeskPage{}, apperr.Invalid("first", "must be between 0 and %d", MaxDeskPageSize)
		}
		limit = *first
	}
	q := store.DeskPatientPage{PractitionerID: pid, Limit: limit + 1}
	if err := deskSearch(&q, search); err != nil {
		return DeskPage{}, err
	}
	if after != "" {
		at, id, err := pagination.Parse(after)
		if err != nil {
			return DeskPage{}, apperr.Invalid("after", "is not a cursor of this list")
		}
		q.AfterCreated, q.AfterID = &at, id
	}
	if limit == 0 {
		return DeskPage{}, nil
	}
	rows, err := s.store.DeskPatients(ctx, q)
	if err != nil {
		return DeskPage{}, err
	}
	page := DeskPage{HasNextPage: len(rows) > limit}
	if page.HasNextPage {
		rows = rows[:limit]
	}
	page.Patients = rows
	for _, d := range rows {
		page.Cursors = append(page.Cursors, pagination.Cursor(d.CreatedAt, d.ID))
	}
	return page, nil
}

// deskSearch reads a search into q: an e-mail, a phone number or a name.
func deskSearch(q *store.DeskPatientPage, search string) error {
	search = strings.TrimSpace(search)
	switch {
	case search == "":
		return nil
	case utf8.RuneCountInString(search) > MaxDeskSearchLength || !utf8.ValidString(search):
		return apperr.Invalid("search", "must be at most %d characters of text", MaxDeskSearchLength)
	case strings.Contains(search, "@"):
		q.Email = strings.ToLower(search)
	case strings.HasPrefix(search, "+"):
		ph, err := phone(search)
		if err != nil {
			return apperr.Invalid("search", "is not a phone number in international format")
		}
		q.Phone = ph
	default:
		q.Name = search
	}
	return nil
}

// DeskPatientsByIDs resolves federation references to DeskPatient: only the
// records of practices the caller acts for resolve; perIndex[i] (nil when
// every id resolved) is NOT_FOUND for any other id, so that a record's
// existence says nothing to another practice. An anonymous caller fails the
// whole batch; a patient's every id is NOT_FOUND.
func (s *Service) DeskPatientsByIDs(ctx context.Context, ids []string) (rows []store.DeskPatient, perIndex []error, err error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, nil, err
	}
	var found []store.DeskPatient
	if caller.Role != auth.RolePatient {
		if found, err = s.store.DeskPatientsByIDs(ctx, uid.Filter(ids)); err != nil {
			return nil, nil, err
		}
	}
	visible := make(map[string]bool, len(found))
	for _, d := range found {
		if auth.CanActForPractitioner(caller, d.PractitionerID) {
			rows = append(rows, d)
			visible[d.ID] = true
		}
	}
	perIndex = make([]error, len(ids))
	failed := false
	for i, id := range ids {
		if !visible[strings.ToLower(id)] {
			perIndex[i], failed = apperr.NotFoundf("desk patient %q not found", id), true
		}
	}
	if !failed {
		perIndex = nil
	}
	return rows, perIndex, nil
}

// DeskPatientSnapshot is a desk patient as its events carry it, for the
// services that keep a replica of it (booking reads it when its replica has
// not learnt the record yet): NOT_FOUND when there is no such record.
func (s *Service) DeskPatientSnapshot(ctx context.Context, id string) (eventdata.DeskPatient, error) {
	if !uid.Valid(id) {
		return eventdata.DeskPatient{}, apperr.NotFoundf("desk patient %q not found", id)
	}
	rows, err := s.store.DeskPatientsByIDs(ctx, []string{id})
	if err != nil {
		return eventdata.DeskPatient{}, err
	}
	if len(rows) == 0 {
		return eventdata.DeskPatient{}, apperr.NotFoundf("desk patient %q not found", id)
	}
	return DeskSnapshotOf(rows[0]), nil
}

// DeskSnapshotOf converts a desk patient to its event form.
func DeskSnapshotOf(d store.DeskPatient) eventdata.DeskPatient {
	return eventdata.DeskPatient{ID: d.ID, Version: d.Version, PractitionerID: d.PractitionerID, FirstName: d.FirstName,
		LastName: d.LastName, BirthDate: d.BirthDate.Format(time.DateOnly), Email: d.Email, Phone: d.Phone, ClaimedBy: d.ClaimedBy}
}

// claimDeskPatients gives the account being registered (p, in tx) every
// unclaimed desk record, in any practice, with p's birth date and a contact
// the caller's identity provider vouches for (the token's email with
// email_verified, phone_number with phone_number_verified), and emits
// DeskPatientClaimed for each. A contact the provider does not vouch for
// claims nothing: knowing someone's address and birth date must not give
// their appointments away.
func (s *Service) claimDeskPatients(ctx context.Context, tx *store.Tx, caller auth.Principal, p store.Patient) error {
	var mail, ph string
	if v := caller.Contact.VerifiedEmail(); v != "" {
		mail, _ = email(v) // an address the provider vouches for but we cannot read claims nothing
	}
	if v := caller.Contact.VerifiedPhone(); v != "" {
		ph, _ = phone(v)
	}
	if mail == "" && ph == "" {
		return nil
	}
	claimed, err := tx.ClaimDeskPatients(ctx, p.ID, p.BirthDate, mail, ph, s.now())
	if err != nil {
		return err
	}
	for _, d := range claimed {
		if err := emitDesk(ctx, tx, d.ID, eventdata.DeskPatientClaimed, eventdata.DeskPatientClaim{
			DeskPatientID: d.ID, Version: d.Version, AccountID: p.ID, PractitionerID: d.PractitionerID}); err != nil {
			return err
		}
	}
	return nil
}

// emitDesk writes a desk patient's event, keyed by the record's id so that
// its events stay in order.
func emitDesk(ctx context.Context, tx *store.Tx, id, eventType string, data any) error {
	ev, err := events.New(Source, eventType, id, data)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, events.PatientEvents, id, ev)
}

// practiceStaff is the caller acting for the practice practitionerID (its
// practitioner, a secretary acting for it, or an admin) and the practice's
// canonical id: FORBIDDEN for anyone else, NOT_FOUND for an id that is none.
func practiceStaff(ctx context.Context, practitionerID string) (auth.Principal, string, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin)
	if err != nil {
		return auth.Principal{}, "", err
	}
	pid, err := auth.ActingPractitioner(ctx, practitionerID)
	if err != nil {
		return auth.Principal{}, "", err
	}
	if !uid.Valid(pid) {
		return auth.Principal{}, "", apperr.NotFoundf("practitioner %q not found", practitionerID)
	}
	return caller, strings.ToLower(pid), nil
}

// Package business holds the patient service's rules: who may read and change
// an account, what valid input is, and which event each change emits.
package business

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// Source is the CloudEvents source of this service's events.
var Source = events.Source("patient")

// MaxRelatives caps the relatives one account may add.
const MaxRelatives = 20

// Service is the patient business layer.
type Service struct {
	store     *store.Store
	countries *countries.Catalog
	now       func() time.Time
	// sources are the other services asked for their part of an export.
	sources map[string]ExportSource
}

// New builds the service.
func New(st *store.Store, cat *countries.Catalog) *Service {
	return &Service{store: st, countries: cat, now: time.Now}
}

// RegisterInput is a new patient's account.
type RegisterInput struct {
	FirstName, LastName string
	Email               string
	Phone               string // optional
	BirthDate           time.Time
	Locale              string // optional: the country's locale
	Country             string
}

// Register creates the account of the calling identity (a patient token of
// the identity provider): its id is the identity's account id
// (auth.AccountID of the token's issuer and subject), so every service finds
// it from the token alone. An identity that has an account is CONFLICT
// (reason ALREADY_REGISTERED); an email already in use (in any letter case)
// is INVALID_INPUT on "email"; past the country's registrations per client
// address and hour, REGISTRATION_LIMIT_REACHED. The desk records practices
// hold of the person (same birth date, a contact the token's identity
// provider vouches for) are claimed by the new account (desk.go).
func (s *Service) Register(ctx context.Context, in RegisterInput) (store.Patient, error) {
	country, err := s.country(in.Country)
	if err != nil {
		return store.Patient{}, err
	}
	p := store.Patient{Country: country.Code, NotifyEmail: true}
	if p.FirstName, err = name("firstName", in.FirstName); err != nil {
		return store.Patient{}, err
	}
	if p.LastName, err = name("lastName", in.LastName); err != nil {
		return store.Patient{}, err
	}
	if p.Email, err = email(in.Email); err != nil {
		return store.Patient{}, err
	}
	if p.Phone, err = phone(in.Phone); err != nil {
		return store.Patient{}, err
	}
	if p.BirthDate, err = s.birthDate("birthDate", in.BirthDate, country); err != nil {
		return store.Patient{}, err
	}
	p.Locale = country.Locale
	if in.Locale != "" {
		if p.Locale, err = locale(in.Locale); err != nil {
			return store.Patient{}, err
		}
	}
	// SMS reminders are on by default for whoever gives a mobile number.
	p.NotifySMS = p.Phone != ""
	// Input first (bad input is INVALID_INPUT whoever sends it), then who.
	caller, err := auth.RequirePatient(ctx)
	if err != nil {
		return store.Patient{}, err
	}
	p.ID, p.Issuer, p.Subject = caller.Account, caller.Issuer, caller.Subject

	var agg store.Aggregate
	hour := s.now().UTC().Truncate(time.Hour)
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPatient(ctx, p); err != nil {
			switch {
			case errors.Is(err, store.ErrEmailTaken):
				return apperr.Invalid("email", "is already registered")
			case errors.Is(err, store.ErrAccountExists):
				return &apperr.Error{Code: apperr.Conflict, Reason: "ALREADY_REGISTERED", Message: "you have an account already"}
			}
			return err
		}
		if err := tx.CountRegistration(ctx, auth.ClientAddrKey(ctx), hour, country.Limits.RegistrationsPerAddressPerHour); err != nil {
			if errors.Is(err, store.ErrRegistrationLimit) {
				return apperr.E(apperr.RegistrationLimitReached, "too many accounts were registered from your network this hour; please try again later")
			}
			return err
		}
		if agg, err = s.emit(ctx, tx, p.ID, eventdata.PatientRegistered); err != nil {
			return err
		}
		// The practices' desk records of this person become the account's
		// (ADR 21), in the same transaction.
		return s.claimDeskPatients(ctx, tx, caller, p)
	})
	if err != nil {
		return store.Patient{}, err
	}
	return agg.Patient, nil
}

// Me returns the calling patient's account.
func (s *Service) Me(ctx context.Context) (store.Patient, error) {
	id, err := self(ctx)
	if err != nil {
		return store.Patient{}, err
	}
	list, err := s.store.PatientsByIDs(ctx, []string{id})
	if err != nil {
		return store.Patient{}, err
	}
	if len(list) == 0 {
		return store.Patient{}, apperr.NotFoundf("patient account not found")
	}
	return list[0], nil
}

// ProfileUpdate changes the given (non-nil) fields of the caller's profile.
type ProfileUpdate struct {
	FirstName *string
	LastName  *string
	Phone     *string // "" removes the number and turns SMS notifications off
	Locale    *string
}

// UpdateProfile edits the calling patient's profile. A change emits
// PatientUpdated; a request that changes nothing writes nothing.
func (s *Service) UpdateProfile(ctx context.Context, in ProfileUpdate) (store.Patient, error) {
	id, err := self(ctx)
	if err != nil {
		return store.Patient{}, err
	}
	// Validate before touching the database: bad input changes nothing.
	var first, last, ph, loc string
	if in.FirstName != nil {
		if first, err = name("firstName", *in.FirstName); err != nil {
			return store.Patient{}, err
		}
	}
	if in.LastName != nil {
		if last, err = name("lastName", *in.LastName); err != nil {
			return store.Patient{}, err
		}
	}
	if in.Phone != nil {
		if ph, err = phone(*in.Phone); err != nil {
			return store.Patient{}, err
		}
	}
	if in.Locale != nil {
		if loc, err = locale(*in.Locale); err != nil {
			return store.Patient{}, err
		}
	}
	return s.change(ctx, id, eventdata.PatientUpdated, func(p *store.Patient) error {
		if in.FirstName != nil {
			p.FirstName = first
		}
		if in.LastName != nil {
			p.LastName = last
		}
		if in.Phone != nil {
			p.Phone = ph
			if ph == "" {
				p.NotifySMS = false
			}
		}
		if in.Locale != nil {
			p.Locale = loc
		}
		return nil
	})
}

// PreferencesUpdate changes the given (non-nil) notification channels.
type PreferencesUpdate struct {
	Email *bool
	SMS   *bool
}

// SetNotificationPreferences changes the caller's notification channels. SMS
// needs a phone number on the account.
func (s *Service) SetNotificationPreferences(ctx context.Context, in PreferencesUpdate) (store.Patient, error) {
	id, err := self(ctx)
	if err != nil {
		return store.Patient{}, err
	}
	return s.change(ctx, id, eventdata.NotificationPreferencesChanged, func(p *store.Patient) error {
		if in.SMS != nil && *in.SMS && p.Phone == "" {
			return apperr.Invalid("sms", "add a phone number to your profile first")
		}
		if in.Email != nil {
			p.NotifyEmail = *in.Email
		}
		if in.SMS != nil {
			p.NotifySMS = *in.SMS
		}
		return nil
	})
}

// change applies fn to the locked account and, when it changed anything,
// saves it and emits eventType in the same transaction.
func (s *Service) change(ctx context.Context, id, eventType string, fn func(p *store.Patient) error) (store.Patient, error) {
	var out store.Patient
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPatient(ctx, id)
		if err != nil {
			return notFound(err)
		}
		before := p
		if err := fn(&p); err != nil {
			return err
		}
		if p == before {
			out = p
			return nil
		}
		if _, err := tx.UpdatePatient(ctx, p); err != nil {
			return notFound(err)
		}
		agg, err := s.emit(ctx, tx, id, eventType)
		out = agg.Patient
		return err
	})
	if err != nil {
		return store.Patient{}, err
	}
	return out, nil
}

// RelativeInput is a new relative.
type RelativeInput struct {
	FirstName, LastName string
	BirthDate           time.Time
}

// AddRelative adds a relative with the calling patient as its first guardian.
func (s *Service) AddRelative(ctx context.Context, in RelativeInput) (store.Relative, error) {
	id, err := self(ctx)
	if err != nil {
		return store.Relative{}, err
	}
	r := store.Relative{ID: uid.New(), GuardianID: id}
	if r.FirstName, err = name("firstName", in.FirstName); err != nil {
		return store.Relative{}, err
	}
	if r.LastName, err = name("lastName", in.LastName); err != nil {
		return store.Relative{}, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPatient(ctx, id)
		if err != nil {
			return notFound(err)
		}
		country, _ := s.countries.Get(p.Country)
		if r.BirthDate, err = s.birthDate("birthDate", in.BirthDate, country); err != nil {
			return err
		}
		n, err := tx.CountRelatives(ctx, id)
		if err != nil {
			return err
		}
		if n >= MaxRelatives {
			return apperr.Invalid("relatives", "an account may have at most %d relatives", MaxRelatives)
		}
		if err := tx.InsertRelative(ctx, r); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, id); err != nil {
			return notFound(err)
		}
		agg, err := s.emit(ctx, tx, id, eventdata.RelativeAdded)
		if err != nil {
			return err
		}
		for _, x := range agg.Relatives {
			if x.ID == r.ID {
				r = x
			}
		}
		return nil
	})
	if err != nil {
		return store.Relative{}, err
	}
	return r, nil
}

// PatientsByIDs resolves federation references to Patient. Only the calling
// patient's own account resolves: rows holds at most that one, and perIndex[i]
// (nil when every id resolved) says why ids[i] did not — FORBIDDEN for anyone
// else's id, NOT_FOUND for an own account that no longer exists. An anonymous
// caller or another role fails the whole batch.
func (s *Service) PatientsByIDs(ctx context.Context, ids []string) (rows []store.Patient, perIndex []error, err error) {
	me, err := self(ctx)
	if err != nil {
		return nil, nil, err
	}
	if slices.Contains(ids, me) {
		if rows, err = s.store.PatientsByIDs(ctx, []string{me}); err != nil {
			return nil, nil, err
		}
	}
	perIndex = make([]error, len(ids))
	failed := false
	for i, id := range ids {
		switch {
		case id != me:
			perIndex[i], failed = apperr.Forbiddenf("a patient may only read their own account"), true
		case len(rows) == 0:
			perIndex[i], failed = apperr.NotFoundf("patient account not found"), true
		}
	}
	if !failed {
		perIndex = nil
	}
	return rows, perIndex, nil
}

// RelativesByIDs resolves federation references to Relative: only relatives
// the calling patient is a guardian of resolve; perIndex[i] is FORBIDDEN for
// any other id (nil slice when every id resolved).
func (s *Service) RelativesByIDs(ctx context.Context, ids []string) (rows []store.Relative, perIndex []error, err error) {
	me, err := self(ctx)
	if err != nil {
		return nil, nil, err
	}
	if rows, err = s.store.RelativesOfGuardian(ctx, me, uid.Filter(ids)); err != nil {
		return nil, nil, err
	}
	mine := make(map[string]bool, len(rows))
	for _, r := range rows {
		mine[r.ID] = true
	}
	perIndex = make([]error, len(ids))
	failed := false
	for i, id := range ids {
		if !mine[id] {
			perIndex[i], failed = apperr.Forbiddenf("relative %q is not one of yours", id), true
		}
	}
	if !failed {
		perIndex = nil
	}
	return rows, perIndex, nil
}

// RelativesOfPatients reads the relatives of accounts, for the Patient.relatives
// loader. Only the caller's own account is read; other ids get none.
func (s *Service) RelativesOfPatients(ctx context.Context, ids []string) ([]store.Relative, error) {
	me, err := self(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ids, me) {
		return nil, nil
	}
	return s.store.RelativesOfPatients(ctx, []string{me})
}

// emit writes the account's full, versioned snapshot as the event's data so
// that consumers can apply it idempotently (newer version wins). It returns
// the aggregate it read.
func (s *Service) emit(ctx context.Context, tx *store.Tx, id, eventType string) (store.Aggregate, error) {
	agg, err := tx.Aggregate(ctx, id)
	if err != nil {
		return store.Aggregate{}, err
	}
	ev, err := events.New(Source, eventType, id, SnapshotOf(agg))
	if err != nil {
		return store.Aggregate{}, err
	}
	return agg, tx.Emit(ctx, events.PatientEvents, id, ev)
}

// self is the calling patient's id: UNAUTHENTICATED when anonymous, FORBIDDEN
// for any other role.
func self(ctx context.Context) (string, error) {
	p, err := auth.RequirePatient(ctx)
	if err != nil {
		return "", err
	}
	if !uid.Valid(p.Account) {
		return "", apperr.NotFoundf("patient account not found")
	}
	return p.Account, nil
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("patient account not found")
	}
	return err
}

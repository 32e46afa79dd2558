// Package business holds the practitioner service's rules: who may change a
// practice, what valid input is, and which event each change emits.
package business

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// Source is the CloudEvents source of this service's events.
var Source = events.Source("practitioner")

// Service is the practitioner business layer.
type Service struct {
	store     *store.Store
	countries *countries.Catalog
	now       func() time.Time
}

// New builds the service.
func New(st *store.Store, cat *countries.Catalog) *Service {
	return &Service{store: st, countries: cat, now: time.Now}
}

// Countries is the served-country catalogue.
func (s *Service) Countries() *countries.Catalog { return s.countries }

// RegisterInput is a new practitioner's profile.
type RegisterInput struct {
	FirstName, LastName string
	Country             string
	Specialties         []string
	Languages           []string
	RegistrationNumber  string
	Bio                 string
}

// Register creates the practice of the calling identity (a practitioner
// token of the identity provider): its id is the identity's account id
// (auth.AccountID of the token's issuer and subject), so the practitioner's
// tokens find it. An identity that has a practice is CONFLICT (reason
// ALREADY_REGISTERED).
func (s *Service) Register(ctx context.Context, in RegisterInput) (store.Practitioner, error) {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner)
	if err != nil {
		return store.Practitioner{}, err
	}
	country, err := s.country(in.Country)
	if err != nil {
		return store.Practitioner{}, err
	}
	p := store.Practitioner{
		ID:                 caller.Account,
		Country:            country.Code,
		AcceptsNewPatients: true,
	}
	if err := applyNames(&p, in.FirstName, in.LastName); err != nil {
		return store.Practitioner{}, err
	}
	if p.Specialties, err = s.specialties(country, in.Specialties); err != nil {
		return store.Practitioner{}, err
	}
	if p.Languages, err = languages(in.Languages); err != nil {
		return store.Practitioner{}, err
	}
	if p.Bio, err = bio(in.Bio); err != nil {
		return store.Practitioner{}, err
	}
	if in.RegistrationNumber != "" {
		if !country.ValidRegistrationNumber(in.RegistrationNumber) {
			return store.Practitioner{}, apperr.Invalid("registrationNumber", "not a valid %s", country.Regulatory.RegistrationNumberName)
		}
		p.RegistrationNumber = in.RegistrationNumber
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPractitioner(ctx, p); err != nil {
			if errors.Is(err, store.ErrExists) {
				return &apperr.Error{Code: apperr.Conflict, Reason: "ALREADY_REGISTERED", Message: "your practice is registered already"}
			}
			return err
		}
		return s.emit(ctx, tx, p.ID, eventdata.PractitionerRegistered)
	})
	if err != nil {
		return store.Practitioner{}, err
	}
	return s.Get(ctx, p.ID)
}

// ProfileUpdate changes the given fields of a practice profile.
type ProfileUpdate struct {
	PractitionerID     string // optional for a practitioner; a secretary's choice
	Bio                *string
	Languages          []string
	AcceptsNewPatients *bool
	Specialties        []string
}

// UpdateProfile edits the practice of the calling practitioner (or secretary).
func (s *Service) UpdateProfile(ctx context.Context, in ProfileUpdate) (store.Practitioner, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.Practitioner{}, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		country, err := s.country(p.Country)
		if err != nil {
			return err
		}
		if in.Bio != nil {
			if p.Bio, err = bio(*in.Bio); err != nil {
				return err
			}
		}
		if in.Languages != nil {
			if p.Languages, err = languages(in.Languages); err != nil {
				return err
			}
		}
		if in.Specialties != nil {
			if p.Specialties, err = s.specialties(country, in.Specialties); err != nil {
				return err
			}
		}
		if in.AcceptsNewPatients != nil {
			p.AcceptsNewPatients = *in.AcceptsNewPatients
		}
		if _, err := tx.UpdatePractitioner(ctx, p); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.PractitionerProfileUpdated)
	})
	if err != nil {
		return store.Practitioner{}, err
	}
	return s.Get(ctx, id)
}

// LocationInput is a new practice address.
type LocationInput struct {
	PractitionerID string
	Name           string
	Line1          string
	PostalCode     string
	City           string
	Country        string
	Lat, Lon       float64
	TimeZone       string
}

// AddLocation adds a place of practice.
func (s *Service) AddLocation(ctx context.Context, in LocationInput) (store.Location, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.Location{}, err
	}
	l := store.Location{
		ID:             uid.New(),
		PractitionerID: id,
		Name:           strings.TrimSpace(in.Name),
		Line1:          strings.TrimSpace(in.Line1),
		PostalCode:     strings.TrimSpace(in.PostalCode),
		City:           strings.TrimSpace(in.City),
		AddressCountry: strings.ToLower(strings.TrimSpace(in.Country)),
		Lat:            in.Lat,
		Lon:            in.Lon,
		TimeZone:       in.TimeZone,
	}
	if err := validateLocation(l); err != nil {
		return store.Location{}, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		if l.AddressCountry != p.Country {
			return apperr.Invalid("address.country", "must be the practice's country %q", p.Country)
		}
		l.Country = p.Country
		if err := tx.InsertLocation(ctx, l); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, p.Country, id); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.LocationAdded)
	})
	if err != nil {
		return store.Location{}, err
	}
	return l, nil
}

// AppointmentTypeInput creates (ID empty) or updates a motive.
type AppointmentTypeInput struct {
	ID                  string
	PractitionerID      string
	Name                string
	DurationMinutes     int
	VisitMode           string
	NewPatientsAllowed  bool
	OnlineBookable      bool
	BufferBeforeMinutes *int
	BufferAfterMinutes  *int
	MinNoticeMinutes    *int
	BookingHorizonDays  *int
}

// Defaults for optional appointment-type rules.
const (
	DefaultBookingHorizonDays = 90
	MaxBookingHorizonDays     = 730
	MaxDurationMinutes        = 8 * 60
)

// SaveAppointmentType creates or updates a motive of the practice.
func (s *Service) SaveAppointmentType(ctx context.Context, in AppointmentTypeInput) (store.AppointmentType, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.AppointmentType{}, err
	}
	a := store.AppointmentType{
		ID:                 in.ID,
		PractitionerID:     id,
		Name:               strings.TrimSpace(in.Name),
		DurationMinutes:    in.DurationMinutes,
		VisitMode:          in.VisitMode,
		NewPatientsAllowed: in.NewPatientsAllowed,
		OnlineBookable:     in.OnlineBookable,
		BookingHorizonDays: DefaultBookingHorizonDays,
	}
	setInt(&a.BufferBeforeMinutes, in.BufferBeforeMinutes)
	setInt(&a.BufferAfterMinutes, in.BufferAfterMinutes)
	setInt(&a.MinNoticeMinutes, in.MinNoticeMinutes)
	setInt(&a.BookingHorizonDays, in.BookingHorizonDays)
	if err := validateType(a); err != nil {
		return store.AppointmentType{}, err
	}
	if a.ID != "" && !uid.Valid(a.ID) {
		return store.AppointmentType{}, apperr.NotFoundf("appointment type %q not found", a.ID)
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		if a.VisitMode == "VIDEO" {
			if c, ok := s.countries.Get(p.Country); ok && !c.HasFeature("video") {
				return apperr.Invalid("visitMode", "video consultations are not offered in %s", c.Name)
			}
		}
		a.Country = p.Country
		if a.ID == "" {
			a.ID = uid.New()
		} else {
			existing, err := tx.AppointmentType(ctx, a.ID)
			if err != nil || existing.PractitionerID != id {
				// Another practice's type is as good as absent to this caller.
				return apperr.NotFoundf("appointment type %q not found", a.ID)
			}
		}
		if err := tx.UpsertAppointmentType(ctx, a); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, p.Country, id); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.AppointmentTypeSaved)
	})
	if err != nil {
		return store.AppointmentType{}, err
	}
	return a, nil
}

// Get reads one practitioner.
func (s *Service) Get(ctx context.Context, id string) (store.Practitioner, error) {
	if !uid.Valid(id) {
		return store.Practitioner{}, apperr.NotFoundf("practitioner %q not found", id)
	}
	list, err := s.store.PractitionersByIDs(ctx, []string{id})
	if err != nil {
		return store.Practitioner{}, err
	}
	if len(list) == 0 {
		return store.Practitioner{}, apperr.NotFoundf("practitioner %q not found", id)
	}
	return list[0], nil
}

// MyPractice returns the practice the caller runs (or assists).
func (s *Service) MyPractice(ctx context.Context, requested string) (store.Practitioner, error) {
	id, err := s.acting(ctx, requested)
	if err != nil {
		return store.Practitioner{}, err
	}
	return s.Get(ctx, id)
}

// PractitionersByIDs reads many practitioners, in no particular order.
func (s *Service) PractitionersByIDs(ctx context.Context, ids []string) ([]store.Practitioner, error) {
	return s.store.PractitionersByIDs(ctx, uid.Filter(ids))
}

// LocationsByPractitioners groups the locations of several practitioners.
func (s *Service) LocationsByPractitioners(ctx context.Context, ids []string) ([]store.Location, error) {
	return s.store.LocationsByPractitioners(ctx, uid.Filter(ids))
}

// TypesByPractitioners reads the appointment types of several practitioners.
func (s *Service) TypesByPractitioners(ctx context.Context, ids []string) ([]store.AppointmentType, error) {
	return s.store.TypesByPractitioners(ctx, uid.Filter(ids))
}

// LocationsByIDs reads locations.
func (s *Service) LocationsByIDs(ctx context.Context, ids []string) ([]store.Location, error) {
	return s.store.LocationsByIDs(ctx, uid.Filter(ids))
}

// TypesByIDs reads appointment types.
func (s *Service) TypesByIDs(ctx context.Context, ids []string) ([]store.AppointmentType, error) {
	return s.store.TypesByIDs(ctx, uid.Filter(ids))
}

// Specialties lists a served country's specialties.
func (s *Service) Specialties(code string) ([]countries.Specialty, error) {
	c, err := s.country(code)
	if err != nil {
		return nil, err
	}
	return c.Specialties, nil
}

// SpecialtyLabel gives the label of a specialty code in a country.
func (s *Service) SpecialtyLabel(country, code string) string {
	if c, ok := s.countries.Get(country); ok {
		if sp, ok := c.Specialty(code); ok {
			return sp.Label
		}
	}
	return code
}

// emit writes the practice's full, versioned snapshot as the event's data so
// that consumers can apply it idempotently (newer version wins).
func (s *Service) emit(ctx context.Context, tx *store.Tx, id, eventType string) error {
	agg, err := tx.Aggregate(ctx, id)
	if err != nil {
		return err
	}
	ev, err := events.New(Source, eventType, id, SnapshotOf(agg))
	if err != nil {
		return err
	}
	return tx.Emit(ctx, events.PractitionerEvents, id, ev)
}

func (s *Service) acting(ctx context.Context, requested string) (string, error) {
	if requested != "" && !uid.Valid(requested) {
		return "", apperr.Invalid("practitionerId", "not a valid id")
	}
	return auth.ActingPractitioner(ctx, requested)
}

func (s *Service) country(code string) (*countries.Country, error) {
	c, ok := s.countries.Get(strings.ToLower(strings.TrimSpace(code)))
	if !ok {
		return nil, apperr.Invalid("country", "%q is not a served country (%s)", code, strings.Join(s.countries.Codes(), ", "))
	}
	return c, nil
}

func (s *Service) specialties(c *countries.Country, codes []string) ([]string, error) {
	if len(codes) == 0 {
		return nil, apperr.Invalid("specialties", "at least one specialty is required")
	}
	out := make([]string, 0, len(codes))
	for _, code := range codes {
		if _, ok := c.Specialty(code); !ok {
			return nil, apperr.Invalid("specialties", "%q is not a specialty in %s", code, c.Name)
		}
		if !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	return out, nil
}

var languageRE = regexp.MustCompile(`^[a-z]{2,3}$`)

func languages(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, l := range in {
		l = strings.ToLower(strings.TrimSpace(l))
		if !languageRE.MatchString(l) {
			return nil, apperr.Invalid("languages", "%q is not an ISO 639 language code", l)
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

func applyNames(p *store.Practitioner, first, last string) error {
	p.FirstName, p.LastName = strings.TrimSpace(first), strings.TrimSpace(last)
	if err := name("firstName", p.FirstName); err != nil {
		return err
	}
	return name("lastName", p.LastName)
}

func name(field, v string) error {
	if v == "" {
		return apperr.Invalid(field, "is required")
	}
	if utf8.RuneCountInString(v) > 100 {
		return apperr.Invalid(field, "is longer than 100 characters")
	}
	return nil
}

func bio(v string) (string, error) {
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > 4000 {
		return "", apperr.Invalid("bio", "is longer than 4000 characters")
	}
	return v, nil
}

func validateLocation(l store.Location) error {
	for field, v := range map[string]string{"name": l.Name, "address.line1": l.Line1, "address.postalCode": l.PostalCode, "address.city": l.City} {
		if v == "" {
			return apperr.Invalid(field, "is required")
		}
		if utf8.RuneCountInString(v) > 200 {
			return apperr.Invalid(field, "is longer than 200 characters")
		}
	}
	if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 {
		return apperr.Invalid("coordinates.lat", "must be between -90 and 90")
	}
	if math.IsNaN(l.Lon) || l.Lon < -180 || l.Lon > 180 {
		return apperr.Invalid("coordinates.lon", "must be between -180 and 180")
	}
	return validZone(l.TimeZone)
}

// validZone accepts IANA names only ("Europe/Paris"), not "Local" or offsets.
func validZone(z string) error {
	if z == "" || z == "Local" || !strings.Contains(z, "/") && z != "UTC" {
		return apperr.Invalid("timeZone", "%q is not an IANA zone name such as Europe/Paris", z)
	}
	if _, ok := knownZones.Load(z); ok {
		return nil
	}
	if _, err := time.LoadLocation(z); err != nil {
		return apperr.Invalid("timeZone", "%q is not an IANA zone name such as Europe/Paris", z)
	}
	knownZones.Store(z, true)
	return nil
}

// knownZones caches the zone names that loaded: an import checks thousands.
var knownZones sync.Map

func validateType(a store.AppointmentType) error {
	if err := name("name", a.Name); err != nil {
		return err
	}
	switch {
	case a.DurationMinutes <= 0 || a.DurationMinutes > MaxDurationMinutes:
		return apperr.Invalid("durationMinutes", "must be between 1 and %d", MaxDurationMinutes)
	case a.DurationMinutes%5 != 0:
		return apperr.Invalid("durationMinutes", "must be a multiple of 5 minutes")
	case a.VisitMode != "IN_PERSON" && a.VisitMode != "VIDEO":
		return apperr.Invalid("visitMode", "must be IN_PERSON or VIDEO")
	case a.BufferBeforeMinutes < 0 || a.BufferBeforeMinutes > 240 || a.BufferBeforeMinutes%5 != 0:
		return apperr.Invalid("bufferBeforeMinutes", "must be a multiple of 5 between 0 and 240")
	case a.BufferAfterMinutes < 0 || a.BufferAfterMinutes > 240 || a.BufferAfterMinutes%5 != 0:
		return apperr.Invalid("bufferAfterMinutes", "must be a multiple of 5 between 0 and 240")
	case a.MinNoticeMinutes < 0 || a.MinNoticeMinutes > 60*24*60:
		return apperr.Invalid("minNoticeMinutes", "must be between 0 and 86400")
	case a.BookingHorizonDays <= 0 || a.BookingHorizonDays > MaxBookingHorizonDays:
		return apperr.Invalid("bookingHorizonDays", "must be between 1 and %d", MaxBookingHorizonDays)
	}
	return nil
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("%s not found", what)
	}
	return err
}

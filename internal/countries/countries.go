// Package countries loads the country catalogue (config/countries.yaml): the
// one place a new country is declared. Services read cut-offs, reminder
// offsets, zones and specialties from it; no code names a country.
package countries

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones must not depend on the host's zoneinfo

	"github.com/goccy/go-yaml"
)

//go:embed countries.yaml
var embedded []byte

// Specialty is a medical specialty with its label in the country's language.
type Specialty struct {
	Code  string `yaml:"code"`
	Label string `yaml:"label"`
}

// Country is one served country.
type Country struct {
	Code                      string `yaml:"code"`
	Name                      string `yaml:"name"`
	TimeZone                  string `yaml:"timeZone"`
	Locale                    string `yaml:"locale"`
	Currency                  string `yaml:"currency"`
	PhoneRegion               string `yaml:"phoneRegion"`
	CancellationCutoffMinutes int    `yaml:"cancellationCutoffMinutes"`
	ReminderOffsetsMinutes    []int  `yaml:"reminderOffsetsMinutes"`
	// OfferWindowMinutes is how long an earlier-slot offer holds its slot
	// for the waiting patient (DefaultOfferWindow when absent).
	OfferWindowMinutes int `yaml:"offerWindowMinutes"`
	Regulatory         struct {
		RegistrationNumberName    string `yaml:"registrationNumberName"`
		RegistrationNumberPattern string `yaml:"registrationNumberPattern"`
	} `yaml:"regulatory"`
	Features    []string    `yaml:"features"`
	Specialties []Specialty `yaml:"specialties"`
	// Limits against slot hoarding and sign-up floods (defaults when absent).
	Limits Limits `yaml:"limits"`
	// NoShowPolicy is the practices' default against repeat no-shows (each
	// practice may set its own); DefaultNoShowPolicy's values when absent.
	NoShowPolicy NoShowPolicy `yaml:"noShowPolicy"`

	location *time.Location
	regNo    *regexp.Regexp
	specs    map[string]Specialty
}

// Limits are a country's domain limits; each refusal has its own code.
type Limits struct {
	// LiveHoldsPerPatient caps the live holds of one patient account (a hold
	// in this country counts every live hold of the account).
	LiveHoldsPerPatient int `yaml:"liveHoldsPerPatient"`
	// BookingsPerPatientPerPracticePerDay caps the appointments one account
	// books (for itself or its relatives) with one practice on one local day
	// of the country (the day the booking is made; a cancellation does not
	// give one back).
	BookingsPerPatientPerPracticePerDay int `yaml:"bookingsPerPatientPerPracticePerDay"`
	// RegistrationsPerAddressPerHour caps the patient accounts registered
	// from one client address (IPv6: one /64) in one clock hour.
	RegistrationsPerAddressPerHour int `yaml:"registrationsPerAddressPerHour"`
}

// Default limits, for a country that does not set them.
var DefaultLimits = Limits{LiveHoldsPerPatient: 2, BookingsPerPatientPerPracticePerDay: 4, RegistrationsPerAddressPerHour: 10}

// withDefaults fills the unset limits from DefaultLimits.
func (l Limits) withDefaults() (Limits, error) {
	for _, f := range []struct {
		v    *int
		def  int
		name string
	}{
		{&l.LiveHoldsPerPatient, DefaultLimits.LiveHoldsPerPatient, "liveHoldsPerPatient"},
		{&l.BookingsPerPatientPerPracticePerDay, DefaultLimits.BookingsPerPatientPerPracticePerDay, "bookingsPerPatientPerPracticePerDay"},
		{&l.RegistrationsPerAddressPerHour, DefaultLimits.RegistrationsPerAddressPerHour, "registrationsPerAddressPerHour"},
	} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("limits.%s must be positive (or absent for the default %d)", f.name, f.def)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return l, nil
}

// NoShowPolicy says when a patient account may no longer book a practice
// online: after Limit no-shows with it in PeriodDays, for RestrictionDays.
// A Limit of 0 never restricts (only a practice's own policy may say so).
type NoShowPolicy struct {
	Limit           int `yaml:"limit" json:"limit"`
	PeriodDays      int `yaml:"periodDays" json:"periodDays"`
	RestrictionDays int `yaml:"restrictionDays" json:"restrictionDays"`
}

// DefaultNoShowPolicy is the policy of a country that does not set one: 3
// no-shows in a year, 90 days without online booking.
var DefaultNoShowPolicy = NoShowPolicy{Limit: 3, PeriodDays: 365, RestrictionDays: 90}

// Bounds of a no-show policy (a country's or a practice's).
const (
	MaxNoShowLimit           = 20
	MaxNoShowPeriodDays      = 730
	MaxNoShowRestrictionDays = 365
)

// Period is how far back no-shows count.
func (p NoShowPolicy) Period() time.Duration { return time.Duration(p.PeriodDays) * 24 * time.Hour }

// Restriction is how long a restriction lasts once the limit is reached.
func (p NoShowPolicy) Restriction() time.Duration {
	return time.Duration(p.RestrictionDays) * 24 * time.Hour
}

// Validate says what is wrong with a policy: the name of the first field out
// of bounds ("" when it is valid). A limit of 0 (off) is valid.
func (p NoShowPolicy) Validate() (field string, err error) {
	switch {
	case p.Limit < 0 || p.Limit > MaxNoShowLimit:
		return "limit", fmt.Errorf("must be between 0 (never restrict) and %d", MaxNoShowLimit)
	case p.PeriodDays < 1 || p.PeriodDays > MaxNoShowPeriodDays:
		return "periodDays", fmt.Errorf("must be between 1 and %d", MaxNoShowPeriodDays)
	case p.RestrictionDays < 1 || p.RestrictionDays > MaxNoShowRestrictionDays:
		return "restrictionDays", fmt.Errorf("must be between 1 and %d", MaxNoShowRestrictionDays)
	}
	return "", nil
}

// Location is the country's default zone.
func (c *Country) Location() *time.Location { return c.location }

// CancellationCutoff is how long before the start a patient may still cancel online.
func (c *Country) CancellationCutoff() time.Duration {
	return time.Duration(c.CancellationCutoffMinutes) * time.Minute
}

// DefaultOfferWindow is how long an earlier-slot offer holds its slot when
// the country does not say.
const DefaultOfferWindow = 15 * time.Minute

// OfferWindow is how long an earlier-slot offer holds its slot for the
// waiting patient before it passes to the next one.
func (c *Country) OfferWindow() time.Duration {
	if c.OfferWindowMinutes <= 0 {
		return DefaultOfferWindow
	}
	return time.Duration(c.OfferWindowMinutes) * time.Minute
}

// Specialty looks up a specialty by code.
func (c *Country) Specialty(code string) (Specialty, bool) {
	s, ok := c.specs[code]
	return s, ok
}

// ValidRegistrationNumber checks the country's regulatory id format.
func (c *Country) ValidRegistrationNumber(s string) bool {
	return c.regNo == nil || c.regNo.MatchString(s)
}

// HasFeature reports whether a feature (e.g. "video") is enabled.
func (c *Country) HasFeature(f string) bool {
	for _, x := range c.Features {
		if x == f {
			return true
		}
	}
	return false
}

// Catalog is the set of served countries.
type Catalog struct {
	byCode map[string]*Country
	codes  []string
}

// Load reads the catalogue from path, or the embedded default when path is
// empty, with the limits of COUNTRY_LIMITS (if set) over every country's.
func Load(path string) (*Catalog, error) {
	b := embedded
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	cat, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if v := os.Getenv("COUNTRY_LIMITS"); v != "" {
		if err := cat.OverrideLimits(v); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// OverrideLimits sets limits of every country from "name=value,..." (the
// yaml names, e.g. "registrationsPerAddressPerHour=100000"): an operator's
// override for one environment (a load test whose clients share one
// address, a closed beta behind one NAT), as COUNTRY_LIMITS.
func (c *Catalog) OverrideLimits(spec string) error {
	for _, kv := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(value)
		if !ok || err != nil || n <= 0 {
			return fmt.Errorf("countries: COUNTRY_LIMITS: %q is not name=positive number", kv)
		}
		for _, x := range c.byCode {
			switch name {
			case "liveHoldsPerPatient":
				x.Limits.LiveHoldsPerPatient = n
			case "bookingsPerPatientPerPracticePerDay":
				x.Limits.BookingsPerPatientPerPracticePerDay = n
			case "registrationsPerAddressPerHour":
				x.Limits.RegistrationsPerAddressPerHour = n
			default:
				return fmt.Errorf("countries: COUNTRY_LIMITS: no limit %q", name)
			}
		}
	}
	return nil
}

// MustDefault returns the embedded catalogue; it is validated by tests.
func MustDefault() *Catalog {
	c, err := Parse(embedded)
	if err != nil {
		panic(err)
	}
	return c
}

var codeRE = regexp.MustCompile(`^[a-z]{2}$`)

// Parse validates and indexes a catalogue document.
func Parse(b []byte) (cat *Catalog, err error) {
	// The YAML decoder (goccy/go-yaml 1.19.2) panics on some malformed documents (fuzzing found
	// `countries: !00 00`): an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			cat, err = nil, fmt.Errorf("countries: unreadable YAML: %v", p)
		}
	}()
	var doc struct {
		Countries []*Country `yaml:"countries"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("countries: %w", err)
	}
	cat = &Catalog{byCode: map[string]*Country{}}
	for _, c := range doc.Countries {
		if !codeRE.MatchString(c.Code) {
			return nil, fmt.Errorf("countries: code %q must be two lower-case letters", c.Code)
		}
		if _, dup := cat.byCode[c.Code]; dup {
			return nil, fmt.Errorf("countries: %q listed twice", c.Code)
		}
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("countries: %s: zone %q: %w", c.Code, c.TimeZone, err)
		}
		c.location = loc
		if p := c.Regulatory.RegistrationNumberPattern; p != "" {
			if c.regNo, err = regexp.Compile(p); err != nil {
				return nil, fmt.Errorf("countries: %s: registration pattern: %w", c.Code, err)
			}
		}
		if c.OfferWindowMinutes < 0 {
			return nil, fmt.Errorf("countries: %s: offerWindowMinutes must be positive (or absent for %s)", c.Code, DefaultOfferWindow)
		}
		if c.Limits, err = c.Limits.withDefaults(); err != nil {
			return nil, fmt.Errorf("countries: %s: %w", c.Code, err)
		}
		if c.NoShowPolicy == (NoShowPolicy{}) {
			c.NoShowPolicy = DefaultNoShowPolicy
		} else if field, err := c.NoShowPolicy.Validate(); err != nil {
			return nil, fmt.Errorf("countries: %s: noShowPolicy.%s %w", c.Code, field, err)
		} else if c.NoShowPolicy.Limit == 0 {
			return nil, fmt.Errorf("countries: %s: noShowPolicy.limit must be between 1 and %d", c.Code, MaxNoShowLimit)
		}
		c.specs = map[string]Specialty{}
		for _, s := range c.Specialties {
			c.specs[s.Code] = s
		}
		cat.byCode[c.Code] = c
		cat.codes = append(cat.codes, c.Code)
	}
	sort.Strings(cat.codes)
	if len(cat.codes) == 0 {
		return nil, fmt.Errorf("countries: none listed")
	}
	return cat, nil
}

// Get returns the country with the code, if served.
func (c *Catalog) Get(code string) (*Country, bool) {
	x, ok := c.byCode[code]
	return x, ok
}

// Codes lists the served country codes in order.
func (c *Catalog) Codes() []string { return append([]string(nil), c.codes...) }

// All lists the served countries in code order.
func (c *Catalog) All() []*Country {
	out := make([]*Country, 0, len(c.codes))
	for _, code := range c.codes {
		out = append(out, c.byCode[code])
	}
	return out
}

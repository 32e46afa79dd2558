package business

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
)

// MaxNameLength is the longest first or last name, in characters.
const MaxNameLength = 100

// EarliestBirthDate is the earliest birth date accepted.
var EarliestBirthDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Service) country(code string) (*countries.Country, error) {
	c, ok := s.countries.Get(strings.ToLower(strings.TrimSpace(code)))
	if !ok {
		return nil, apperr.Invalid("country", "%q is not a served country (%s)", code, strings.Join(s.countries.Codes(), ", "))
	}
	return c, nil
}

// name trims a first or last name and checks it is 1–100 printable characters.
func name(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", apperr.Invalid(field, "is required")
	}
	if !utf8.ValidString(v) {
		return "", apperr.Invalid(field, "is not valid text")
	}
	if utf8.RuneCountInString(v) > MaxNameLength {
		return "", apperr.Invalid(field, "is longer than %d characters", MaxNameLength)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", apperr.Invalid(field, "contains control characters")
	}
	return v, nil
}

// emailRE is the WHATWG "valid email address" grammar (what browsers accept
// in <input type=email>), with a dot required in the domain.
var emailRE = regexp.MustCompile(`^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$`)

// email trims and lower-cases an address and checks its syntax.
func email(v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", apperr.Invalid("email", "is required")
	}
	local, _, _ := strings.Cut(v, "@")
	if len(v) > 254 || len(local) > 64 || !emailRE.MatchString(v) ||
		strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", apperr.Invalid("email", "%q is not a valid email address", v)
	}
	return v, nil
}

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// phone normalises a number to E.164 (+ and 8–15 digits), dropping the spaces,
// dots, dashes and parentheses people type; "" stays "" (no number).
func phone(v string) (string, error) {
	v = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, v)
	if v == "" {
		return "", nil
	}
	if !phoneRE.MatchString(v) {
		return "", apperr.Invalid("phone", "must be in international format: + and 8 to 15 digits, e.g. +33612345678")
	}
	return v, nil
}

var localeRE = regexp.MustCompile(`^([a-zA-Z]{2,3})[-_]([a-zA-Z]{2})$`)

// locale accepts a language-region tag such as fr-FR (any letter case, - or _)
// and returns it canonical: fr-FR.
func locale(v string) (string, error) {
	m := localeRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "", apperr.Invalid("locale", "%q is not a locale such as fr-FR", v)
	}
	return strings.ToLower(m[1]) + "-" + strings.ToUpper(m[2]), nil
}

// birthDate checks a day is neither in the future (in the country's zone, or
// the earliest zone on Earth when unknown) nor before 1900, and returns it as
// a UTC midnight.
func (s *Service) birthDate(field string, d time.Time, c *countries.Country) (time.Time, error) {
	if d.IsZero() {
		return time.Time{}, apperr.Invalid(field, "is required")
	}
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	loc := time.FixedZone("UTC+14", 14*3600)
	if c != nil && c.Location() != nil {
		loc = c.Location()
	}
	now := s.now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if day.After(today) {
		return time.Time{}, apperr.Invalid(field, "is in the future")
	}
	if day.Before(EarliestBirthDate) {
		return time.Time{}, apperr.Invalid(field, "is before 1900")
	}
	return day, nil
}

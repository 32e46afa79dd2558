package business

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// Schedule limits.
const (
	MinStepMinutes         = 5
	MaxStepMinutes         = 240
	MaxRulesPerLocation    = 100
	MaxAbsenceDays         = 366
	MaxAbsenceReasonLength = 500
	minutesPerDay          = 24 * 60
)

// weekdays names ISO weekdays 1..7 for messages.
var weekdays = [...]string{"", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}

// RuleInput is one weekly opening-hours rule: wall-clock minutes of the local
// day in the location's zone.
type RuleInput struct {
	Weekday            int // ISO 8601: 1 = Monday … 7 = Sunday
	StartMinute        int
	EndMinute          int // up to 1440 (24:00)
	StepMinutes        int
	AppointmentTypeIDs []string
}

// OpeningHoursInput replaces the weekly rules of one location.
type OpeningHoursInput struct {
	PractitionerID string
	LocationID     string
	Rules          []RuleInput
}

// SetOpeningHours replaces the rules of one location of the practice. Rules
// may not overlap each other, nor the rules of the practice's other locations
// on the same weekday: a practitioner is in one place at a time. Rules of
// different locations are compared as wall-clock times: this assumes the
// practice's locations share a zone (they are in one country, and in
// practice one zone). For locations in different zones the comparison is off
// by the zones' offset.
func (s *Service) SetOpeningHours(ctx context.Context, in OpeningHoursInput) (store.Practitioner, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.Practitioner{}, err
	}
	if !uid.Valid(in.LocationID) {
		return store.Practitioner{}, apperr.Invalid("locationId", "not a location of this practice")
	}
	if len(in.Rules) > MaxRulesPerLocation {
		return store.Practitioner{}, apperr.Invalid("rules", "at most %d rules per location", MaxRulesPerLocation)
	}
	rules := make([]store.OpeningHours, len(in.Rules))
	for i, r := range in.Rules {
		rules[i] = store.OpeningHours{LocationID: in.LocationID, Weekday: r.Weekday, StartMinute: r.StartMinute,
			EndMinute: r.EndMinute, StepMinutes: r.StepMinutes, AppointmentTypeIDs: dedupe(r.AppointmentTypeIDs)}
		if err := checkRule(fmt.Sprintf("rules[%d]", i), "appointmentTypeIds", rules[i]); err != nil {
			return store.Practitioner{}, err
		}
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		locs, err := tx.Locations(ctx, id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(locs, func(l store.Location) bool { return l.ID == in.LocationID }) {
			return apperr.Invalid("locationId", "not a location of this practice")
		}
		types, err := tx.AppointmentTypes(ctx, id)
		if err != nil {
			return err
		}
		owned := make(map[string]bool, len(types))
		for _, t := range types {
			owned[t.ID] = true
		}
		for i, r := range rules {
			for _, tid := range r.AppointmentTypeIDs {
				if !owned[tid] {
					return apperr.Invalid(fmt.Sprintf("rules[%d].appointmentTypeIds", i), "%q is not an appointment type of this practice", tid)
				}
			}
		}
		existing, err := tx.OpeningHours(ctx, p.Country, id)
		if err != nil {
			return err
		}
		others := slices.DeleteFunc(existing, func(h store.OpeningHours) bool { return h.LocationID == in.LocationID })
		if err := checkOverlaps("rules", rules, others, locationNames(locs)); err != nil {
			return err
		}
		for i := range rules {
			rules[i].ID, rules[i].PractitionerID, rules[i].Country = uid.New(), id, p.Country
		}
		if err := tx.ReplaceOpeningHours(ctx, p.Country, in.LocationID, rules); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, p.Country, id); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.OpeningHoursSet)
	})
	if err != nil {
		return store.Practitioner{}, err
	}
	return s.Get(ctx, id)
}

// checkRule validates one rule on its own; field is its path ("rules[2]"),
// typesField the name of its type list.
func checkRule(field, typesField string, r store.OpeningHours) error {
	switch {
	case r.Weekday < 1 || r.Weekday > 7:
		return apperr.Invalid(field+".weekday", "must be MONDAY to SUNDAY")
	case r.StartMinute < 0 || r.StartMinute >= minutesPerDay:
		return apperr.Invalid(field+".startTime", "must be between 00:00 and 23:55")
	case r.StartMinute%5 != 0:
		return apperr.Invalid(field+".startTime", "must be on a 5-minute boundary")
	case r.EndMinute > minutesPerDay:
		return apperr.Invalid(field+".endTime", "must be 24:00 at the latest")
	case r.EndMinute <= r.StartMinute:
		return apperr.Invalid(field+".endTime", "must be after startTime")
	case r.EndMinute%5 != 0:
		return apperr.Invalid(field+".endTime", "must be on a 5-minute boundary")
	case r.StepMinutes < MinStepMinutes || r.StepMinutes > MaxStepMinutes || r.StepMinutes%5 != 0:
		return apperr.Invalid(field+".stepMinutes", "must be a multiple of 5 between %d and %d", MinStepMinutes, MaxStepMinutes)
	case len(r.AppointmentTypeIDs) == 0:
		return apperr.Invalid(field+"."+typesField, "at least one appointment type is required")
	}
	return nil
}

// checkOverlaps refuses rules that overlap each other on a weekday, or overlap
// others (the rules of the practice's other locations).
func checkOverlaps(field string, rules, others []store.OpeningHours, names map[string]string) error {
	for i, r := range rules {
		for j := range i {
			if overlap(r, rules[j]) {
				return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i), "%s overlaps %s[%d] (%s)", describe(r), field, j, describe(rules[j]))
			}
		}
		for _, o := range others {
			if overlap(r, o) {
				return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i),
					"%s overlaps the opening hours of location %q (%s): a practitioner is in one place at a time",
					describe(r), names[o.LocationID], describe(o))
			}
		}
	}
	return nil
}

func overlap(a, b store.OpeningHours) bool {
	return a.Weekday == b.Weekday && a.StartMinute < b.EndMinute && b.StartMinute < a.EndMinute
}

func describe(r store.OpeningHours) string {
	return weekdays[r.Weekday] + " " + ClockTime(r.StartMinute) + "-" + ClockTime(r.EndMinute)
}

func locationNames(locs []store.Location) map[string]string {
	m := make(map[string]string, len(locs))
	for _, l := range locs {
		m[l.ID] = l.Name
	}
	return m
}

func dedupe(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// AbsenceInput is a span when the practitioner takes no appointments.
type AbsenceInput struct {
	PractitionerID   string
	StartsAt, EndsAt time.Time
	Reason           string
}

// AddAbsence records an absence of the practice.
func (s *Service) AddAbsence(ctx context.Context, in AbsenceInput) (store.Absence, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.Absence{}, err
	}
	a := store.Absence{ID: uid.New(), PractitionerID: id, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Reason: strings.TrimSpace(in.Reason)}
	switch {
	case a.StartsAt.IsZero():
		return store.Absence{}, apperr.Invalid("startsAt", "is required")
	case !a.EndsAt.After(a.StartsAt):
		return store.Absence{}, apperr.Invalid("endsAt", "must be after startsAt")
	case a.EndsAt.Sub(a.StartsAt) > MaxAbsenceDays*24*time.Hour:
		return store.Absence{}, apperr.Invalid("endsAt", "an absence lasts at most %d days", MaxAbsenceDays)
	case !a.EndsAt.After(s.now()):
		return store.Absence{}, apperr.Invalid("endsAt", "is in the past")
	case utf8.RuneCountInString(a.Reason) > MaxAbsenceReasonLength:
		return store.Absence{}, apperr.Invalid("reason", "is longer than %d characters", MaxAbsenceReasonLength)
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		a.Country = p.Country
		if err := tx.InsertAbsence(ctx, a); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, p.Country, id); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.AbsenceAdded)
	})
	if err != nil {
		return store.Absence{}, err
	}
	return a, nil
}

// RemoveAbsence deletes an absence. An absence of a practice the caller does
// not act for is as good as absent: NOT_FOUND.
func (s *Service) RemoveAbsence(ctx context.Context, absenceID string) error {
	caller, err := auth.RequireRole(ctx, auth.RolePractitioner, auth.RoleSecretary, auth.RoleAdmin)
	if err != nil {
		return err
	}
	missing := apperr.NotFoundf("absence %q not found", absenceID)
	if !uid.Valid(absenceID) {
		return missing
	}
	return s.store.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.Absence(ctx, absenceID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return missing
			}
			return err
		}
		if !auth.CanActForPractitioner(caller, a.PractitionerID) {
			return missing
		}
		if _, err := tx.LockPractitioner(ctx, a.PractitionerID); err != nil {
			return notFound(err, "practitioner")
		}
		if err := tx.DeleteAbsence(ctx, a.Country, a.ID); err != nil {
			return err
		}
		if _, err := tx.Touch(ctx, a.Country, a.PractitionerID); err != nil {
			return err
		}
		return s.emit(ctx, tx, a.PractitionerID, eventdata.AbsenceRemoved)
	})
}

// CanSeeAbsences tells whether the caller may read a practice's absences:
// only those who may act for it.
func (s *Service) CanSeeAbsences(ctx context.Context, practitionerID string) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return apperr.E(apperr.Unauthenticated, "authentication required to read absences")
	}
	if !auth.CanActForPractitioner(p, practitionerID) {
		return apperr.Forbiddenf("only the practice may read its absences")
	}
	return nil
}

// OpeningHoursByPractitioners reads the weekly rules of several practitioners.
func (s *Service) OpeningHoursByPractitioners(ctx context.Context, ids []string) ([]store.OpeningHours, error) {
	return s.store.OpeningHoursByPractitioners(ctx, uid.Filter(ids))
}

// AbsencesByPractitioners reads the absences that have not ended of several
// practitioners (all of them when past is set). It does not authorise: see
// CanSeeAbsences.
func (s *Service) AbsencesByPractitioners(ctx context.Context, ids []string, past bool) ([]store.Absence, error) {
	return s.store.AbsencesByPractitioners(ctx, uid.Filter(ids), past)
}

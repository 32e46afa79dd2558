package graph

import (
	"slices"

	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/graph/model"
)

func (r *Resolver) practitioner(p business.Practitioner) *model.Practitioner {
	m := &model.Practitioner{
		ID: p.ID, Country: p.Country, FirstName: p.FirstName, LastName: p.LastName,
		DisplayName: business.DisplayName(p), Languages: nonNil(p.Languages),
		AcceptsNewPatients: p.AcceptsNewPatients, Rating: p.Rating,
		Specialties: make([]model.Specialty, 0, len(p.Specialties)),
	}
	if np := p.NoShowPolicy; np != nil {
		m.OwnNoShowPolicy = &countries.NoShowPolicy{Limit: np.Limit, PeriodDays: np.PeriodDays, RestrictionDays: np.RestrictionDays}
	}
	if p.Bio != "" {
		bio := p.Bio
		m.Bio = &bio
	}
	for _, code := range p.Specialties {
		m.Specialties = append(m.Specialties, model.Specialty{Code: code, Label: r.Service.SpecialtyLabel(p.Country, code)})
	}
	return m
}

func location(l business.Location) model.Location {
	return model.Location{
		ID: l.ID, PractitionerID: l.PractitionerID, Name: l.Name, City: l.City, TimeZone: l.TimeZone,
		Address:     &model.Address{Line1: l.Line1, PostalCode: l.PostalCode, City: l.City, Country: l.AddressCountry},
		Coordinates: &model.Coordinates{Lat: l.Lat, Lon: l.Lon},
	}
}

func appointmentType(a business.AppointmentType) model.AppointmentType {
	return model.AppointmentType{
		ID: a.ID, PractitionerID: a.PractitionerID, Name: a.Name, DurationMinutes: a.DurationMinutes,
		VisitMode: model.VisitMode(a.VisitMode), NewPatientsAllowed: a.NewPatientsAllowed, OnlineBookable: a.OnlineBookable,
		BufferBeforeMinutes: a.BufferBeforeMinutes, BufferAfterMinutes: a.BufferAfterMinutes,
		MinNoticeMinutes: a.MinNoticeMinutes, BookingHorizonDays: a.BookingHorizonDays,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// weekdayOrder lists the enum by ISO number - 1.
var weekdayOrder = []model.Weekday{model.WeekdayMonday, model.WeekdayTuesday, model.WeekdayWednesday,
	model.WeekdayThursday, model.WeekdayFriday, model.WeekdaySaturday, model.WeekdaySunday}

// isoWeekday maps the enum to ISO 8601 (1 = Monday … 7 = Sunday; 0 if unknown).
func isoWeekday(w model.Weekday) int {
	return slices.Index(weekdayOrder, w) + 1
}

func openingHoursRule(h business.OpeningHours) model.OpeningHoursRule {
	m := model.OpeningHoursRule{
		ID: h.ID, PractitionerID: h.PractitionerID, LocationID: h.LocationID,
		StartTime: gqlscalar.LocalTime{Minutes: h.StartMinute}, EndTime: gqlscalar.LocalTime{Minutes: h.EndMinute},
		StepMinutes: h.StepMinutes, AppointmentTypeIDs: h.AppointmentTypeIDs,
	}
	if h.Weekday >= 1 && h.Weekday <= 7 {
		m.Weekday = weekdayOrder[h.Weekday-1]
	}
	return m
}

func absence(a business.Absence) model.Absence {
	m := model.Absence{ID: a.ID, StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC()}
	if a.Reason != "" {
		reason := a.Reason
		m.Reason = &reason
	}
	return m
}

func locationInput(in model.AddLocationInput) business.LocationInput {
	l := business.LocationInput{PractitionerID: gqlscalar.Deref(in.PractitionerID), Name: in.Name, TimeZone: in.TimeZone}
	if a := in.Address; a != nil {
		l.Line1, l.PostalCode, l.City, l.Country = a.Line1, a.PostalCode, a.City, a.Country
	}
	if c := in.Coordinates; c != nil {
		l.Lat, l.Lon = c.Lat, c.Lon
	}
	return l
}

func importRow(in model.ImportPractitionerInput) business.ImportRow {
	r := business.ImportRow{
		ExternalID: in.ExternalID, Country: in.Country, FirstName: in.FirstName, LastName: in.LastName,
		Specialties: in.Specialties, Languages: in.Languages, RegistrationNumber: in.RegistrationNumber,
		Bio: in.Bio, AcceptsNewPatients: in.AcceptsNewPatients,
		Locations: make([]business.LocationInput, len(in.Locations)),
	}
	for i, l := range in.Locations {
		r.Locations[i] = locationInput(l)
		r.Locations[i].PractitionerID = ""
	}
	for _, t := range in.AppointmentTypes {
		r.AppointmentTypes = append(r.AppointmentTypes, business.ImportTypeInput{Key: t.Key, AppointmentTypeInput: business.AppointmentTypeInput{
			Name: t.Name, DurationMinutes: t.DurationMinutes, VisitMode: string(t.VisitMode),
			NewPatientsAllowed: t.NewPatientsAllowed, OnlineBookable: t.OnlineBookable,
			BufferBeforeMinutes: t.BufferBeforeMinutes, BufferAfterMinutes: t.BufferAfterMinutes,
			MinNoticeMinutes: t.MinNoticeMinutes, BookingHorizonDays: t.BookingHorizonDays,
		}})
	}
	for _, h := range in.OpeningHours {
		r.OpeningHours = append(r.OpeningHours, business.ImportHoursInput{LocationIndex: h.LocationIndex,
			AppointmentTypeKeys: h.AppointmentTypeKeys, RuleInput: business.RuleInput{Weekday: isoWeekday(h.Weekday),
				StartMinute: h.StartTime.Minutes, EndMinute: h.EndTime.Minutes, StepMinutes: h.StepMinutes}})
	}
	return r
}

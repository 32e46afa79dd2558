package graph

import (
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/graph/model"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

func (r *Resolver) practitioner(p store.Practitioner) *model.Practitioner {
	m := &model.Practitioner{
		ID: p.ID, Country: p.Country, FirstName: p.FirstName, LastName: p.LastName,
		DisplayName: business.DisplayName(p), Languages: nonNil(p.Languages),
		AcceptsNewPatients: p.AcceptsNewPatients, Rating: p.Rating,
		Specialties: make([]model.Specialty, 0, len(p.Specialties)),
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

func location(l store.Location) model.Location {
	return model.Location{
		ID: l.ID, PractitionerID: l.PractitionerID, Name: l.Name, TimeZone: l.TimeZone,
		Address:     &model.Address{Line1: l.Line1, PostalCode: l.PostalCode, City: l.City, Country: l.AddressCountry},
		Coordinates: &model.Coordinates{Lat: l.Lat, Lon: l.Lon},
	}
}

func appointmentType(a store.AppointmentType) model.AppointmentType {
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

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

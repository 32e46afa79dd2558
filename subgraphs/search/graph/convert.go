package graph

import (
	"github.com/careslot/careslot/subgraphs/search/business"
	"github.com/careslot/careslot/subgraphs/search/graph/model"
)

// practitioner and location map an index document to the models.

func practitioner(d business.Document) *model.Practitioner {
	p := &model.Practitioner{
		ID: d.PractitionerID, DisplayName: d.DisplayName, Languages: d.Languages,
		AcceptsNewPatients: d.AcceptsNewPatients, Rating: d.Rating,
		Specialties: make([]model.Specialty, len(d.Specialties)),
	}
	if p.Languages == nil {
		p.Languages = []string{}
	}
	for i, code := range d.Specialties {
		label := code
		if i < len(d.SpecialtyLabels) {
			label = d.SpecialtyLabels[i]
		}
		p.Specialties[i] = model.Specialty{Code: code, Label: label}
	}
	return p
}

func location(d business.Document) *model.Location {
	return &model.Location{ID: d.ID, Name: d.LocationName, City: d.City,
		Coordinates: &model.Coordinates{Lat: d.Lat, Lon: d.Lon}}
}

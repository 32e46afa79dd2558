// Package model holds the search subgraph's GraphQL types: these hand-written
// ones are the entities; the rest are generated into models_gen.go.
package model

// Practitioner is the part of a practitioner profile the search index holds.
type Practitioner struct {
	ID                 string      `json:"id"`
	DisplayName        string      `json:"displayName"`
	Specialties        []Specialty `json:"specialties"`
	Languages          []string    `json:"languages"`
	AcceptsNewPatients bool        `json:"acceptsNewPatients"`
	Rating             *float64    `json:"rating,omitempty"`
}

// Location is the part of a location the search index holds.
type Location struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	City        string       `json:"city"`
	Coordinates *Coordinates `json:"coordinates"`
}

// IsEntity marks the federation entities.
func (Practitioner) IsEntity() {}
func (Location) IsEntity()     {}

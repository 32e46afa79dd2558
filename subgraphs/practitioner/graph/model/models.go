// Package model holds the practitioner subgraph's GraphQL types: these
// hand-written ones carry the keys their field resolvers load by; the rest are
// generated into models_gen.go.
package model

import (
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlscalar"
)

// Practitioner is a practitioner profile; locations and appointment types are
// resolved (and batched) separately.
type Practitioner struct {
	ID                 string      `json:"id"`
	Country            string      `json:"country"`
	FirstName          string      `json:"firstName"`
	LastName           string      `json:"lastName"`
	DisplayName        string      `json:"displayName"`
	Bio                *string     `json:"bio,omitempty"`
	Languages          []string    `json:"languages"`
	AcceptsNewPatients bool        `json:"acceptsNewPatients"`
	Rating             *float64    `json:"rating,omitempty"`
	Specialties        []Specialty `json:"specialties"`
	// OwnNoShowPolicy is the practice's own no-show policy (nil: its
	// country's), for the noShowPolicy resolver.
	OwnNoShowPolicy *countries.NoShowPolicy `json:"-"`
}

// Location is a place of practice.
type Location struct {
	ID             string       `json:"id"`
	PractitionerID string       `json:"-"`
	Name           string       `json:"name"`
	City           string       `json:"city"`
	TimeZone       string       `json:"timeZone"`
	Address        *Address     `json:"address"`
	Coordinates    *Coordinates `json:"coordinates"`
}

// AppointmentType is a motive and its booking rules.
type AppointmentType struct {
	ID                  string    `json:"id"`
	PractitionerID      string    `json:"-"`
	Name                string    `json:"name"`
	DurationMinutes     int       `json:"durationMinutes"`
	VisitMode           VisitMode `json:"visitMode"`
	NewPatientsAllowed  bool      `json:"newPatientsAllowed"`
	OnlineBookable      bool      `json:"onlineBookable"`
	BufferBeforeMinutes int       `json:"bufferBeforeMinutes"`
	BufferAfterMinutes  int       `json:"bufferAfterMinutes"`
	MinNoticeMinutes    int       `json:"minNoticeMinutes"`
	BookingHorizonDays  int       `json:"bookingHorizonDays"`
}

// OpeningHoursRule is a weekly rule; its location and types are resolved
// from the practice's (batched) locations and types.
type OpeningHoursRule struct {
	ID                 string              `json:"id"`
	PractitionerID     string              `json:"-"`
	LocationID         string              `json:"-"`
	Weekday            Weekday             `json:"weekday"`
	StartTime          gqlscalar.LocalTime `json:"startTime"`
	EndTime            gqlscalar.LocalTime `json:"endTime"`
	StepMinutes        int                 `json:"stepMinutes"`
	AppointmentTypeIDs []string            `json:"-"`
}

// IsEntity marks the federation entities.
func (Practitioner) IsEntity()    {}
func (Location) IsEntity()        {}
func (AppointmentType) IsEntity() {}

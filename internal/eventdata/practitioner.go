// Package eventdata defines the JSON payloads (CloudEvents "data") that
// services publish. It is the event contract between services, so a consumer
// decodes a producer's events without importing the producer's packages.
package eventdata

import "time"

// PractitionerEventPrefix begins the type of every event of the practitioner
// service.
const PractitionerEventPrefix = "careslot.practitioner."

// Practitioner event types (topic practitioner-events, keyed by practitioner
// id; data: Practitioner, the whole practice after the change).
const (
	PractitionerRegistered     = "careslot.practitioner.PractitionerRegistered.v1"
	PractitionerProfileUpdated = "careslot.practitioner.PractitionerProfileUpdated.v1"
	LocationAdded              = "careslot.practitioner.LocationAdded.v1"
	AppointmentTypeSaved       = "careslot.practitioner.AppointmentTypeSaved.v1"
	OpeningHoursSet            = "careslot.practitioner.OpeningHoursSet.v1"
	AbsenceAdded               = "careslot.practitioner.AbsenceAdded.v1"
	AbsenceRemoved             = "careslot.practitioner.AbsenceRemoved.v1"
	PractitionerImported       = "careslot.practitioner.PractitionerImported.v1"
	NoShowPolicySet            = "careslot.practitioner.NoShowPolicySet.v1"
)

// Practitioner is the data of every practitioner event: the whole practice at a
// version. It is the public event contract other services decode, so its JSON
// names are stable.
type Practitioner struct {
	ID                 string            `json:"id"`
	Version            int64             `json:"version"`
	Country            string            `json:"country"`
	FirstName          string            `json:"firstName"`
	LastName           string            `json:"lastName"`
	DisplayName        string            `json:"displayName"`
	Specialties        []string          `json:"specialties"`
	Languages          []string          `json:"languages"`
	AcceptsNewPatients bool              `json:"acceptsNewPatients"`
	Rating             *float64          `json:"rating,omitempty"`
	Locations          []Location        `json:"locations"`
	AppointmentTypes   []AppointmentType `json:"appointmentTypes"`
	OpeningHours       []OpeningHours    `json:"openingHours"`
	// Absences lists the absences that have not ended yet.
	Absences []Absence `json:"absences"`
	// NoShowPolicy is the practice's own policy against repeat no-shows;
	// absent, its country's (the countries catalogue) applies.
	NoShowPolicy *NoShowPolicy `json:"noShowPolicy,omitempty"`
}

// NoShowPolicy: after Limit no-shows with the practice in PeriodDays, a
// patient account may not book it online for RestrictionDays (Limit 0: never).
type NoShowPolicy struct {
	Limit           int `json:"limit"`
	PeriodDays      int `json:"periodDays"`
	RestrictionDays int `json:"restrictionDays"`
}

// OpeningHours is a weekly rule: wall-clock times in the location's zone.
type OpeningHours struct {
	ID                 string   `json:"id"`
	LocationID         string   `json:"locationId"`
	Weekday            int      `json:"weekday"`   // ISO 8601: 1 = Monday … 7 = Sunday
	StartTime          string   `json:"startTime"` // HH:MM
	EndTime            string   `json:"endTime"`   // HH:MM, 24:00 allowed
	StepMinutes        int      `json:"stepMinutes"`
	AppointmentTypeIDs []string `json:"appointmentTypeIds"`
}

// Absence is a span when the practitioner takes no appointments.
type Absence struct {
	ID       string    `json:"id"`
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	Reason   string    `json:"reason,omitempty"`
}

// Location is a location in an event.
type Location struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Line1      string  `json:"line1"`
	PostalCode string  `json:"postalCode"`
	City       string  `json:"city"`
	Country    string  `json:"country"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	TimeZone   string  `json:"timeZone"`
}

// AppointmentType is an appointment type in an event.
type AppointmentType struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	DurationMinutes     int    `json:"durationMinutes"`
	VisitMode           string `json:"visitMode"`
	NewPatientsAllowed  bool   `json:"newPatientsAllowed"`
	OnlineBookable      bool   `json:"onlineBookable"`
	BufferBeforeMinutes int    `json:"bufferBeforeMinutes"`
	BufferAfterMinutes  int    `json:"bufferAfterMinutes"`
	MinNoticeMinutes    int    `json:"minNoticeMinutes"`
	BookingHorizonDays  int    `json:"bookingHorizonDays"`
}

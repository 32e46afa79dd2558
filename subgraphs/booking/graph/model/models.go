// Package model holds the booking subgraph's GraphQL types: these hand-written
// ones are the entities (and the stubs of entities owned elsewhere, which
// carry only their keys) and the enums; inputs and payloads are generated
// into models_gen.go.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Appointment is a booked appointment; the entities it points to are stubs
// the router completes from their owning subgraphs.
type Appointment struct {
	ID                 string             `json:"id"`
	Status             AppointmentStatus  `json:"status"`
	StartsAt           time.Time          `json:"startsAt"`
	EndsAt             time.Time          `json:"endsAt"`
	Practitioner       *Practitioner      `json:"practitioner"`
	Location           *Location          `json:"location"`
	AppointmentType    *AppointmentType   `json:"appointmentType"`
	Relative           *Relative          `json:"relative,omitempty"`
	PatientName        *string            `json:"patientName,omitempty"`
	PatientPhone       *string            `json:"patientPhone,omitempty"`
	Note               *string            `json:"note,omitempty"`
	CancelledAt        *time.Time         `json:"cancelledAt,omitempty"`
	CancelledBy        *CancelledBy       `json:"cancelledBy,omitempty"`
	CancellationReason *string            `json:"cancellationReason,omitempty"`
	CreatedAt          time.Time          `json:"createdAt"`
	DeskPatient        *DeskPatient       `json:"deskPatient,omitempty"`
	Series             *AppointmentSeries `json:"series,omitempty"`
}

// AppointmentSeries places an appointment in its treatment series.
type AppointmentSeries struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
	Count int    `json:"count"`
}

// Practitioner is the practitioner entity as booking sees it: its key, and
// the agenda booking adds.
type Practitioner struct {
	ID string `json:"id"`
}

// Patient is the patient entity as booking sees it: its key, and the
// appointments booking adds.
type Patient struct {
	ID string `json:"id"`
}

// Location is a reference to a location (owned by practitioner).
type Location struct {
	ID string `json:"id"`
}

// AppointmentType is a reference to an appointment type (owned by practitioner).
type AppointmentType struct {
	ID string `json:"id"`
}

// Relative is a reference to a patient's relative (owned by patient).
type Relative struct {
	ID string `json:"id"`
}

// DeskPatient is a reference to a practice's desk patient (owned by patient).
type DeskPatient struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entities.
func (Appointment) IsEntity()     {}
func (Practitioner) IsEntity()    {}
func (Patient) IsEntity()         {}
func (Location) IsEntity()        {}
func (AppointmentType) IsEntity() {}
func (Relative) IsEntity()        {}
func (DeskPatient) IsEntity()     {}

// AppointmentStatus is an appointment's state.
type AppointmentStatus string

const (
	AppointmentStatusConfirmed AppointmentStatus = "CONFIRMED"
	AppointmentStatusCancelled AppointmentStatus = "CANCELLED"
	AppointmentStatusNoShow    AppointmentStatus = "NO_SHOW"
)

// IsValid reports a known status.
func (e AppointmentStatus) IsValid() bool {
	switch e {
	case AppointmentStatusConfirmed, AppointmentStatusCancelled, AppointmentStatusNoShow:
		return true
	}
	return false
}

func (e AppointmentStatus) String() string { return string(e) }

// UnmarshalGQL reads the enum.
func (e *AppointmentStatus) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*e = AppointmentStatus(s)
	if !e.IsValid() {
		return fmt.Errorf("%s is not a valid AppointmentStatus", s)
	}
	return nil
}

// MarshalGQL writes the enum.
func (e AppointmentStatus) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(e.String()))
}

// CancelledBy says which side cancelled.
type CancelledBy string

const (
	CancelledByPatient      CancelledBy = "PATIENT"
	CancelledByPractitioner CancelledBy = "PRACTITIONER"
)

// IsValid reports a known side.
func (e CancelledBy) IsValid() bool { return e == CancelledByPatient || e == CancelledByPractitioner }

func (e CancelledBy) String() string { return string(e) }

// UnmarshalGQL reads the enum.
func (e *CancelledBy) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*e = CancelledBy(s)
	if !e.IsValid() {
		return fmt.Errorf("%s is not a valid CancelledBy", s)
	}
	return nil
}

// MarshalGQL writes the enum.
func (e CancelledBy) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(e.String())) }

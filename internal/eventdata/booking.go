package eventdata

import "time"

// Booking event types (topic booking-events, keyed by practitioner id).
const (
	HoldPlaced             = "careslot.booking.HoldPlaced.v1"
	HoldReleased           = "careslot.booking.HoldReleased.v1" // expired, or turned into a booking
	AppointmentBooked      = "careslot.booking.AppointmentBooked.v1"
	AppointmentRescheduled = "careslot.booking.AppointmentRescheduled.v1"
	AppointmentCancelled   = "careslot.booking.AppointmentCancelled.v1"
	AppointmentNoShow      = "careslot.booking.AppointmentNoShow.v1"
	// AppointmentAnonymised: the patient who booked it erased their account;
	// the row is kept for the practice's records under new ids (data: the
	// row after, with ErasedPersonID the person it no longer names).
	AppointmentAnonymised = "careslot.booking.AppointmentAnonymised.v1"
	// SeriesBooked: a treatment series was booked, all its sessions at once
	// (data: Series); each session also has its own AppointmentBooked, with
	// SeriesID set.
	SeriesBooked = "careslot.booking.SeriesBooked.v1"
	// SlotOffered: a freed slot is held for a waiting patient (an
	// earlier-slot offer). Data: the offer's hold (status HELD, so it
	// occupies its range like HoldPlaced's; its id is the offer's,
	// HoldExpiresAt the deadline to accept), with Previous the patient's
	// current appointment that accepting moves, if any.
	SlotOffered = "careslot.booking.SlotOffered.v1"
)

// ReasonPatientErased is the cancellation reason of the future appointments
// of a patient who erased their account.
const ReasonPatientErased = "PATIENT_ERASED"

// Appointment statuses. HELD and CONFIRMED occupy their blocked range.
const (
	StatusHeld      = "HELD"
	StatusConfirmed = "CONFIRMED"
	StatusCancelled = "CANCELLED"
	StatusNoShow    = "NO_SHOW"
	StatusExpired   = "EXPIRED"
)

// Appointment is the data of every booking event: the appointment (or hold)
// as it is after the change, with the range it blocks in the agenda.
type Appointment struct {
	ID                string     `json:"id"`
	Version           int64      `json:"version"`
	PractitionerID    string     `json:"practitionerId"`
	Country           string     `json:"country"`
	PatientID         string     `json:"patientId"`
	RelativeID        string     `json:"relativeId,omitempty"`
	AppointmentTypeID string     `json:"appointmentTypeId"`
	LocationID        string     `json:"locationId"`
	Status            string     `json:"status"`
	StartsAt          time.Time  `json:"startsAt"`
	EndsAt            time.Time  `json:"endsAt"`
	BlockedFrom       time.Time  `json:"blockedFrom"`  // StartsAt minus the type's buffer before
	BlockedUntil      time.Time  `json:"blockedUntil"` // EndsAt plus the type's buffer after
	HoldExpiresAt     *time.Time `json:"holdExpiresAt,omitempty"`
	// Previous is the slot an appointment was moved from (AppointmentRescheduled).
	Previous           *Slot  `json:"previous,omitempty"`
	CancelledBy        string `json:"cancelledBy,omitempty"` // PATIENT or PRACTITIONER
	CancellationReason string `json:"cancellationReason,omitempty"`
	// ErasedPersonID is, in AppointmentAnonymised, who attended before.
	ErasedPersonID string `json:"erasedPersonId,omitempty"`
	// DeskPatient: PatientID is a practice's desk patient (DeskPatient, no
	// account), told by whatever contact the practice recorded.
	DeskPatient bool `json:"deskPatient,omitempty"`
	// SeriesID and SeriesIndex (1 to its count) place a session of a
	// treatment series; empty for an appointment booked alone.
	SeriesID    string `json:"seriesId,omitempty"`
	SeriesIndex int    `json:"seriesIndex,omitempty"`
}

// Series is the data of SeriesBooked: a treatment series and every session
// as its AppointmentBooked describes it, in order.
type Series struct {
	ID                string        `json:"id"`
	PractitionerID    string        `json:"practitionerId"`
	Country           string        `json:"country"`
	PatientID         string        `json:"patientId"`
	RelativeID        string        `json:"relativeId,omitempty"`
	AppointmentTypeID string        `json:"appointmentTypeId"`
	EveryDays         int           `json:"everyDays"`
	Count             int           `json:"count"`
	Sessions          []Appointment `json:"sessions"`
}

// Slot is a span an appointment occupied.
type Slot struct {
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	BlockedFrom  time.Time `json:"blockedFrom"`
	BlockedUntil time.Time `json:"blockedUntil"`
}

// Occupies reports whether the appointment blocks its range in the agenda.
func (a Appointment) Occupies() bool {
	return a.Status == StatusConfirmed || a.Status == StatusHeld
}

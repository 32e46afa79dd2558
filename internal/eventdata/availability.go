package eventdata

import "time"

// AvailabilityChanged is published on availability-events (keyed by
// practitioner id) when a practitioner's open slots change.
const AvailabilityChanged = "careslot.availability.AvailabilityChanged.v1"

// Availability is the data of AvailabilityChanged.
type Availability struct {
	PractitionerID string `json:"practitionerId"`
	Country        string `json:"country"`
	// NextAvailableSlot is the soonest open start of any online-bookable type, if any.
	NextAvailableSlot *time.Time `json:"nextAvailableSlot,omitempty"`
	// ChangedDates are the local dates (YYYY-MM-DD) whose slots changed.
	ChangedDates []string `json:"changedDates,omitempty"`
}

// Package model holds the availability subgraph's GraphQL types: these
// hand-written ones are the entities and what they embed; the rest are
// generated into models_gen.go.
package model

import "time"

// Practitioner is the availability side of a practitioner: only its key;
// availableSlots and nextAvailableSlot are resolved (and batched) separately.
type Practitioner struct {
	ID string `json:"id"`
}

// Slot is a bookable start.
type Slot struct {
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	Location *Location `json:"location"`
}

// Location is a reference to a practitioner's location.
type Location struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entities.
func (Practitioner) IsEntity() {}
func (Location) IsEntity()     {}

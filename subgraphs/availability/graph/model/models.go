// Package model holds the availability subgraph's GraphQL types: these
// hand-written ones are the entities and what they embed; the rest are
// generated into models_gen.go.
package model

import (
	"context"
	"errors"
	"time"

	"github.com/careslot/careslot/internal/gqlscalar"
)

// Practitioner is the availability side of a practitioner: its key, and how
// to list its slots. nextAvailableSlot is resolved (and batched) separately.
type Practitioner struct {
	ID     string `json:"id"`
	lister SlotLister
}

// SlotLister lists a practitioner's open slots: the subgraph's batched loaders.
type SlotLister func(ctx context.Context, pid, appointmentTypeID string, from, to gqlscalar.Date) (Slots, error)

// NewPractitioner is the entity the subgraph resolves, listing its slots with lister.
func NewPractitioner(id string, lister SlotLister) *Practitioner {
	return &Practitioner{ID: id, lister: lister}
}

// AvailableSlots is bound by gqlgen to availableSlots in place of a resolver,
// because a method's result type is the one gqlgen marshals: Slots, in one
// pass. A resolver's would be []Slot, which gqlgen marshals with a goroutine,
// a context and a field context per slot (over a thousand for four weeks of
// a busy practitioner: bench/profiles/slots-3-one-pass-list.txt).
func (p *Practitioner) AvailableSlots(ctx context.Context, appointmentTypeID string, from, to gqlscalar.Date) (Slots, error) {
	if p.lister == nil {
		return nil, errors.New("practitioner resolved without a slot lister")
	}
	return p.lister(ctx, p.ID, appointmentTypeID, from, to)
}

// SlotsUpdate is the open slots of a practitioner's appointment type over a
// subscription's range.
type SlotsUpdate struct {
	PractitionerID string `json:"practitionerId"`
	Slots          Slots  `json:"slots"`
}

// Slot is a bookable start. Listings (Slots, slot.go) write its fields
// themselves, so its location is held as the reference's id, with nothing to
// allocate per slot.
type Slot struct {
	StartsAt   time.Time
	EndsAt     time.Time
	LocationID string
}

// Location is the slot's location reference. Slots writes it itself; this
// binds Slot.location for gqlgen's object code.
func (s Slot) Location() *Location { return &Location{ID: s.LocationID} }

// Location is a reference to a practitioner's location.
type Location struct {
	ID string `json:"id"`
}

// IsEntity marks the federation entities.
func (Practitioner) IsEntity() {}
func (Location) IsEntity()     {}

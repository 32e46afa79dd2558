package graph

import (
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/graph/model"
)

// slotsUpdate maps a practitioner's open slots to the model.
func slotsUpdate(pid string, open []slots.Slot) *model.SlotsUpdate {
	out := make([]model.Slot, len(open))
	for i, s := range open {
		out[i] = model.Slot{StartsAt: s.Start, EndsAt: s.End, Location: &model.Location{ID: s.LocationID}}
	}
	return &model.SlotsUpdate{PractitionerID: pid, Slots: out}
}

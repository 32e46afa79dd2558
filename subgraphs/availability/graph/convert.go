package graph

import (
	"context"

	"github.com/careslot/careslot/internal/gqlscalar"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/business"
	"github.com/careslot/careslot/subgraphs/availability/graph/model"
)

// listSlots lists a practitioner's open slots through the request's loaders
// (model.Practitioner.AvailableSlots calls it).
func (r *Resolver) listSlots(ctx context.Context, pid, appointmentTypeID string, from, to gqlscalar.Date) (model.Slots, error) {
	q := business.SlotsQuery{PractitionerID: pid, TypeID: appointmentTypeID, From: from.String(), To: to.String(),
		Person: business.Caller(ctx)}
	if err := business.ValidateRange(q.From, q.To); err != nil {
		return nil, err
	}
	open, err := r.loaders(ctx).slots.Load(ctx, q)
	if err != nil {
		return nil, err
	}
	return modelSlots(open), nil
}

func modelSlots(open []slots.Slot) model.Slots {
	out := make(model.Slots, len(open))
	for i, s := range open {
		out[i] = model.Slot{StartsAt: s.Start, EndsAt: s.End, LocationID: s.LocationID}
	}
	return out
}

// slotsUpdate maps a practitioner's open slots to the model.
func slotsUpdate(pid string, open []slots.Slot) *model.SlotsUpdate {
	return &model.SlotsUpdate{PractitionerID: pid, Slots: modelSlots(open)}
}

package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// ExportNextSlots streams every practitioner's next available slot in the
// shape of AvailabilityChanged, so the search index can warm up with what
// the availability events would have told it.
func (s *Service) ExportNextSlots(ctx context.Context, fn func([]eventdata.Availability) error) error {
	return s.st.ScanNextSlots(ctx, 1000, func(batch []store.NextSlot) error {
		out := make([]eventdata.Availability, len(batch))
		for i, n := range batch {
			at := n.At
			out[i] = eventdata.Availability{PractitionerID: n.PractitionerID, Country: n.Country, NextAvailableSlot: &at}
		}
		return fn(out)
	})
}

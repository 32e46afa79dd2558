package business

import (
	"context"
	"errors"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/redisconn"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

// ExportNextSlots streams every practitioner's next available slot in the
// shape of AvailabilityChanged, so the search index can warm up with what
// the availability events would have told it. It is an export.Pages: it
// starts after a cursor ("" from the start) and gives each page the cursor
// that continues after it.
func (s *Service) ExportNextSlots(ctx context.Context, after string, page func([]eventdata.Availability, string) error) error {
	err := s.st.ScanNextSlots(ctx, 1000, after, func(batch []store.NextSlot, cursor string) error {
		out := make([]eventdata.Availability, len(batch))
		for i, n := range batch {
			at := n.At
			out[i] = eventdata.Availability{PractitionerID: n.PractitionerID, Country: n.Country, NextAvailableSlot: &at}
		}
		return page(out, cursor)
	})
	if errors.Is(err, redisconn.ErrBadCursor) {
		return apperr.E(apperr.InvalidInput, "malformed export cursor")
	}
	return err
}

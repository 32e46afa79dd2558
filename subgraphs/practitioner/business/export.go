package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
)

// DefaultExportBatch is the page size of ExportSnapshots when batch ≤ 0.
const DefaultExportBatch = 500

// ExportSnapshots streams the current snapshot of every practitioner, the
// same data their events carry, in pages of batch, to fn, for rebuilding read
// models (availability, search). Pages follow the (country, id) key, each read
// in one consistent transaction, so the cost per page stays flat however many
// practitioners there are. It stops at fn's first error and returns it.
func (s *Service) ExportSnapshots(ctx context.Context, batch int, fn func([]eventdata.Practitioner) error) error {
	if batch <= 0 {
		batch = DefaultExportBatch
	}
	var country, id string
	for {
		page, err := s.store.ExportPage(ctx, country, id, batch)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		out := make([]eventdata.Practitioner, len(page))
		for i, a := range page {
			out[i] = SnapshotOf(a)
		}
		if err := fn(out); err != nil {
			return err
		}
		if len(page) < batch {
			return nil
		}
		last := page[len(page)-1].Practitioner
		country, id = last.Country, last.ID
	}
}

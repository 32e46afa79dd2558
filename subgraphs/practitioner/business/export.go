package business

import (
	"context"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
)

// DefaultExportBatch is the page size of ExportSnapshots when batch ≤ 0.
const DefaultExportBatch = 500

// ExportSnapshots streams the current snapshot of every practitioner, the
// same data their events carry, in pages of batch, to fn, for rebuilding read
// models (availability, search). Pages follow the (country, id) key, each read
// in one consistent transaction, so the cost per page stays flat however many
// practitioners there are. It stops at fn's first error and returns it.
func (s *Service) ExportSnapshots(ctx context.Context, batch int, fn func([]eventdata.Practitioner) error) error {
	return s.exportFrom(ctx, "", "", batch, func(page []eventdata.Practitioner, _ string) error { return fn(page) })
}

// ExportPractices is ExportSnapshots resumable after a cursor (an
// export.Pages): each page comes with the cursor that continues after it.
func (s *Service) ExportPractices(ctx context.Context, after string, page func([]eventdata.Practitioner, string) error) error {
	country, id, err := export.ParseKeyCursor(after)
	if err != nil {
		return err
	}
	return s.exportFrom(ctx, country, id, DefaultExportBatch, page)
}

func (s *Service) exportFrom(ctx context.Context, country, id string, batch int, fn func([]eventdata.Practitioner, string) error) error {
	if batch <= 0 {
		batch = DefaultExportBatch
	}
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
		last := page[len(page)-1].Practitioner
		country, id = last.Country, last.ID
		if err := fn(out, export.KeyCursor(country, id)); err != nil {
			return err
		}
		if len(page) < batch {
			return nil
		}
	}
}

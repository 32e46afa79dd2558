package business

import (
	"context"
	"errors"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
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

// Snapshot is one practice's current snapshot, the data its events carry
// (with its version), for a service whose replica of it may lag (booking
// reads it when its replica refused a request). NOT_FOUND when there is no
// such practice.
func (s *Service) Snapshot(ctx context.Context, id string) (eventdata.Practitioner, error) {
	if !uid.Valid(id) {
		return eventdata.Practitioner{}, apperr.NotFoundf("practitioner %q not found", id)
	}
	agg, err := s.store.Aggregate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return eventdata.Practitioner{}, apperr.NotFoundf("practitioner %q not found", id)
	}
	if err != nil {
		return eventdata.Practitioner{}, err
	}
	return SnapshotOf(agg), nil
}

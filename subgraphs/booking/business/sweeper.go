package business

import (
	"context"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// sweepBatch is how many due holds one sweeper transaction expires.
const sweepBatch = 500

// KeyRetention is how long idempotency keys are kept.
const KeyRetention = 7 * 24 * time.Hour

// ExpireDueHolds marks every hold that is due as EXPIRED and emits
// HoldReleased for each in the same transaction, so that availability frees
// the slot — unless it was an earlier-slot offer that passes to the next
// waiting patient (offer.go); it returns how many it expired. Several sweepers may run at once
// (rows locked by one are skipped by the others).
func (s *Service) ExpireDueHolds(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := s.store.InTx(ctx, func(tx *store.Tx) error {
			now := s.now()
			expired, err := tx.ExpireDueHolds(ctx, now, sweepBatch)
			if err != nil {
				return err
			}
			n = len(expired)
			if n == 0 {
				return nil
			}
			ids := make([]string, n)
			for i, h := range expired {
				ids[i] = h.ID
			}
			offers, err := tx.OffersAmong(ctx, ids, now)
			if err != nil {
				return err
			}
			for _, h := range expired {
				// An expired offer passes to the next waiting patient, its
				// offer written before the HoldReleased: no slot is held
				// forever, and none reads as open while offered.
				if offers[h.ID] {
					if err := s.offerFreed(ctx, tx, h, now); err != nil {
						return err
					}
				}
				if err := s.emit(ctx, tx, eventdata.HoldReleased, h, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < sweepBatch {
			return total, nil
		}
	}
}

// RunSweeper expires due holds every interval (and prunes old idempotency
// keys and booking counts hourly) until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var pruned time.Time
	for {
		if n, err := s.ExpireDueHolds(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "hold sweeper", "err", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "holds expired", "count", n)
		}
		if now := s.now(); now.Sub(pruned) > time.Hour {
			_, err := s.store.PruneKeys(ctx, now.Add(-KeyRetention))
			if err == nil {
				// Two days back: every country's "today" is after that.
				_, err = s.store.PruneBookingCounts(ctx, now.Add(-48*time.Hour))
			}
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "prune idempotency keys and booking counts", "err", err)
			} else {
				pruned = now
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ExportOccupied streams, in batches, every appointment that occupies its
// range now (confirmed, or a live hold) and whose blocked range ends in the
// future, in the booking event contract: what `careslot rebuild
// availability` rebuilds the read model from.
func (s *Service) ExportOccupied(ctx context.Context, fn func([]eventdata.Appointment) error) error {
	return s.ExportOccupiedAfter(ctx, "", func(page []eventdata.Appointment, _ string) error { return fn(page) })
}

// ExportOccupiedAfter is ExportOccupied resumable after a cursor (an
// export.Pages): pages follow the (country, id) key, each with the cursor
// that continues after it.
func (s *Service) ExportOccupiedAfter(ctx context.Context, after string, page func([]eventdata.Appointment, string) error) error {
	country, id, err := export.ParseKeyCursor(after)
	if err != nil {
		return err
	}
	return s.store.EachOccupied(ctx, s.now(), country, id, 1000, func(rows []store.Appointment) error {
		out := make([]eventdata.Appointment, len(rows))
		for i, a := range rows {
			out[i] = Payload(a)
		}
		last := rows[len(rows)-1]
		return page(out, export.KeyCursor(last.Country, last.ID))
	})
}

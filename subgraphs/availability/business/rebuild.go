package business

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

const (
	// rebuildBatch is how many practitioners a rebuild computes per round trip.
	rebuildBatch = 256
	// rebuildWorkers is how many batches are in flight at once.
	rebuildWorkers = 4
)

// Rebuild replaces the read model with one computed from the authoritative
// exports: practitioners yields every practitioner snapshot (in batches),
// occupied every live hold and confirmed appointment. It clears the model's
// keys under the prefix (SCAN + UNLINK; the tombstones of appointments that
// stopped occupying are kept, like the consumers' dedupe keys, so that an old
// event replayed later still cannot bring one back), stores the occupied
// ranges, then per batch of practitioners stores the snapshot, the window's
// day bitmaps and the next slot, everything pipelined. It publishes nothing.
// The result is what the event path produces for the same stores and clock.
// Run it with the availability workers stopped; once they restart, they
// apply what happened since by version.
func (s *Service) Rebuild(ctx context.Context,
	practitioners func(fn func([]eventdata.Practitioner) error) error,
	occupied func(fn func([]eventdata.Appointment) error) error,
) error {
	if err := s.st.ClearModel(ctx); err != nil {
		return fmt.Errorf("rebuild availability: clear: %w", err)
	}
	if err := occupied(func(batch []eventdata.Appointment) error { return s.rebuildOccupied(ctx, batch) }); err != nil {
		return fmt.Errorf("rebuild availability: occupied ranges: %w", err)
	}
	// Batches are computed and written by a few workers at once, so Go's
	// computing overlaps Redis's writing.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rebuildWorkers)
	err := practitioners(func(batch []eventdata.Practitioner) error {
		for len(batch) > 0 {
			n := min(len(batch), rebuildBatch)
			part := slices.Clone(batch[:n]) // the caller may reuse its slice
			g.Go(func() error { return s.rebuildPractitioners(gctx, part) })
			batch = batch[n:]
			if gctx.Err() != nil {
				return g.Wait()
			}
		}
		return nil
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("rebuild availability: practitioners: %w", err)
	}
	return nil
}

func (s *Service) rebuildOccupied(ctx context.Context, batch []eventdata.Appointment) error {
	now := s.now()
	out := make([]store.Occupied, 0, len(batch))
	for _, a := range batch {
		o := occupied{Version: a.Version, Status: a.Status}
		o.Range.Start, o.Range.End = a.BlockedFrom.UTC(), a.BlockedUntil.UTC()
		if !a.Occupies() || !o.Range.End.After(now.Add(-pastRetention)) || !o.Range.Start.Before(o.Range.End) {
			continue
		}
		out = append(out, store.Occupied{Country: a.Country, PractitionerID: a.PractitionerID, AppointmentID: a.ID,
			Version: a.Version, Entry: o.encode()})
	}
	return s.st.PutOccupied(ctx, out)
}

func (s *Service) rebuildPractitioners(ctx context.Context, batch []eventdata.Practitioner) error {
	now := s.now()
	who := make([]store.PractitionerRef, len(batch))
	for i, pr := range batch {
		who[i] = store.PractitionerRef{Country: pr.Country, PractitionerID: pr.ID}
	}
	occ, err := s.st.ReadOccupancy(ctx, who)
	if err != nil {
		return err
	}
	writes := make([]store.Rebuilt, 0, len(batch))
	for i, pr := range batch {
		if pr.ID == "" || pr.Country == "" {
			continue
		}
		raw, err := encodeSnapshot(pr)
		if err != nil {
			return err
		}
		ag := s.AgendaOf(pr)
		ch := &store.Changes{Sched: raw}
		b := decodeBusy(occ[i].Busy)
		prune(ch, b, decodeGoneMap(occ[i].Gone), now)
		m := newModel(ag, b, nil, now)
		for _, date := range s.windowDates(ag.Zone, now) {
			d, err := m.build(date)
			if err != nil {
				return err
			}
			ch.Days = append(ch.Days, dayWrite(d))
		}
		var out outcome
		st := &store.State{Country: pr.Country}
		s.finish(&out, ch, st, m, nil)
		ch.Pending = nil // a rebuild notifies nobody
		writes = append(writes, store.Rebuilt{Country: pr.Country, PractitionerID: pr.ID, Changes: ch, Due: out.due})
	}
	return s.st.WriteRebuilt(ctx, writes)
}

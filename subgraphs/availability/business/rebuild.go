package business

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/availability/store"
)

const (
	// rebuildBatch is how many practitioners a rebuild computes per round trip.
	rebuildBatch = 256
	// occupiedBatch is how many occupied ranges it stores per round trip.
	occupiedBatch = 1000
)

// practitionerWorkers is how many batches of practitioners are in flight at
// once: enough for Go to compute on every core while Redis writes the
// batches computed before.
func practitionerWorkers() int { return 2 * runtime.GOMAXPROCS(0) }

// occupiedWorkers is how many batches of occupied ranges are in flight:
// Redis does most of that work, so one batch is stored while the next is
// read from the export (more made it slower, measured on two cores).
const occupiedWorkers = 2

// Rebuild replaces the read model with one computed from the authoritative
// exports: practitioners yields every practitioner snapshot (in batches),
// occupied every live hold and confirmed appointment. It clears the model's
// keys under the prefix (SCAN + UNLINK; the tombstones of appointments that
// stopped occupying are kept, like the consumers' dedupe keys, so that an old
// event replayed later still cannot bring one back; the practitioners'
// records are kept until overwritten, so listings keep an answer; the keys
// of a former layout are deleted), stores the occupied ranges, then per
// batch of practitioners writes the record (terms, the window's day bitmaps,
// the next slot) and the maintenance time, and finally drops the records no
// snapshot wrote again. Batches are computed and written by a few workers at
// once, so that computing overlaps writing, and each write is one round trip
// for the batch. It publishes nothing. The result is what the event path
// produces for the same stores and clock. Run it with the availability
// workers stopped; once they restart, they apply what happened since by
// version.
func (s *Service) Rebuild(ctx context.Context,
	practitioners func(fn func([]eventdata.Practitioner) error) error,
	occupied func(fn func([]eventdata.Appointment) error) error,
) error {
	r := &rebuildRun{s: s, open: &openingCache{days: map[string]map[string]slots.Day{}}}
	var err error
	if r.left, err = s.st.ClearModel(ctx); err != nil {
		return fmt.Errorf("rebuild availability: clear: %w", err)
	}
	if err := inBatches(ctx, occupied, occupiedBatch, occupiedWorkers, s.rebuildOccupied); err != nil {
		return fmt.Errorf("rebuild availability: occupied ranges: %w", err)
	}
	if err := inBatches(ctx, practitioners, rebuildBatch, practitionerWorkers(), r.practitioners); err != nil {
		return fmt.Errorf("rebuild availability: practitioners: %w", err)
	}
	// The records of practitioners no snapshot rebuilt.
	stale := slices.Collect(maps.Keys(r.left))
	for part := range slices.Chunk(stale, occupiedBatch) {
		if err := s.st.DropRecords(ctx, part); err != nil {
			return fmt.Errorf("rebuild availability: stale records: %w", err)
		}
	}
	return nil
}

// rebuildRun is one rebuild's shared state.
type rebuildRun struct {
	s    *Service
	open *openingCache
	mu   sync.Mutex
	left map[string]bool // who has a record that was kept and not written yet
}

// rebuilding takes the practitioner out of those with a kept record.
func (r *rebuildRun) rebuilding(pid string) {
	r.mu.Lock()
	delete(r.left, pid)
	r.mu.Unlock()
}

// inBatches cuts what stream yields into batches of at most size and runs
// work on each, workers at a time, until the stream ends or work fails.
func inBatches[T any](ctx context.Context, stream func(func([]T) error) error, size, workers int, work func(context.Context, []T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	err := stream(func(batch []T) error {
		for len(batch) > 0 {
			if gctx.Err() != nil {
				if err := g.Wait(); err != nil {
					return err
				}
				return gctx.Err()
			}
			n := min(len(batch), size)
			part := slices.Clone(batch[:n]) // the caller may reuse its slice
			g.Go(func() error { return work(gctx, part) })
			batch = batch[n:]
		}
		return nil
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
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
		out = append(out, store.Occupied{PractitionerID: a.PractitionerID, AppointmentID: a.ID,
			Version: a.Version, Entry: o.encode()})
	}
	return s.st.PutOccupied(ctx, out)
}

// practitioners rebuilds a batch: one round trip reads the occupied ranges
// and tombstones, one writes the records, the pruned entries and the
// maintenance times.
func (r *rebuildRun) practitioners(ctx context.Context, batch []eventdata.Practitioner) error {
	s := r.s
	now := s.now()
	batch = slices.DeleteFunc(batch, func(p eventdata.Practitioner) bool { return p.ID == "" || p.Country == "" })
	pids := make([]string, len(batch))
	for i, pr := range batch {
		pids[i] = pr.ID
		r.rebuilding(pr.ID)
	}
	states, err := s.st.ReadRebuildState(ctx, pids)
	if err != nil {
		return err
	}
	writes := make([]store.Rebuilt, 0, len(batch))
	windows := map[*time.Location][]string{} // a batch's practices share a few zones
	for i, pr := range batch {
		ag := s.AgendaOf(pr)
		window, ok := windows[ag.Zone]
		if !ok {
			window = s.windowDates(ag.Zone, now)
			windows[ag.Zone] = window
		}
		ch := &store.Changes{}
		b := decodeBusy(states[i].Busy)
		prune(ch, b, decodeGoneMap(states[i].Gone), now)
		m := newModel(ag, b, nil, now)
		m.open = r.open
		rec := &store.Record{Country: pr.Country, Terms: encodeTerms(ag), Days: make(map[string][]byte, len(window))}
		for _, date := range window {
			d, err := m.build(date)
			if err != nil {
				return err
			}
			rec.Days[date] = d.Free
		}
		var out outcome
		s.finish(&out, ch, &store.State{}, m, rec, nil) // a rebuild notifies nobody
		writes = append(writes, store.Rebuilt{PractitionerID: pr.ID, Record: rec, BusyDel: ch.BusyDel, GoneDel: ch.GoneDel, Due: out.due})
	}
	return s.st.WriteRebuilt(ctx, writes)
}

// openingCache shares, during a rebuild, the days built from opening hours
// alone among the practitioners whose rules open the same windows (practices
// keep a few common hours): a practitioner's day is a copy with its absences
// and occupied ranges blocked, which is what slots.BuildDay computes, without
// expanding every rule on every date again.
type openingCache struct {
	mu   sync.Mutex
	days map[string]map[string]slots.Day // hoursKey → date → day
	n    int
}

// openingDays bounds the days an openingCache keeps (about 100 B each).
const openingDays = 200_000

// hoursKey identifies what slots.BuildDay reads of rules (the valid ones'
// zone, weekday and minutes) and of the agenda's zone.
func hoursKey(rules []slots.Rule, zone string) string {
	var b strings.Builder
	b.WriteString(zone)
	for _, r := range rules {
		if r.Validate() != nil {
			continue
		}
		b.WriteByte('|')
		b.WriteString(r.Zone.String())
		for _, n := range []int{int(r.Weekday), r.StartMinute, r.EndMinute} {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(n))
		}
	}
	return b.String()
}

// build is slots.BuildDay(m.sched, date, m.ag.Zone).
func (c *openingCache) build(m *model, date string) (slots.Day, error) {
	if m.hours == "" {
		m.hours = hoursKey(m.sched.Rules, m.ag.Zone.String())
	}
	c.mu.Lock()
	base, ok := c.days[m.hours][date]
	c.mu.Unlock()
	if !ok {
		var err error
		if base, err = slots.BuildDay(slots.Schedule{Rules: m.sched.Rules}, date, m.ag.Zone); err != nil {
			return slots.Day{}, err
		}
		c.mu.Lock()
		if c.n < openingDays {
			if c.days[m.hours] == nil {
				c.days[m.hours] = map[string]slots.Day{}
			}
			c.days[m.hours][date] = base
			c.n++
		}
		c.mu.Unlock()
	}
	d := base
	d.Zone = m.ag.Zone
	d.Free = slices.Clone(base.Free)
	for _, iv := range m.sched.Absences {
		d.Block(iv)
	}
	for _, iv := range m.sched.Blocked {
		d.Block(iv)
	}
	return d, nil
}

package business

import (
	"bytes"
	"context"
	"fmt"
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
// event replayed later still cannot bring one back; so are, until they are
// written again, the day bitmaps of dates a window may hold), stores the
// occupied ranges, then per batch of practitioners stores the snapshot, the
// window's day bitmaps and the next slot, and finally drops the bitmaps no
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
	r := &rebuildRun{s: s, open: &openingCache{days: map[string]map[string]slots.Day{}}, dates: s.anyWindowDates(s.now())}
	var err error
	r.left, err = s.st.ClearModel(ctx, func(date string) bool {
		_, ok := slices.BinarySearch(r.dates, date)
		return ok
	})
	if err != nil {
		return fmt.Errorf("rebuild availability: clear: %w", err)
	}
	if err := inBatches(ctx, occupied, occupiedBatch, occupiedWorkers, s.rebuildOccupied); err != nil {
		return fmt.Errorf("rebuild availability: occupied ranges: %w", err)
	}
	if err := inBatches(ctx, practitioners, rebuildBatch, practitionerWorkers(), r.practitioners); err != nil {
		return fmt.Errorf("rebuild availability: practitioners: %w", err)
	}
	// The bitmaps of practitioners no snapshot rebuilt (or of their former
	// country).
	who := make([]store.PractitionerRef, 0, len(r.left))
	for m := range r.left {
		if cc, pid, ok := store.ParseDueMember(m); ok {
			who = append(who, store.PractitionerRef{Country: cc, PractitionerID: pid})
		}
	}
	for part := range slices.Chunk(who, rebuildBatch) {
		if err := s.st.DropDays(ctx, part, r.dates); err != nil {
			return fmt.Errorf("rebuild availability: stale days: %w", err)
		}
	}
	return nil
}

// anyWindowDates are the dates a window may hold at now in any zone (local
// dates are within a day of UTC's).
func (s *Service) anyWindowDates(now time.Time) []string {
	today := dateOf(now, time.UTC)
	return dateRange(today.add(-2), today.add(s.window+1))
}

// rebuildRun is one rebuild's shared state.
type rebuildRun struct {
	s     *Service
	open  *openingCache
	dates []string // anyWindowDates at the start, sorted
	mu    sync.Mutex
	left  map[string]bool // who has a day bitmap that was kept and not written yet (DueMember form)
}

// rebuilding takes the practitioner out of those with kept bitmaps, and
// says whether it was one and which of its kept dates are outside its
// window (to drop).
func (r *rebuildRun) rebuilding(cc, pid string, window []string) (bool, []string) {
	m := store.DueMember(cc, pid)
	r.mu.Lock()
	had := r.left[m]
	delete(r.left, m)
	r.mu.Unlock()
	if !had {
		return false, nil
	}
	return true, slices.DeleteFunc(slices.Clone(r.dates), func(d string) bool {
		_, in := slices.BinarySearch(window, d)
		return in
	})
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
		out = append(out, store.Occupied{Country: a.Country, PractitionerID: a.PractitionerID, AppointmentID: a.ID,
			Version: a.Version, Entry: o.encode()})
	}
	return s.st.PutOccupied(ctx, out)
}

// practitioners rebuilds a batch: one round trip reads the occupied ranges
// and the kept bitmaps, one writes the snapshots, the bitmaps that changed
// (an unchanged one is left as it is, as the event path leaves it) and the
// next slots.
func (r *rebuildRun) practitioners(ctx context.Context, batch []eventdata.Practitioner) error {
	s := r.s
	now := s.now()
	batch = slices.DeleteFunc(batch, func(p eventdata.Practitioner) bool { return p.ID == "" || p.Country == "" })
	ags := make([]*Agenda, len(batch))
	windows := make([][]string, len(batch))
	drops := make([][]string, len(batch))
	qs := make([]store.RebuildQuery, len(batch))
	for i, pr := range batch {
		ags[i] = s.AgendaOf(pr)
		windows[i] = s.windowDates(ags[i].Zone, now)
		qs[i].PractitionerRef = store.PractitionerRef{Country: pr.Country, PractitionerID: pr.ID}
		var kept bool
		if kept, drops[i] = r.rebuilding(pr.Country, pr.ID, windows[i]); kept {
			qs[i].Dates = windows[i]
		}
	}
	states, err := s.st.ReadRebuildState(ctx, qs)
	if err != nil {
		return err
	}
	writes := make([]store.Rebuilt, 0, len(batch))
	for i, pr := range batch {
		raw, err := encodeSnapshot(pr)
		if err != nil {
			return err
		}
		ch := &store.Changes{Sched: raw}
		b := decodeBusy(states[i].Busy)
		prune(ch, b, decodeGoneMap(states[i].Gone), now)
		m := newModel(ags[i], b, nil, now)
		m.open = r.open
		for _, date := range windows[i] {
			d, err := m.build(date)
			if err != nil {
				return err
			}
			if !bytes.Equal(states[i].Days[date], d.Free) {
				ch.Days = append(ch.Days, dayWrite(d))
			}
		}
		var out outcome
		st := &store.State{Country: pr.Country}
		s.finish(&out, ch, st, m, nil)
		ch.Pending = nil // a rebuild notifies nobody
		writes = append(writes, store.Rebuilt{Country: pr.Country, PractitionerID: pr.ID, Changes: ch, DropDays: drops[i], Due: out.due})
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

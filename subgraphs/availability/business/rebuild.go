package business

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/redisconn"
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
	if err := s.clear(ctx); err != nil {
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

// clear unlinks every read-model key under the prefix, on every master.
func (s *Service) clear(ctx context.Context) error {
	k := s.st.Keys
	rdb := s.st.Client()
	return redisconn.Scan(ctx, rdb, k.Prefix+"*", 5000, func(keys []string) error {
		batch := make([]string, 0, len(keys))
		for _, key := range keys {
			if k.IsModelKey(key) {
				batch = append(batch, key)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		// One UNLINK per key: on a cluster the keys of a page span slots.
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range batch {
				p.Unlink(ctx, key)
			}
			return nil
		})
		return err
	})
}

// putOccupied stores an occupied range unless the busy hash or a tombstone
// has the appointment at the same or a newer version (as the event path
// would decide), dropping a tombstone it supersedes.
var putOccupied = redis.NewScript(`
local function ver(s) if not s then return nil end return tonumber(string.match(s, '^(%d+)')) end
local v = tonumber(ARGV[2])
local g = ver(redis.call('HGET', KEYS[2], ARGV[1]))
if g and g >= v then return 0 end
local b = ver(redis.call('HGET', KEYS[1], ARGV[1]))
if b and b >= v then return 0 end
if g then redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SET', KEYS[3], ARGV[4])
return 1`)

func (s *Service) rebuildOccupied(ctx context.Context, batch []eventdata.Appointment) error {
	now := s.now()
	k := s.st.Keys
	if err := putOccupied.Load(ctx, s.st.Client()).Err(); err != nil {
		return err
	}
	_, err := s.st.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, a := range batch {
			o := occupied{Version: a.Version, Status: a.Status}
			o.Range.Start, o.Range.End = a.BlockedFrom.UTC(), a.BlockedUntil.UTC()
			if !a.Occupies() || !o.Range.End.After(now.Add(-pastRetention)) || !o.Range.Start.Before(o.Range.End) {
				continue
			}
			cc, pid := a.Country, a.PractitionerID
			putOccupied.EvalSha(ctx, p, []string{k.Busy(cc, pid), k.Gone(cc, pid), k.Index(pid)},
				a.ID, a.Version, o.encode(), cc)
		}
		return nil
	})
	return err
}

func (s *Service) rebuildPractitioners(ctx context.Context, batch []eventdata.Practitioner) error {
	now := s.now()
	k := s.st.Keys
	rdb := s.st.Client()
	busy := make([]*redis.MapStringStringCmd, len(batch))
	gones := make([]*redis.MapStringStringCmd, len(batch))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, pr := range batch {
			busy[i] = p.HGetAll(ctx, k.Busy(pr.Country, pr.ID))
			gones[i] = p.HGetAll(ctx, k.Gone(pr.Country, pr.ID))
		}
		return nil
	})
	if err != nil {
		return err
	}
	type write struct {
		cc, pid string
		ch      *store.Changes
		due     outcome
	}
	writes := make([]write, 0, len(batch))
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
		b := decodeBusy(busy[i].Val())
		prune(ch, b, decodeGoneMap(gones[i].Val()), now)
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
		writes = append(writes, write{cc: pr.Country, pid: pr.ID, ch: ch, due: out})
	}
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range writes {
			s.st.QueueWrite(ctx, p, w.cc, w.pid, w.ch)
			p.ZAdd(ctx, k.Due(), redis.Z{Score: float64(w.due.due.Unix()), Member: store.DueMember(w.cc, w.pid)})
		}
		return nil
	})
	return err
}

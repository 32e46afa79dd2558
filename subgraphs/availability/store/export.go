package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/redisconn"
)

// NextSlot is one practitioner's stored next available slot.
type NextSlot struct {
	Country, PractitionerID string
	At                      time.Time
}

// ScanNextSlots streams every stored next slot in batches (SCAN of the
// records over every master, then one pipelined GETRANGE of their heads per
// page), for consumers that warm a read model of their own.
//
// It starts after cursor ("" from the start; see redisconn.ScanPages) and
// gives fn, with each batch, the cursor that continues after it.
func (s *Store) ScanNextSlots(ctx context.Context, batch int64, after string, fn func(batch []NextSlot, cursor string) error) error {
	return redisconn.ScanPages(ctx, s.rdb, s.Keys.recordPattern(), batch, after, func(keys []string, cursor string) error {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.GetRange(ctx, k, 0, nextHead-1)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return err
		}
		out := make([]NextSlot, 0, len(keys))
		for i, k := range keys {
			pid, ok := hashTag(k)
			if !ok {
				continue
			}
			cc, at, err := decodeHead([]byte(cmds[i].Val()))
			if err != nil || at.IsZero() {
				continue // removed between SCAN and GETRANGE, unreadable, or no slot
			}
			out = append(out, NextSlot{Country: cc, PractitionerID: pid, At: at})
		}
		if len(out) == 0 {
			return nil
		}
		return fn(out, cursor)
	})
}

package store

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/redisconn"
)

// NextSlot is one practitioner's stored next available slot.
type NextSlot struct {
	Country, PractitionerID string
	At                      time.Time
}

// ScanNextSlots streams every stored next slot in batches (SCAN over every
// master, then one pipelined GET per page), for consumers that warm a read
// model of their own.
//
// It starts after cursor ("" from the start; see redisconn.ScanPages) and
// gives fn, with each batch, the cursor that continues after it.
func (s *Store) ScanNextSlots(ctx context.Context, batch int64, after string, fn func(batch []NextSlot, cursor string) error) error {
	pattern := s.Keys.Prefix + "*:next:{*}"
	return redisconn.ScanPages(ctx, s.rdb, pattern, batch, after, func(keys []string, cursor string) error {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return err
		}
		out := make([]NextSlot, 0, len(keys))
		for i, k := range keys {
			cc, pid, ok := parseNextKey(strings.TrimPrefix(k, s.Keys.Prefix))
			if !ok {
				continue
			}
			at, err := time.Parse(time.RFC3339, cmds[i].Val())
			if err != nil {
				continue // removed between SCAN and GET, or not a slot
			}
			out = append(out, NextSlot{Country: cc, PractitionerID: pid, At: at})
		}
		if len(out) == 0 {
			return nil
		}
		return fn(out, cursor)
	})
}

// parseNextKey splits "{cc}:next:{pid}" (the prefix removed).
func parseNextKey(k string) (cc, pid string, ok bool) {
	cc, rest, ok := strings.Cut(k, ":next:")
	if !ok || !strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, "}") {
		return "", "", false
	}
	return cc, rest[1 : len(rest)-1], true
}

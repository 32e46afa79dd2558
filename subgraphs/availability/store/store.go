// Package store is the availability read model in Redis: key layout, the
// optimistic per-practitioner transaction writers use, the one-round-trip
// reads of the GraphQL edge, the rebuild's bulk writes, the maintenance
// schedule and the change channel. Every Redis command, script and pipeline
// of the service is here. It holds bytes and strings; what they mean is the
// business layer's (exceptions: the scripts read the version at the start
// of a busy or gone entry, "version|…", and a record's header).
//
// Key layout (every key under the configured prefix and the layout's
// Namespace; {pid} is written with its braces, a Redis Cluster hash tag, so
// all of one practitioner's keys share a slot and a transaction or script
// may touch them together):
//
//	{prefix}av2:p:{pid}        string: the practitioner's Record (country, next slot, terms, window's day bitmaps)
//	{prefix}av2:busy:{pid}     hash: appointment id → "version|status|fromMs|untilMs" (occupying only)
//	{prefix}av2:gone:{pid}     hash: appointment id → "version|untilMs" (no longer occupying; idempotency memory)
//	{prefix}av2:pending:{pid}  string: an AvailabilityChanged not yet published (JSON)
//	{prefix}av2:due            sorted set: practitioner ids scored by the Unix time their maintenance is due
//
// and the pub/sub channel {prefix}avail-changes:{pid} (no braces). Nothing
// expires by itself: the writers keep a record's days to the window.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/livehub"
)

// Store is the Redis read model.
type Store struct {
	rdb  redis.UniversalClient
	Keys Keys
}

// New returns a store over rdb with all keys under prefix (which must not
// contain braces: they would take over the hash tag).
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, Keys: Keys{Prefix: prefix}}
}

// State is what a writer reads of one practitioner.
type State struct {
	// Record is nil when the practitioner has none (no snapshot yet), or
	// RecordErr says why it could not be read.
	Record    *Record
	RecordErr error
	Busy      map[string]string // appointment id → entry
	Gone      map[string]string
	Pending   []byte // nil: nothing pending
	raw       []byte // the record as read
}

// Changes are what a writer stores, atomically (MULTI/EXEC).
type Changes struct {
	// Record, if set, is the practitioner's record after the change (written
	// only if it differs from the one read).
	Record  *Record
	BusySet map[string]string
	BusyDel []string
	GoneSet map[string]string
	GoneDel []string
	// Pending: nil unchanged; else the value.
	Pending []byte
}

// Empty reports whether c changes nothing.
func (c *Changes) Empty() bool {
	return c.Record == nil && len(c.BusySet) == 0 && len(c.BusyDel) == 0 && len(c.GoneSet) == 0 &&
		len(c.GoneDel) == 0 && c.Pending == nil
}

// ErrConflict is returned when a transaction kept losing to concurrent writers.
var ErrConflict = errors.New("availability store: too many concurrent updates")

// Update runs an optimistic transaction over practitioner pid: it watches
// the practitioner's keys, reads them, then calls fn, whose changes are
// applied in one MULTI/EXEC; a concurrent write makes it start over. fn may
// be called more than once and must not have side effects.
func (s *Store) Update(ctx context.Context, pid string, fn func(*State) (*Changes, error)) error {
	k := s.Keys
	watched := []string{k.Record(pid), k.Busy(pid), k.Gone(pid), k.Pending(pid)}
	txf := func(tx *redis.Tx) error {
		st, err := s.read(ctx, tx, pid)
		if err != nil {
			return err
		}
		ch, err := fn(st)
		if err != nil || ch == nil || ch.Empty() {
			return err
		}
		var rec []byte
		if ch.Record != nil {
			if rec, err = encodeRecord(ch.Record); err != nil {
				return err
			}
			if bytes.Equal(rec, st.raw) {
				rec = nil
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.queueWrite(ctx, p, pid, rec, ch)
			return nil
		})
		return err
	}
	for range 50 {
		err := s.rdb.Watch(ctx, txf, watched...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return ErrConflict
}

func (s *Store) read(ctx context.Context, c redis.Cmdable, pid string) (*State, error) {
	k := s.Keys
	var (
		rec, pending *redis.StringCmd
		busy, gone   *redis.MapStringStringCmd
	)
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.Get(ctx, k.Record(pid))
		busy = p.HGetAll(ctx, k.Busy(pid))
		gone = p.HGetAll(ctx, k.Gone(pid))
		pending = p.Get(ctx, k.Pending(pid))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	st := &State{Busy: busy.Val(), Gone: gone.Val()}
	if b, err := rec.Bytes(); err == nil {
		st.raw = b
		st.Record, st.RecordErr = decodeRecord(b)
	}
	if b, err := pending.Bytes(); err == nil {
		st.Pending = b
	}
	return st, nil
}

// queueWrite queues ch on p (without MULTI; Update wraps it in one), with
// rec the encoded record to store (nil: unchanged).
func (s *Store) queueWrite(ctx context.Context, p redis.Pipeliner, pid string, rec []byte, ch *Changes) {
	k := s.Keys
	if rec != nil {
		p.Set(ctx, k.Record(pid), rec, 0)
	}
	if len(ch.BusyDel) > 0 {
		p.HDel(ctx, k.Busy(pid), ch.BusyDel...)
	}
	if len(ch.BusySet) > 0 {
		p.HSet(ctx, k.Busy(pid), flatten(ch.BusySet)...)
	}
	if len(ch.GoneDel) > 0 {
		p.HDel(ctx, k.Gone(pid), ch.GoneDel...)
	}
	if len(ch.GoneSet) > 0 {
		p.HSet(ctx, k.Gone(pid), flatten(ch.GoneSet)...)
	}
	if ch.Pending != nil {
		p.Set(ctx, k.Pending(pid), ch.Pending, 0)
	}
}

func flatten(m map[string]string) []any {
	out := make([]any, 0, 2*len(m))
	for f, v := range m {
		out = append(out, f, v)
	}
	return out
}

// Announce does in one round trip what follows a change: when setDue, it
// schedules (due non-zero) or unschedules the practitioner's maintenance;
// when msg is not nil, it sends msg on the practitioner's pub/sub channel.
func (s *Store) Announce(ctx context.Context, pid string, setDue bool, due time.Time, msg []byte) error {
	if !setDue && msg == nil {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		switch {
		case !setDue:
		case due.IsZero():
			p.ZRem(ctx, s.Keys.Due(), pid)
		default:
			p.ZAdd(ctx, s.Keys.Due(), redis.Z{Score: float64(due.Unix()), Member: pid})
		}
		if msg != nil {
			p.Publish(ctx, s.Keys.Channel(pid), msg)
		}
		return nil
	})
	return err
}

// DueBefore returns up to n practitioners due at or before t.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int64) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, s.Keys.Due(), &redis.ZRangeBy{
		Min: "-inf", Max: fmt.Sprint(t.Unix()), Count: n,
	}).Result()
}

var clearPending = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// ClearPending deletes the pending notification if it is still value.
func (s *Store) ClearPending(ctx context.Context, pid string, value []byte) error {
	return clearPending.Run(ctx, s.rdb, []string{s.Keys.Pending(pid)}, value).Err()
}

// SubscribeChanges subscribes, through hub, to the practitioner's channel,
// keeping the latest message only (size 1).
func (s *Store) SubscribeChanges(ctx context.Context, hub *livehub.Hub, pid string) (*livehub.Subscription, error) {
	return hub.Subscribe(ctx, s.Keys.Channel(pid), 1)
}

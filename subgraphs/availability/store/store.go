// Package store is the availability read model in Redis: key layout, the
// optimistic per-practitioner transaction writers use, the one-round-trip
// reads of the GraphQL edge, the rebuild's bulk writes, the maintenance
// schedule and the change channel. Every Redis command, script and pipeline
// of the service is here. It holds bytes and strings; what they mean is the
// business layer's (one exception: the scripts read the version at the start
// of a busy or gone entry, "version|…").
//
// Key layout (every key under the configured prefix; {pid} is written with
// its braces, a Redis Cluster hash tag, so all of one practitioner's keys
// share a slot and a transaction or script may touch them together):
//
//	{prefix}pidx:{pid}                    string: the practitioner's country code
//	{prefix}{cc}:sched:{pid}              string: the latest practitioner snapshot (JSON, with its version)
//	{prefix}{cc}:busy:{pid}               hash: appointment id → "version|status|fromMs|untilMs" (occupying only)
//	{prefix}{cc}:gone:{pid}               hash: appointment id → "version|untilMs" (no longer occupying; idempotency memory)
//	{prefix}{cc}:avail:{pid}:{yyyy-mm-dd} string: the local day's free 5-minute ticks (slots.Bitmap), expiring when the day ends
//	{prefix}{cc}:next:{pid}               string: next available slot, RFC 3339 (absent: none)
//	{prefix}{cc}:pending:{pid}            string: an AvailabilityChanged not yet published (JSON)
//	{prefix}avail:due                     sorted set: "{cc}|{pid}" scored by the Unix time its maintenance is due
//
// and the pub/sub channel {prefix}avail-changes:{pid} (no braces).
package store

import (
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
	Country string
	Sched   []byte            // nil: no snapshot yet
	Busy    map[string]string // appointment id → entry
	Gone    map[string]string
	Next    string            // "" none
	Pending []byte            // nil: nothing pending
	Days    map[string][]byte // the requested dates that have a bitmap
}

// DayWrite is one day's bitmap to store.
type DayWrite struct {
	Date     string
	Bits     []byte
	ExpireAt time.Time
}

// Changes are what a writer stores, atomically (MULTI/EXEC).
type Changes struct {
	Sched   []byte // nil: unchanged
	BusySet map[string]string
	BusyDel []string
	GoneSet map[string]string
	GoneDel []string
	Days    []DayWrite
	// Next: nil unchanged; "" delete; else the value.
	Next *string
	// Pending: nil unchanged; else the value.
	Pending []byte
}

// Empty reports whether c changes nothing.
func (c *Changes) Empty() bool {
	return c.Sched == nil && len(c.BusySet) == 0 && len(c.BusyDel) == 0 && len(c.GoneSet) == 0 &&
		len(c.GoneDel) == 0 && len(c.Days) == 0 && c.Next == nil && c.Pending == nil
}

// ErrConflict is returned when a transaction kept losing to concurrent writers.
var ErrConflict = errors.New("availability store: too many concurrent updates")

// Update runs an optimistic transaction over practitioner pid of country
// cc: it watches the practitioner's small keys, reads them, asks dates for
// the day bitmaps to read, then calls fn, whose changes are applied in one
// MULTI/EXEC; a concurrent write makes it start over. fn may be called more
// than once and must not have side effects.
func (s *Store) Update(ctx context.Context, cc, pid string, dates func(*State) []string, fn func(*State) (*Changes, error)) error {
	k := s.Keys
	watched := []string{k.Sched(cc, pid), k.Busy(cc, pid), k.Gone(cc, pid), k.Next(cc, pid), k.Pending(cc, pid)}
	txf := func(tx *redis.Tx) error {
		st, err := s.read(ctx, tx, cc, pid)
		if err != nil {
			return err
		}
		if ds := dates(st); len(ds) > 0 {
			keys := make([]string, len(ds))
			for i, d := range ds {
				keys[i] = k.Day(cc, pid, d)
			}
			vals, err := tx.MGet(ctx, keys...).Result()
			if err != nil {
				return err
			}
			for i, v := range vals {
				if s, ok := v.(string); ok {
					st.Days[ds[i]] = []byte(s)
				}
			}
		}
		ch, err := fn(st)
		if err != nil || ch == nil || ch.Empty() {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.queueWrite(ctx, p, cc, pid, ch)
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

func (s *Store) read(ctx context.Context, c redis.Cmdable, cc, pid string) (*State, error) {
	k := s.Keys
	var (
		sched, next, pending *redis.StringCmd
		busy, gone           *redis.MapStringStringCmd
	)
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		sched = p.Get(ctx, k.Sched(cc, pid))
		busy = p.HGetAll(ctx, k.Busy(cc, pid))
		gone = p.HGetAll(ctx, k.Gone(cc, pid))
		next = p.Get(ctx, k.Next(cc, pid))
		pending = p.Get(ctx, k.Pending(cc, pid))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	st := &State{Country: cc, Busy: busy.Val(), Gone: gone.Val(), Next: next.Val(), Days: map[string][]byte{}}
	if b, err := sched.Bytes(); err == nil {
		st.Sched = b
	}
	if b, err := pending.Bytes(); err == nil {
		st.Pending = b
	}
	return st, nil
}

// queueWrite queues ch on p (without MULTI; Update wraps it in one).
func (s *Store) queueWrite(ctx context.Context, p redis.Pipeliner, cc, pid string, ch *Changes) {
	k := s.Keys
	if ch.Sched != nil {
		p.Set(ctx, k.Sched(cc, pid), ch.Sched, 0)
	}
	p.Set(ctx, k.Index(pid), cc, 0)
	if len(ch.BusyDel) > 0 {
		p.HDel(ctx, k.Busy(cc, pid), ch.BusyDel...)
	}
	if len(ch.BusySet) > 0 {
		p.HSet(ctx, k.Busy(cc, pid), flatten(ch.BusySet)...)
	}
	if len(ch.GoneDel) > 0 {
		p.HDel(ctx, k.Gone(cc, pid), ch.GoneDel...)
	}
	if len(ch.GoneSet) > 0 {
		p.HSet(ctx, k.Gone(cc, pid), flatten(ch.GoneSet)...)
	}
	for _, d := range ch.Days {
		p.SetArgs(ctx, k.Day(cc, pid, d.Date), d.Bits, redis.SetArgs{ExpireAt: d.ExpireAt})
	}
	if ch.Next != nil {
		if *ch.Next == "" {
			p.Del(ctx, k.Next(cc, pid))
		} else {
			p.Set(ctx, k.Next(cc, pid), *ch.Next, 0)
		}
	}
	if ch.Pending != nil {
		p.Set(ctx, k.Pending(cc, pid), ch.Pending, 0)
	}
}

func flatten(m map[string]string) []any {
	out := make([]any, 0, 2*len(m))
	for f, v := range m {
		out = append(out, f, v)
	}
	return out
}

// SetDue schedules (at non-zero) or unschedules a practitioner's maintenance.
func (s *Store) SetDue(ctx context.Context, cc, pid string, at time.Time) error {
	if at.IsZero() {
		return s.rdb.ZRem(ctx, s.Keys.Due(), DueMember(cc, pid)).Err()
	}
	return s.rdb.ZAdd(ctx, s.Keys.Due(), redis.Z{Score: float64(at.Unix()), Member: DueMember(cc, pid)}).Err()
}

// DueBefore returns up to n members due at or before t.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int64) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, s.Keys.Due(), &redis.ZRangeBy{
		Min: "-inf", Max: fmt.Sprint(t.Unix()), Count: n,
	}).Result()
}

// DropDue removes a member from the schedule (one that does not parse).
func (s *Store) DropDue(ctx context.Context, member string) error {
	return s.rdb.ZRem(ctx, s.Keys.Due(), member).Err()
}

// Country reads a practitioner's country from the index (redis.Nil when the
// practitioner is unknown).
func (s *Store) Country(ctx context.Context, pid string) (string, error) {
	return s.rdb.Get(ctx, s.Keys.Index(pid)).Result()
}

var clearPending = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// ClearPending deletes the pending notification if it is still value.
func (s *Store) ClearPending(ctx context.Context, cc, pid string, value []byte) error {
	return clearPending.Run(ctx, s.rdb, []string{s.Keys.Pending(cc, pid)}, value).Err()
}

// Publish sends msg on the practitioner's pub/sub channel.
func (s *Store) Publish(ctx context.Context, pid string, msg []byte) error {
	return s.rdb.Publish(ctx, s.Keys.Channel(pid), msg).Err()
}

// SubscribeChanges subscribes, through hub, to the practitioner's channel,
// keeping the latest message only (size 1).
func (s *Store) SubscribeChanges(ctx context.Context, hub *livehub.Hub, pid string) (*livehub.Subscription, error) {
	return hub.Subscribe(ctx, s.Keys.Channel(pid), 1)
}

package store

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// readSlots returns {cc, sched, day1, …, dayN[, busy]} for one practitioner:
// the country from the index, the snapshot, each asked date's bitmap, and,
// only when some bitmap is missing (a day beyond the window or in the past),
// the busy hash flattened. {} when the practitioner is unknown. KEYS[1] is
// the index key (so a cluster routes by the practitioner's hash tag); ARGV
// are the prefix, the practitioner id and the dates.
var readSlots = redis.NewScript(`
local p, pid = ARGV[1], ARGV[2]
local cc = redis.call('GET', KEYS[1])
if not cc then return {} end
local base = p .. cc
local tag = '{' .. pid .. '}'
local out = {cc, redis.call('GET', base .. ':sched:' .. tag)}
local missing = false
for i = 3, #ARGV do
  local v = redis.call('GET', base .. ':avail:' .. tag .. ':' .. ARGV[i])
  out[#out + 1] = v
  if not v then missing = true end
end
if missing then out[#out + 1] = redis.call('HGETALL', base .. ':busy:' .. tag) end
return out`)

// readNext returns {cc, next} (next false when none), or {} when unknown.
var readNext = redis.NewScript(`
local cc = redis.call('GET', KEYS[1])
if not cc then return {} end
return {cc, redis.call('GET', ARGV[1] .. cc .. ':next:{' .. ARGV[2] .. '}')}`)

// SlotsQuery asks for one practitioner's snapshot and day bitmaps.
type SlotsQuery struct {
	PractitionerID string
	Dates          []string
}

// SlotsData is the answer to a SlotsQuery.
type SlotsData struct {
	Known   bool // the practitioner is in the index
	Country string
	Sched   []byte            // nil: none
	Days    map[string][]byte // dates that have a bitmap
	// Busy is the busy hash, read only when some date had no bitmap.
	Busy map[string]string
}

// ReadSlots answers the queries in one round trip (a pipeline of scripts).
func (s *Store) ReadSlots(ctx context.Context, qs []SlotsQuery) ([]SlotsData, error) {
	cmds, err := s.runScripts(ctx, readSlots, len(qs), func(i int) ([]string, []any) {
		q := qs[i]
		args := make([]any, 0, 2+len(q.Dates))
		args = append(args, s.Keys.Prefix, q.PractitionerID)
		for _, d := range q.Dates {
			args = append(args, d)
		}
		return []string{s.Keys.Index(q.PractitionerID)}, args
	})
	if err != nil {
		return nil, err
	}
	out := make([]SlotsData, len(qs))
	for i, c := range cmds {
		vals, _ := c.Val().([]any)
		if len(vals) < 2 {
			continue
		}
		d := SlotsData{Known: true, Days: make(map[string][]byte, len(qs[i].Dates))}
		d.Country, _ = vals[0].(string)
		if v, ok := vals[1].(string); ok {
			d.Sched = []byte(v)
		}
		for j, date := range qs[i].Dates {
			if 2+j < len(vals) {
				if v, ok := vals[2+j].(string); ok {
					d.Days[date] = []byte(v)
				}
			}
		}
		if n := 2 + len(qs[i].Dates); n < len(vals) {
			flat, _ := vals[n].([]any)
			d.Busy = make(map[string]string, len(flat)/2)
			for j := 0; j+1 < len(flat); j += 2 {
				f, _ := flat[j].(string)
				v, _ := flat[j+1].(string)
				d.Busy[f] = v
			}
		}
		out[i] = d
	}
	return out, nil
}

// NextData is a practitioner's stored next available slot.
type NextData struct {
	Known bool
	Next  string // RFC 3339, "" none
}

// ReadNext reads the next available slot of each practitioner in one round trip.
func (s *Store) ReadNext(ctx context.Context, pids []string) ([]NextData, error) {
	cmds, err := s.runScripts(ctx, readNext, len(pids), func(i int) ([]string, []any) {
		return []string{s.Keys.Index(pids[i])}, []any{s.Keys.Prefix, pids[i]}
	})
	if err != nil {
		return nil, err
	}
	out := make([]NextData, len(pids))
	for i, c := range cmds {
		vals, _ := c.Val().([]any)
		if len(vals) < 1 {
			continue
		}
		out[i].Known = true
		if len(vals) > 1 {
			out[i].Next, _ = vals[1].(string)
		}
	}
	return out, nil
}

// runScripts runs n calls of script in one pipeline (EVALSHA, loading the
// script and trying again once if the server does not know it).
func (s *Store) runScripts(ctx context.Context, script *redis.Script, n int, call func(i int) ([]string, []any)) ([]*redis.Cmd, error) {
	if n == 0 {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		cmds := make([]*redis.Cmd, n)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range n {
				keys, args := call(i)
				cmds[i] = script.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
		if err == nil || errors.Is(err, redis.Nil) {
			return cmds, nil
		}
		if attempt == 0 && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			if err := script.Load(ctx, s.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		return nil, err
	}
}

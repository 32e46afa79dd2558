package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// readSlots returns {record} for one practitioner, or {record, busy
// flattened} when the record's days do not span the asked dates (a day
// beyond the window or in the past, built on read from the occupied
// ranges); {} when the practitioner has no record. KEYS are the record and
// the busy hash (one hash tag); ARGV the first and last asked dates as day
// numbers. It reads the span from the record's header (see Record).
var readSlots = redis.NewScript(fmt.Sprintf(`
local rec = redis.call('GET', KEYS[1])
if not rec then return {} end
if #rec >= %d and string.byte(rec, 1) == %d then
  local a, b, c, d, e, f = string.byte(rec, 10, 15)
  local first = ((a * 256 + b) * 256 + c) * 256 + d
  if tonumber(ARGV[1]) >= first and tonumber(ARGV[2]) < first + e * 256 + f then return {rec} end
end
return {rec, redis.call('HGETALL', KEYS[2])}`, recordHeader, recordFormat))

// SlotsQuery asks for one practitioner's terms and day bitmaps.
type SlotsQuery struct {
	PractitionerID string
	Dates          []string // in order
}

// SlotsData is the answer to a SlotsQuery.
type SlotsData struct {
	// Record is nil when the practitioner has none (unknown to the model).
	Record *Record
	// Busy is the busy hash, read only when some date had no bitmap.
	Busy map[string]string
	// Err is a record that could not be read (ErrRecordFormat).
	Err error
}

// ReadSlots answers the queries in one round trip (a pipeline of scripts);
// a second one reads the busy hashes of records whose span holds a gap
// among the dates (a maintenance that fell behind).
func (s *Store) ReadSlots(ctx context.Context, qs []SlotsQuery) ([]SlotsData, error) {
	bounds := make([][2]int, len(qs))
	for i, q := range qs {
		if len(q.Dates) == 0 {
			continue
		}
		first, err1 := dayNumber(q.Dates[0])
		last, err2 := dayNumber(q.Dates[len(q.Dates)-1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		bounds[i] = [2]int{first, last}
	}
	cmds, err := s.runScripts(ctx, readSlots, len(qs), func(i int) ([]string, []any) {
		pid := qs[i].PractitionerID
		return []string{s.Keys.Record(pid), s.Keys.Busy(pid)}, []any{bounds[i][0], bounds[i][1]}
	})
	if err != nil {
		return nil, err
	}
	out := make([]SlotsData, len(qs))
	var gaps []int
	for i, c := range cmds {
		vals, _ := c.Val().([]any)
		if len(vals) < 1 {
			continue
		}
		raw, _ := vals[0].(string)
		rec, err := decodeRecord([]byte(raw))
		if err != nil {
			out[i].Err = fmt.Errorf("practitioner %s: %w", qs[i].PractitionerID, err)
			continue
		}
		out[i].Record = rec
		if len(vals) > 1 {
			out[i].Busy = flatMap(vals[1])
			continue
		}
		for _, d := range qs[i].Dates {
			if _, ok := rec.Days[d]; !ok {
				gaps = append(gaps, i)
				break
			}
		}
	}
	if len(gaps) == 0 {
		return out, nil
	}
	busy := make([]*redis.MapStringStringCmd, len(gaps))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range gaps {
			busy[j] = p.HGetAll(ctx, s.Keys.Busy(qs[i].PractitionerID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for j, i := range gaps {
		out[i].Busy = busy[j].Val()
	}
	return out, nil
}

func flatMap(v any) map[string]string {
	flat, _ := v.([]any)
	m := make(map[string]string, len(flat)/2)
	for j := 0; j+1 < len(flat); j += 2 {
		f, _ := flat[j].(string)
		v, _ := flat[j+1].(string)
		m[f] = v
	}
	return m
}

// NextData is a practitioner's stored next available slot.
type NextData struct {
	Known   bool // the practitioner has a record
	Country string
	Next    time.Time // zero: none
	Err     error     // an unreadable record (ErrRecordFormat)
}

// ReadNext reads the next available slot of each practitioner in one round
// trip (the head of each record).
func (s *Store) ReadNext(ctx context.Context, pids []string) ([]NextData, error) {
	cmds := make([]*redis.StringCmd, len(pids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, pid := range pids {
			cmds[i] = p.GetRange(ctx, s.Keys.Record(pid), 0, nextHead-1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]NextData, len(pids))
	for i, c := range cmds {
		head := c.Val()
		if head == "" {
			continue
		}
		cc, next, err := decodeHead([]byte(head))
		if err != nil {
			err = fmt.Errorf("practitioner %s: %w", pids[i], err)
		}
		out[i] = NextData{Known: true, Country: cc, Next: next, Err: err}
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

package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/redisconn"
)

// The rebuild's bulk operations. Each works on many practitioners per round
// trip and stays cluster-safe: a multi-key command touches the keys of one
// hash tag (one practitioner) only, and go-redis's cluster pipeline sends
// each command to its slot's master.

// ClearModel unlinks the read model's keys under the prefix (IsModelKey),
// on every master, but the day bitmaps of the dates keep says: most of the
// model is day bitmaps, and a rebuild mostly finds them unchanged, where
// reading them costs Redis far less than deleting and writing them again.
// It returns who has a bitmap left (DueMember form); the bitmaps a rebuild
// does not write again are for it to drop (DropDays).
func (s *Store) ClearModel(ctx context.Context, keep func(date string) bool) (map[string]bool, error) {
	k := s.Keys
	_, cluster := s.rdb.(*redis.ClusterClient)
	kept := map[string]bool{}
	err := redisconn.Scan(ctx, s.rdb, k.Prefix+"*", 5000, func(keys []string) error {
		model := slices.DeleteFunc(keys, func(key string) bool {
			if cc, pid, date, ok := k.parseDay(key); ok && keep(date) {
				kept[DueMember(cc, pid)] = true
				return true
			}
			return !k.IsModelKey(key)
		})
		if len(model) == 0 {
			return nil
		}
		// On a single server a thousand keys per UNLINK; on a cluster, where
		// a command's keys must share a slot, one per practitioner of the
		// page (its keys share a hash tag).
		var groups [][]string
		if cluster {
			byTag := map[string][]string{}
			for _, key := range model {
				t, ok := hashTag(key)
				if !ok {
					groups = append(groups, []string{key})
					continue
				}
				byTag[t] = append(byTag[t], key)
			}
			for _, g := range byTag {
				groups = append(groups, g)
			}
		} else {
			for part := range slices.Chunk(model, 1000) {
				groups = append(groups, part)
			}
		}
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, g := range groups {
				p.Unlink(ctx, g...)
			}
			return nil
		})
		return err
	})
	return kept, err
}

// DropDays unlinks the day bitmaps of the dates of each practitioner (one
// UNLINK each), in one round trip.
func (s *Store) DropDays(ctx context.Context, who []PractitionerRef, dates []string) error {
	if len(who) == 0 || len(dates) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range who {
			p.Unlink(ctx, s.dayKeys(w.Country, w.PractitionerID, dates)...)
		}
		return nil
	})
	return err
}

func (s *Store) dayKeys(cc, pid string, dates []string) []string {
	keys := make([]string, len(dates))
	for i, d := range dates {
		keys[i] = s.Keys.Day(cc, pid, d)
	}
	return keys
}

// hashTag is what Redis Cluster hashes of key: the text between the first
// "{" and the next "}", when not empty.
func hashTag(key string) (string, bool) {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return "", false
	}
	t, _, ok := strings.Cut(rest, "}")
	return t, ok && t != ""
}

// Occupied is an appointment to store in its practitioner's busy hash.
type Occupied struct {
	Country, PractitionerID, AppointmentID string
	Version                                int64
	Entry                                  string // the busy hash's value
}

// putOccupied stores an occupied range unless the busy hash or a tombstone
// has the appointment at the same or a newer version (as the event path
// would decide), dropping a tombstone it supersedes, and indexes the
// practitioner's country.
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

// PutOccupied stores the appointments (a script each, pipelined).
func (s *Store) PutOccupied(ctx context.Context, batch []Occupied) error {
	k := s.Keys
	_, err := s.runScripts(ctx, putOccupied, len(batch), func(i int) ([]string, []any) {
		o := batch[i]
		cc, pid := o.Country, o.PractitionerID
		return []string{k.Busy(cc, pid), k.Gone(cc, pid), k.Index(pid)}, []any{o.AppointmentID, o.Version, o.Entry, cc}
	})
	return err
}

// PractitionerRef names a practitioner.
type PractitionerRef struct{ Country, PractitionerID string }

// RebuildQuery asks what a rebuild reads of a practitioner: the busy and
// gone hashes, and the kept bitmaps of Dates.
type RebuildQuery struct {
	PractitionerRef
	Dates []string
}

// RebuildState answers a RebuildQuery.
type RebuildState struct {
	Busy, Gone map[string]string
	Days       map[string][]byte // the Dates that have a bitmap
}

// ReadRebuildState answers each query (HGETALL, HGETALL, MGET of one
// practitioner's keys) in one round trip.
func (s *Store) ReadRebuildState(ctx context.Context, qs []RebuildQuery) ([]RebuildState, error) {
	k := s.Keys
	busy := make([]*redis.MapStringStringCmd, len(qs))
	gones := make([]*redis.MapStringStringCmd, len(qs))
	days := make([]*redis.SliceCmd, len(qs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range qs {
			busy[i] = p.HGetAll(ctx, k.Busy(q.Country, q.PractitionerID))
			gones[i] = p.HGetAll(ctx, k.Gone(q.Country, q.PractitionerID))
			if len(q.Dates) > 0 {
				days[i] = p.MGet(ctx, s.dayKeys(q.Country, q.PractitionerID, q.Dates)...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]RebuildState, len(qs))
	for i, q := range qs {
		out[i] = RebuildState{Busy: busy[i].Val(), Gone: gones[i].Val()}
		if days[i] == nil {
			continue
		}
		out[i].Days = make(map[string][]byte, len(q.Dates))
		for j, v := range days[i].Val() {
			if b, ok := v.(string); ok {
				out[i].Days[q.Dates[j]] = []byte(b)
			}
		}
	}
	return out, nil
}

// Rebuilt is a practitioner's model as a rebuild computed it.
type Rebuilt struct {
	Country, PractitionerID string
	Changes                 *Changes
	// DropDays are dates whose bitmap is no longer the model's (outside the
	// window).
	DropDays []string
	Due      time.Time // its maintenance
}

// WriteRebuilt writes the practitioners' models as Update would write the
// same Changes, drops their stale days, and schedules their maintenance
// (one ZADD), in one round trip.
func (s *Store) WriteRebuilt(ctx context.Context, batch []Rebuilt) error {
	if len(batch) == 0 {
		return nil
	}
	due := make([]redis.Z, len(batch))
	for i, w := range batch {
		due[i] = redis.Z{Score: float64(w.Due.Unix()), Member: DueMember(w.Country, w.PractitionerID)}
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range batch {
			s.queueWrite(ctx, p, w.Country, w.PractitionerID, w.Changes)
			if len(w.DropDays) > 0 {
				p.Unlink(ctx, s.dayKeys(w.Country, w.PractitionerID, w.DropDays)...)
			}
		}
		p.ZAdd(ctx, s.Keys.Due(), due...)
		return nil
	})
	return err
}

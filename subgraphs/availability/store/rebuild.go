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

// ClearModel unlinks the read model's keys under the prefix, on every
// master: the busy hashes, pending notifications and the maintenance
// schedule, and every key of the former layout (IsLegacyKey), whose
// tombstones are first renamed into this layout's (unless it has some).
// It keeps the tombstones (idempotency memory, like the consumers' dedupe
// keys) and the records, which the rebuild overwrites, so that listings
// keep an answer meanwhile; it returns who has one (the records a rebuild
// does not write again are for it to drop, DropRecords).
func (s *Store) ClearModel(ctx context.Context) (map[string]bool, error) {
	k := s.Keys
	_, cluster := s.rdb.(*redis.ClusterClient)
	kept := map[string]bool{}
	err := redisconn.Scan(ctx, s.rdb, k.Prefix+"*", 5000, func(keys []string) error {
		var renames [][2]string
		model := slices.DeleteFunc(keys, func(key string) bool {
			switch k.KeyKind(key) {
			case "record":
				if pid, ok := hashTag(key); ok {
					kept[pid] = true
				}
				return true
			case "busy", "pending", "due":
				return false
			case "":
				if !k.IsLegacyKey(key) {
					return true
				}
				if k.isLegacyGone(key) {
					if pid, ok := hashTag(key); ok {
						renames = append(renames, [2]string{key, k.Gone(pid)})
					}
				}
				return false
			}
			return true // this layout's tombstones
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
			for _, r := range renames {
				p.RenameNX(ctx, r[0], r[1])
			}
			for _, g := range groups {
				p.Unlink(ctx, g...)
			}
			return nil
		})
		return err
	})
	return kept, err
}

// DropRecords unlinks the records of the practitioners, in one round trip.
func (s *Store) DropRecords(ctx context.Context, pids []string) error {
	if len(pids) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pid := range pids {
			p.Unlink(ctx, s.Keys.Record(pid))
		}
		return nil
	})
	return err
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
	PractitionerID, AppointmentID string
	Version                       int64
	Entry                         string // the busy hash's value
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
return 1`)

// PutOccupied stores the appointments (a script each, pipelined).
func (s *Store) PutOccupied(ctx context.Context, batch []Occupied) error {
	k := s.Keys
	_, err := s.runScripts(ctx, putOccupied, len(batch), func(i int) ([]string, []any) {
		o := batch[i]
		return []string{k.Busy(o.PractitionerID), k.Gone(o.PractitionerID)}, []any{o.AppointmentID, o.Version, o.Entry}
	})
	return err
}

// RebuildState is what a rebuild reads of a practitioner: its busy and gone
// hashes.
type RebuildState struct {
	Busy, Gone map[string]string
}

// ReadRebuildState reads each practitioner's hashes (two HGETALLs each) in
// one round trip.
func (s *Store) ReadRebuildState(ctx context.Context, pids []string) ([]RebuildState, error) {
	k := s.Keys
	busy := make([]*redis.MapStringStringCmd, len(pids))
	gones := make([]*redis.MapStringStringCmd, len(pids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, pid := range pids {
			busy[i] = p.HGetAll(ctx, k.Busy(pid))
			gones[i] = p.HGetAll(ctx, k.Gone(pid))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]RebuildState, len(pids))
	for i := range pids {
		out[i] = RebuildState{Busy: busy[i].Val(), Gone: gones[i].Val()}
	}
	return out, nil
}

// Rebuilt is a practitioner's model as a rebuild computed it.
type Rebuilt struct {
	PractitionerID string
	Record         *Record
	// BusyDel and GoneDel are the entries pruned (ended, as the event path
	// prunes them).
	BusyDel, GoneDel []string
	Due              time.Time // its maintenance
}

// WriteRebuilt writes the practitioners' records and prunes their hashes
// as Update would, and schedules their maintenance (one ZADD), in one round
// trip.
func (s *Store) WriteRebuilt(ctx context.Context, batch []Rebuilt) error {
	if len(batch) == 0 {
		return nil
	}
	k := s.Keys
	recs := make([][]byte, len(batch))
	due := make([]redis.Z, len(batch))
	for i, w := range batch {
		var err error
		if recs[i], err = encodeRecord(w.Record); err != nil {
			return err
		}
		due[i] = redis.Z{Score: float64(w.Due.Unix()), Member: w.PractitionerID}
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range batch {
			p.Set(ctx, k.Record(w.PractitionerID), recs[i], 0)
			if len(w.BusyDel) > 0 {
				p.HDel(ctx, k.Busy(w.PractitionerID), w.BusyDel...)
			}
			if len(w.GoneDel) > 0 {
				p.HDel(ctx, k.Gone(w.PractitionerID), w.GoneDel...)
			}
		}
		p.ZAdd(ctx, k.Due(), due...)
		return nil
	})
	return err
}

package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/redisconn"
)

// ClearModel unlinks every read-model key under the prefix (IsModelKey), on
// every master.
func (s *Store) ClearModel(ctx context.Context) error {
	k := s.Keys
	return redisconn.Scan(ctx, s.rdb, k.Prefix+"*", 5000, func(keys []string) error {
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
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range batch {
				p.Unlink(ctx, key)
			}
			return nil
		})
		return err
	})
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
	if err := putOccupied.Load(ctx, s.rdb).Err(); err != nil {
		return err
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range batch {
			cc, pid := o.Country, o.PractitionerID
			putOccupied.EvalSha(ctx, p, []string{k.Busy(cc, pid), k.Gone(cc, pid), k.Index(pid)},
				o.AppointmentID, o.Version, o.Entry, cc)
		}
		return nil
	})
	return err
}

// PractitionerRef names a practitioner.
type PractitionerRef struct{ Country, PractitionerID string }

// Occupancy is a practitioner's busy and gone hashes.
type Occupancy struct{ Busy, Gone map[string]string }

// ReadOccupancy reads the busy and gone hashes of each practitioner in one
// round trip.
func (s *Store) ReadOccupancy(ctx context.Context, who []PractitionerRef) ([]Occupancy, error) {
	k := s.Keys
	busy := make([]*redis.MapStringStringCmd, len(who))
	gones := make([]*redis.MapStringStringCmd, len(who))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range who {
			busy[i] = p.HGetAll(ctx, k.Busy(w.Country, w.PractitionerID))
			gones[i] = p.HGetAll(ctx, k.Gone(w.Country, w.PractitionerID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Occupancy, len(who))
	for i := range who {
		out[i] = Occupancy{Busy: busy[i].Val(), Gone: gones[i].Val()}
	}
	return out, nil
}

// Rebuilt is a practitioner's model as a rebuild computed it.
type Rebuilt struct {
	Country, PractitionerID string
	Changes                 *Changes
	Due                     time.Time // its maintenance
}

// WriteRebuilt writes the practitioners' models and schedules their
// maintenance, in one round trip.
func (s *Store) WriteRebuilt(ctx context.Context, batch []Rebuilt) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range batch {
			s.queueWrite(ctx, p, w.Country, w.PractitionerID, w.Changes)
			p.ZAdd(ctx, s.Keys.Due(), redis.Z{Score: float64(w.Due.Unix()), Member: DueMember(w.Country, w.PractitionerID)})
		}
		return nil
	})
	return err
}

package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Who is a returning patient of which practice, learnt from booking events
// (never from booking's database): one hash per practitioner and person,
//
//	{prefix}seen:{pid}:{person}   hash: appointment id → "version|status|startMs"
//
// holding the person's appointments with the practitioner at their latest
// version. A person is a returning patient for a start after the earliest
// CONFIRMED or NO_SHOW one (booking's rule). An anonymised appointment (its
// patient erased their account) is removed from its former person's hash.

// Seen is a person's hash of appointments with a practitioner.
func (k Keys) Seen(pid, person string) string { return k.Prefix + "seen:{" + pid + "}:" + person }

// putSeen stores an appointment's entry unless the hash holds it at the same
// or a newer version.
var putSeen = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4])
return 1`)

// PutSeen records an appointment of person with pid at a version.
func (s *Store) PutSeen(ctx context.Context, pid, person, appointmentID string, version int64, status string, start time.Time) error {
	return putSeen.Run(ctx, s.rdb, []string{s.Keys.Seen(pid, person)}, appointmentID, version, status, start.UnixMilli()).Err()
}

// ForgetSeen removes an appointment from person's hash (erasure).
func (s *Store) ForgetSeen(ctx context.Context, pid, person, appointmentID string) error {
	return s.rdb.HDel(ctx, s.Keys.Seen(pid, person), appointmentID).Err()
}

// SeenQuery asks since when person is a returning patient of a practitioner.
type SeenQuery struct{ PractitionerID, Person string }

// ReturningSince answers each query, pipelined in one round trip: the start
// of the person's earliest confirmed appointment or no-show with the
// practitioner (nil: a new patient).
func (s *Store) ReturningSince(ctx context.Context, qs []SeenQuery) ([]*time.Time, error) {
	out := make([]*time.Time, len(qs))
	if len(qs) == 0 {
		return out, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(qs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range qs {
			cmds[i] = p.HGetAll(ctx, s.Keys.Seen(q.PractitionerID, q.Person))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range cmds {
		for _, v := range c.Val() {
			parts := strings.Split(v, "|")
			if len(parts) != 3 || (parts[1] != "CONFIRMED" && parts[1] != "NO_SHOW") {
				continue
			}
			ms, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				continue
			}
			if t := time.UnixMilli(ms).UTC(); out[i] == nil || t.Before(*out[i]) {
				out[i] = &t
			}
		}
	}
	return out, nil
}

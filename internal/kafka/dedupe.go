package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultDedupeTTL is how long a RedisDeduper remembers an event: longer
// than the topics' 7-day retention, so no replay can outlive the memory.
const DefaultDedupeTTL = 8 * 24 * time.Hour

// RedisDeduper is a Deduper keeping one key per applied event,
// "<prefix>dedupe:<consumer>:<event id>", with a TTL.
type RedisDeduper struct {
	rdb      redis.UniversalClient
	prefix   string
	consumer string
	ttl      time.Duration
}

var _ Deduper = (*RedisDeduper)(nil)

// NewRedisDeduper returns a Redis-backed Deduper for one consumer. keyPrefix
// is the process-wide Redis key prefix (may be empty); ttl <= 0 means
// DefaultDedupeTTL.
func NewRedisDeduper(rdb redis.UniversalClient, keyPrefix, consumer string, ttl time.Duration) *RedisDeduper {
	if ttl <= 0 {
		ttl = DefaultDedupeTTL
	}
	return &RedisDeduper{rdb: rdb, prefix: keyPrefix, consumer: consumer, ttl: ttl}
}

func (d *RedisDeduper) key(eventID string) string {
	return d.prefix + "dedupe:" + d.consumer + ":" + eventID
}

// Seen reports whether eventID was marked.
func (d *RedisDeduper) Seen(ctx context.Context, eventID string) (bool, error) {
	n, err := d.rdb.Exists(ctx, d.key(eventID)).Result()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// Mark records eventID (SET NX with the TTL).
func (d *RedisDeduper) Mark(ctx context.Context, eventID string) error {
	err := d.rdb.SetArgs(ctx, d.key(eventID), "1", redis.SetArgs{Mode: "NX", TTL: d.ttl}).Err()
	if errors.Is(err, redis.Nil) { // NX and the key exists: already marked
		return nil
	}
	return err
}

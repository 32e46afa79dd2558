package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultCacheTTL is how long a search page stays cached.
const DefaultCacheTTL = 45 * time.Second

// RedisCache keeps search pages in Redis under
// "<prefix>search:page:<cc>:<generation>:<hash>" for TTL, and a generation
// counter per country, "<prefix>search:gen:<cc>", that changes which pages
// are read: bumping it makes a country's cached pages unreachable at once
// (they expire on their own).
type RedisCache struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewRedisCache returns a cache; ttl <= 0 means DefaultCacheTTL.
func NewRedisCache(rdb redis.UniversalClient, keyPrefix string, ttl time.Duration) *RedisCache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &RedisCache{rdb: rdb, prefix: keyPrefix, ttl: ttl}
}

func (c *RedisCache) genKey(country string) string { return c.prefix + "search:gen:" + country }

// Generation is the country's cache generation (0 before the first bump).
func (c *RedisCache) Generation(ctx context.Context, country string) (int64, error) {
	n, err := c.rdb.Get(ctx, c.genKey(country)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Get reads a cached page.
func (c *RedisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, c.prefix+"search:page:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Set caches a page for the TTL.
func (c *RedisCache) Set(ctx context.Context, key string, value []byte) error {
	return c.rdb.Set(ctx, c.prefix+"search:page:"+key, value, c.ttl).Err()
}

// Bump moves the country to a new generation.
func (c *RedisCache) Bump(ctx context.Context, country string) error {
	return c.rdb.Incr(ctx, c.genKey(country)).Err()
}

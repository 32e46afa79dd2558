// Package redisconn opens the platform's Redis client — a single server or a
// Redis Cluster, behind one redis.UniversalClient — and runs what must visit
// every master of a cluster (SCAN-based exports and cleanups).
//
// On a cluster every multi-key command, transaction and script must touch a
// single hash slot: keys that go together share a hash tag (`{…}`, e.g.
// availability's `fr:avail:{practitionerId}:2026-12-04`), and key prefixes
// must not contain braces. Pub/sub uses classic channels, which a cluster
// delivers to subscribers on any node.
package redisconn

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open returns a client for the settings: a cluster client seeded with
// clusterAddrs when there are any (credentials and TLS then come from
// redisURL's user, password and rediss scheme), else a client of the single
// server at redisURL.
func Open(redisURL string, clusterAddrs []string) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if len(clusterAddrs) == 0 {
		return redis.NewClient(opts), nil
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:     clusterAddrs,
		Username:  opts.Username,
		Password:  opts.Password,
		TLSConfig: opts.TLSConfig,
		// Notice a failover within seconds even on a client that only
		// publishes or subscribes (go-redis refreshes on errors otherwise).
		ClusterStateReloadInterval: 5 * time.Second,
	}), nil
}

// ForEachMaster runs fn on every master of a cluster (concurrently), or on
// the one server of a standalone client.
func ForEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(ctx context.Context, c *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	default:
		return fmt.Errorf("redisconn: unsupported client %T", rdb)
	}
}

// Scan calls fn with every page of keys matching pattern, on every master.
// On a cluster the masters are scanned one after the other, so fn is never
// called concurrently. Keys written or deleted during the scan may or may
// not be seen, as with SCAN itself.
func Scan(ctx context.Context, rdb redis.UniversalClient, pattern string, count int64, fn func(keys []string) error) error {
	scan := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return ForEachMaster(ctx, rdb, scan)
	}
	// ForEachMaster runs concurrently; collect the masters and go one by one.
	var (
		mu      sync.Mutex
		masters []*redis.Client
	)
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, c)
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range masters {
		if err := scan(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// Package redisconn opens the platform's Redis client — a single server or a
// Redis Cluster, behind one redis.UniversalClient — and runs what must visit
// every master of a cluster (SCAN-based exports and cleanups).
//
// On a cluster every multi-key command, transaction and script must touch a
// single hash slot: keys that go together share a hash tag (`{…}`, e.g.
// availability's `av2:busy:{practitionerId}` and `av2:p:{practitionerId}`), and key prefixes
// must not contain braces. Pub/sub uses classic channels, which a cluster
// delivers to subscribers on any node.
package redisconn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
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
	return ScanPages(ctx, rdb, pattern, count, "", func(keys []string, _ string) error { return fn(keys) })
}

// ErrBadCursor is ScanPages' answer to a cursor it did not make.
var ErrBadCursor = errors.New("redisconn: malformed scan cursor")

// ScanPages is Scan resumable: it starts after cursor ("" from the start)
// and gives fn, with every page of keys, the cursor that continues right
// after it. The cursor names the master (by its place among the masters
// sorted by address) and its SCAN cursor, with a fingerprint of the masters:
// when they changed since (a failover), the scan starts over, so keys may
// come twice but are never skipped.
func ScanPages(ctx context.Context, rdb redis.UniversalClient, pattern string, count int64, after string, fn func(keys []string, cursor string) error) error {
	masters, err := mastersByAddr(ctx, rdb)
	if err != nil {
		return err
	}
	h := fnv.New32a()
	for _, m := range masters {
		_, _ = h.Write([]byte(m.Options().Addr + ","))
	}
	fingerprint := strconv.FormatUint(uint64(h.Sum32()), 36)
	from, cursor := 0, uint64(0)
	if after != "" {
		parts := strings.Split(after, ".")
		if len(parts) != 3 {
			return fmt.Errorf("%w %q", ErrBadCursor, after)
		}
		i, err1 := strconv.Atoi(parts[1])
		c, err2 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || i < 0 {
			return fmt.Errorf("%w %q", ErrBadCursor, after)
		}
		if parts[0] == fingerprint && i <= len(masters) {
			from, cursor = i, c
		}
	}
	for i := from; i < len(masters); i++ {
		for {
			keys, next, err := masters[i].Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				return err
			}
			// Where the next page starts: this master's next SCAN
			// cursor, or the next master's start.
			resume := fmt.Sprintf("%s.%d.%d", fingerprint, i, next)
			if next == 0 {
				resume = fmt.Sprintf("%s.%d.0", fingerprint, i+1)
			}
			if len(keys) > 0 {
				if err := fn(keys, resume); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// mastersByAddr lists the masters (the one server of a standalone client)
// in address order.
func mastersByAddr(ctx context.Context, rdb redis.UniversalClient) ([]*redis.Client, error) {
	var (
		mu      sync.Mutex
		masters []*redis.Client
	)
	err := ForEachMaster(ctx, rdb, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, c)
		return nil
	})
	slices.SortFunc(masters, func(a, b *redis.Client) int { return cmp.Compare(a.Options().Addr, b.Options().Addr) })
	return masters, err
}

// Package testenv gives each test its own real resources: a fresh PostgreSQL
// database with a service's migrations applied, a Redis key prefix, so tests
// run in parallel and can be run again.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/redisconn"
)

// ServerURL is the PostgreSQL server tests use (TEST_DATABASE_URL, else DATABASE_URL, else local).
func ServerURL() string {
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis server tests use (TEST_REDIS_URL, else REDIS_URL),
// by default the local server's logical database 13: the tests' own, so
// their SCANs (clean-ups, exports, rebuilds) never walk the keys that
// `make run` and `make bench` keep in database 0.
func RedisURL() string {
	for _, k := range []string{"TEST_REDIS_URL", "REDIS_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "redis://127.0.0.1:6379/13"
}

// EnvRedisCluster names the seed nodes (comma-separated) of a Redis Cluster
// that Redis gives tests instead of the single server; RunOnRedisCluster sets it.
const EnvRedisCluster = "TEST_REDIS_CLUSTER_ADDRS"

// RedisClusterAddrs are the nodes of EnvRedisCluster (none: the single server).
func RedisClusterAddrs() []string {
	return config.List(os.Getenv(EnvRedisCluster))
}

// Suffix is a short random name part.
func Suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewDatabase creates a database named after the test with the platform and
// service migrations applied, and drops it when the test ends. It returns a
// pool and the database URL.
func NewDatabase(t testing.TB, service string) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := "t_" + strings.ReplaceAll(service, "-", "_") + "_" + Suffix()
	dsn := config.WithDatabase(ServerURL(), name)
	if err := postgres.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := postgres.DropDatabase(ctx, dsn); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	pool, err := postgres.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect test database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, service, nil); err != nil {
		t.Fatalf("migrate %s: %v", service, err)
	}
	return pool, dsn
}

// Redis returns a client and a key prefix unique to the test; keys under the
// prefix are deleted when the test ends. The client is a Redis Cluster's when
// EnvRedisCluster is set (see RunOnRedisCluster), else the single server's.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	rdb, err := redisconn.Open(RedisURL(), RedisClusterAddrs())
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	prefix := "t" + Suffix() + ":"
	t.Cleanup(func() {
		deletePrefix(rdb, prefix)
		_ = rdb.Close()
	})
	return rdb, prefix
}

// DeleteRedisPrefix deletes the keys under prefix on the tests' Redis: the
// clean-up of a system under test that opened its own clients.
func DeleteRedisPrefix(prefix string) {
	rdb, err := redisconn.Open(RedisURL(), RedisClusterAddrs())
	if err != nil {
		return
	}
	defer rdb.Close()
	deletePrefix(rdb, prefix)
}

func deletePrefix(rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = redisconn.Scan(ctx, rdb, prefix+"*", 1000, func(keys []string) error {
		for _, k := range keys {
			rdb.Unlink(ctx, k) // one at a time: in a cluster the keys are on several nodes
		}
		return nil
	})
}

// PubSubChannels lists the channels matching pattern that have subscribers,
// on every node of a cluster (a subscriber may be connected to any node,
// replicas included; PUBSUB CHANNELS answers for its own node only).
func PubSubChannels(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.PubSubChannels(ctx, pattern).Result()
	}
	nodes, err := cc.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		o := cc.Options()
		c := redis.NewClient(&redis.Options{Addr: addr, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig})
		chs, err := c.PubSubChannels(ctx, pattern).Result()
		_ = c.Close()
		if err != nil {
			return nil, err
		}
		for _, ch := range chs {
			set[ch] = true
		}
	}
	out := make([]string, 0, len(set))
	for ch := range set {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out, nil
}

// RunOnRedisCluster runs the named tests of this test binary again, in a
// child process whose Redis (see Redis) is a Redis Cluster of three masters
// and three replicas started for it, and fails if any of them fails or does
// not run. In that child it does nothing.
func RunOnRedisCluster(t *testing.T, tests ...string) {
	t.Helper()
	if len(RedisClusterAddrs()) > 0 {
		t.Skip("already on a Redis Cluster")
	}
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := NewRedisCluster(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run", "^("+strings.Join(tests, "|")+")$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), EnvRedisCluster+"="+strings.Join(c.Addrs(), ","))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("on a Redis Cluster: %v\n%s", err, out)
	}
	for _, name := range tests {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Fatalf("on a Redis Cluster: %s did not pass\n%s", name, out)
		}
	}
	t.Logf("passed on a Redis Cluster (%s): %s", strings.Join(c.Addrs()[:3], ","), strings.Join(tests, ", "))
}

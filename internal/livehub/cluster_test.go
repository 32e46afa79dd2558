package livehub_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/careslot/careslot/internal/livehub"
	"github.com/careslot/careslot/internal/testenv"
)

// TestOnRedisCluster runs the hub's tests again on a Redis Cluster, where a
// subscriber's connection may be on any node.
func TestOnRedisCluster(t *testing.T) {
	testenv.RunOnRedisCluster(t, "TestRefcountsAndFanOut", "TestLatestWins", "TestNoLeaks", "TestClose")
}

// TestResyncAfterNodeLoss: the node holding the hub's connection dies (a
// master is failed over to its replica); the hub reconnects to another node,
// tells its subscribers to recompute (messages may have been missed), and
// delivers what is published afterwards.
func TestResyncAfterNodeLoss(t *testing.T) {
	if len(testenv.RedisClusterAddrs()) > 0 || testing.Short() {
		t.Skip("starts a Redis Cluster of its own")
	}
	c := testenv.NewRedisCluster(t)
	rdb := c.Client()
	defer rdb.Close()
	hub := livehub.New(rdb, nil)
	defer hub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const ch = "failover:x"
	sub, err := hub.Subscribe(ctx, ch, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	rdb.Publish(ctx, ch, "m1")
	if got := recv(t, sub); got != "m1" {
		t.Fatalf("before: %q", got)
	}

	var victim *testenv.RedisNode
	for _, n := range c.Nodes {
		chs, err := nodeChannels(ctx, n.Addr(), ch)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(chs, ch) {
			victim = n
		}
	}
	if victim == nil {
		t.Fatal("no node has the hub's subscription")
	}
	c.Kill(victim)
	t.Logf("killed %s, which held the hub's connection", victim.Addr())

	deadline := time.After(30 * time.Second)
	resynced := false
	for !resynced {
		select {
		case m := <-sub.C:
			resynced = m == nil
		case <-deadline:
			t.Fatal("no resync after the node was lost")
		}
	}
	// Publish until a message gets through (the cluster may still be
	// failing over): the hub delivers it.
	for i := 0; ; i++ {
		_ = rdb.Publish(ctx, ch, "m2").Err()
		select {
		case m := <-sub.C:
			if string(m) == "m2" {
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
		select {
		case <-deadline:
			t.Fatal("nothing delivered after the node was lost")
		default:
		}
	}
}

// nodeChannels lists the channels one node has subscribers for (PUBSUB
// CHANNELS is local to a node).
func nodeChannels(ctx context.Context, addr, pattern string) ([]string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	return rdb.PubSubChannels(ctx, pattern).Result()
}

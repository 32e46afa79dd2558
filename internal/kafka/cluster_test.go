package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
)

// topicReplication returns each topic's replication factor (its first
// partition's replica count) and min.insync.replicas.
func topicReplication(ctx context.Context, t *testing.T, brokers []string, topics ...string) (map[string]int, map[string]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	rf := map[string]int{}
	for _, name := range topics {
		d, ok := details[name]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			t.Fatalf("topic %s: %+v", name, d)
		}
		rf[name] = len(d.Partitions[0].Replicas)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	isr := map[string]string{}
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" && c.Value != nil {
				isr[rc.Name] = *c.Value
			}
		}
	}
	return rf, isr
}

// TestTopicsReplicatedOnThreeBrokers: on a broker of three nodes, topics
// are created with replication 3 and min.insync.replicas 2; the idempotent
// acks=all producer and a consumer group work across the nodes, seeded with
// any one of them.
func TestTopicsReplicatedOnThreeBrokers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 60*time.Second)
	b := kafkatest.StartCluster(t, 3, "")
	brokers := b.Addrs()
	if len(brokers) != 3 {
		t.Fatalf("brokers %v", brokers)
	}
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}
	names := kafka.Topics(prefix, events.AllTopics...)
	rf, isr := topicReplication(ctx, t, brokers, names...)
	for _, n := range names {
		if rf[n] != kafka.ReplicationFactor || isr[n] != "2" {
			t.Errorf("topic %s: replication %d, min.insync.replicas %q", n, rf[n], isr[n])
		}
	}

	topic := kafka.Topic(prefix, events.BookingEvents)
	// Seeded with the last node only: the client finds the others.
	produce(ctx, t, brokers[2:], topic, "prac-1", mustEvent(t, "prac-1", 1), mustEvent(t, "prac-1", 2))
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers[1]), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got int
	for got < 2 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	meta, err := kadm.NewClient(cons).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers", len(meta.Brokers))
	}
}

// TestTopicsOnOneBrokerTakeItsDefaults: a single broker cannot replicate;
// topics are created with its defaults rather than refused.
func TestTopicsOnOneBrokerTakeItsDefaults(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.BookingEvents); err != nil {
		t.Fatal(err)
	}
	topic := kafka.Topic(prefix, events.BookingEvents)
	rf, isr := topicReplication(ctx, t, brokers, topic)
	if rf[topic] != 1 || isr[topic] == "2" {
		t.Fatalf("replication %d, min.insync.replicas %q", rf[topic], isr[topic])
	}
}

package kafka_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
)

// A consumer with a backlog is caught up only once it has processed every
// record that was there when it started; a member started after the group
// committed everything is caught up without processing anything.
func TestConsumerCatchesUpWithTheBacklog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 60*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.BookingEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.BookingEvents); err != nil {
		t.Fatal(err)
	}
	const backlog = 24
	for i := range backlog { // several keys: several partitions
		produce(ctx, t, brokers, topic, fmt.Sprintf("prac-%d", i), mustEvent(t, fmt.Sprintf("prac-%d", i), i))
	}

	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var applied atomic.Int64
	held := func(ctx context.Context, _ events.Envelope) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		applied.Add(1)
		return nil
	}
	group := prefix + "catchup"
	c := newConsumer(t, kafka.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Handler: held})
	stop := runConsumer(t, ctx, c)
	select {
	case <-entered: // assigned, fetching, handling the first record
	case <-ctx.Done():
		t.Fatal("no record handled")
	}
	select {
	case <-c.CaughtUp():
		t.Fatal("caught up while its handler holds the backlog")
	case <-time.After(500 * time.Millisecond):
	}
	if err := kafka.CaughtUp(c); err == nil {
		t.Fatal("CaughtUp: nil while the backlog is held")
	}
	close(release)
	waitCaughtUp(ctx, t, c)
	if n := applied.Load(); n < backlog {
		t.Fatalf("caught up after %d of the %d records there at start", n, backlog)
	}
	if err := kafka.CaughtUp(c); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, brokers, group, topic, backlog)
	stop()

	var again atomic.Int64
	c2 := newConsumer(t, kafka.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic},
		Handler: func(context.Context, events.Envelope) error { again.Add(1); return nil }})
	runConsumer(t, ctx, c2)
	waitCaughtUp(ctx, t, c2)
	if n := again.Load(); n != 0 {
		t.Fatalf("the restarted member processed %d committed records", n)
	}
}

// With nothing to process a consumer is caught up as soon as it joined: two
// members of a new group on an empty topic, and a new group that starts
// after the last record (StartAt) and skips what came before.
func TestConsumerWithNothingToProcessIsCaughtUp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 60*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.PatientEvents, events.PractitionerEvents); err != nil {
		t.Fatal(err)
	}
	empty := kafka.Topic(prefix, events.PatientEvents)
	full := kafka.Topic(prefix, events.PractitionerEvents)
	for i := range 6 {
		produce(ctx, t, brokers, full, fmt.Sprintf("prac-%d", i), mustEvent(t, fmt.Sprintf("prac-%d", i), i))
	}
	var applied atomic.Int64
	count := func(context.Context, events.Envelope) error { applied.Add(1); return nil }
	consumers := []*kafka.Consumer{
		newConsumer(t, kafka.ConsumerConfig{Brokers: brokers, Group: prefix + "idle", Topics: []string{empty}, Handler: count}),
		newConsumer(t, kafka.ConsumerConfig{Brokers: brokers, Group: prefix + "idle", Topics: []string{empty}, Handler: count}),
		newConsumer(t, kafka.ConsumerConfig{Brokers: brokers, Group: prefix + "late", Topics: []string{full}, Handler: count,
			StartAt: time.Now().Add(time.Hour)}),
	}
	for _, c := range consumers {
		runConsumer(t, ctx, c)
	}
	for _, c := range consumers {
		waitCaughtUp(ctx, t, c)
	}
	if err := kafka.CaughtUp(consumers...); err != nil {
		t.Fatal(err)
	}
	if n := applied.Load(); n != 0 {
		t.Fatalf("%d records processed, want none (empty topic, records before StartAt)", n)
	}
}

func newConsumer(t *testing.T, cfg kafka.ConsumerConfig) *kafka.Consumer {
	t.Helper()
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitCaughtUp(ctx context.Context, t *testing.T, c *kafka.Consumer) {
	t.Helper()
	select {
	case <-c.CaughtUp():
	case <-ctx.Done():
		t.Fatalf("never caught up: %v", kafka.CaughtUp(c))
	}
}

package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/testenv"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

func TestTopic(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"", "booking-events"},
		{"t1.", "t1.booking-events"},
		{"t1-", "t1-booking-events"},
		{"t1", "t1.booking-events"},
	} {
		if got := kafka.Topic(c.prefix, events.BookingEvents); got != c.want {
			t.Errorf("Topic(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	for range 2 {
		if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, kafka.Topics(prefix, events.AllTopics...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range events.AllTopics {
		d, ok := details[kafka.Topic(prefix, name)]
		if !ok || d.Err != nil {
			t.Fatalf("topic %s: %+v", name, d)
		}
		if n := len(d.Partitions); n != kafka.DefaultPartitions {
			t.Errorf("topic %s has %d partitions, want %d", name, n, kafka.DefaultPartitions)
		}
	}
}

// TestConsumerDedupes delivers the same event twice; the handler must apply
// it once.
func TestConsumerDedupes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.BookingEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.BookingEvents); err != nil {
		t.Fatal(err)
	}

	evA := mustEvent(t, "prac-1", 1)
	evB := mustEvent(t, "prac-1", 2)
	produce(ctx, t, brokers, topic, "prac-1", evA, evA, evB, evA)

	rdb := redisClient(t)
	var (
		mu      sync.Mutex
		applied = map[string]int{}
		doneB   = make(chan struct{})
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: brokers,
		Group:   prefix + "dedupe",
		Topics:  []string{topic},
		Dedupe:  kafka.NewRedisDeduper(rdb, redisPrefix(t, rdb), "test", time.Minute),
		Handler: func(_ context.Context, ev events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			applied[ev.ID]++
			if ev.ID == evB.ID {
				close(doneB)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, ctx, c)
	select {
	case <-doneB:
	case <-ctx.Done():
		t.Fatal("event B never arrived")
	}
	// The last duplicate of A comes after B in the partition; wait until
	// the consumer has committed it.
	waitCommitted(ctx, t, brokers, prefix+"dedupe", topic, 4)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if applied[evA.ID] != 1 || applied[evB.ID] != 1 || len(applied) != 2 {
		t.Fatalf("applied = %v, want each event once", applied)
	}
}

// TestConsumerRetriesInOrder makes the handler fail a few times on the first
// event: the consumer must retry it and never skip ahead, and commit only
// what was applied.
func TestConsumerRetriesInOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.PractitionerEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.PractitionerEvents); err != nil {
		t.Fatal(err)
	}
	var evs []events.Envelope
	for i := range 5 {
		evs = append(evs, mustEvent(t, "prac-9", i))
	}
	produce(ctx, t, brokers, topic, "prac-9", evs...)

	var (
		mu       sync.Mutex
		order    []string
		failures = 3
		done     = make(chan struct{})
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers:         brokers,
		Group:           prefix + "retry",
		Topics:          []string{topic},
		MaxRetryBackoff: 100 * time.Millisecond,
		Handler: func(_ context.Context, ev events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.ID == evs[0].ID && failures > 0 {
				failures--
				return errors.New("transient failure")
			}
			order = append(order, ev.ID)
			if len(order) == len(evs) {
				close(done)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, ctx, c)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("only %d of %d events applied", len(order), len(evs))
	}
	waitCommitted(ctx, t, brokers, prefix+"retry", topic, int64(len(evs)))
	stop()
	for i, ev := range evs {
		if order[i] != ev.ID {
			t.Fatalf("applied out of order: %v", order)
		}
	}
	if failures != 0 {
		t.Fatalf("handler failed %d times fewer than planned", failures)
	}
}

// TestConsumerKeyLanesKeepEachKeysOrder interleaves six keys' events in one
// partition and consumes them with three lanes: events of different keys
// overlap (never more than three at once), each key's events are applied in
// the order they were produced even when one of them fails and is retried,
// and everything is committed.
func TestConsumerKeyLanesKeepEachKeysOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.PractitionerEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.PractitionerEvents); err != nil {
		t.Fatal(err)
	}
	const keys, perKey, lanes = 6, 5, 3
	want := map[string][]string{}
	var recs []*kgo.Record
	for i := range perKey {
		for k := range keys {
			key := fmt.Sprintf("prac-%d", k)
			ev := mustEvent(t, key, i)
			want[key] = append(want[key], ev.ID)
			b, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: b})
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	var (
		mu                  sync.Mutex
		got                 = map[string][]string{}
		applied             int
		inFlight, maxFlight int
		failures            = 2
		done                = make(chan struct{})
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers:         brokers,
		Group:           prefix + "lanes",
		Topics:          []string{topic},
		KeyLanes:        lanes,
		MaxRetryBackoff: 50 * time.Millisecond,
		Handler: func(_ context.Context, ev events.Envelope) error {
			mu.Lock()
			inFlight++
			maxFlight = max(maxFlight, inFlight)
			fail := ev.ID == want["prac-1"][0] && failures > 0
			if fail {
				failures--
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			inFlight--
			if fail {
				return errors.New("transient failure")
			}
			got[ev.Subject] = append(got[ev.Subject], ev.ID)
			if applied++; applied == keys*perKey {
				close(done)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, ctx, c)
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d events applied", applied, keys*perKey)
	}
	waitCommitted(ctx, t, brokers, prefix+"lanes", topic, keys*perKey)
	stop()
	for key, ids := range want {
		if !slices.Equal(got[key], ids) {
			t.Errorf("%s applied as %v, produced as %v", key, got[key], ids)
		}
	}
	if maxFlight < 2 || maxFlight > lanes {
		t.Errorf("at most %d events were applied at once, want 2 to %d", maxFlight, lanes)
	}
}

func TestBrokerRestartKeepsLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	b := kafkatest.StartBroker(t, "")
	topic := kafka.Topic("", events.AvailabilityEvents) // seeded by the broker
	ev := mustEvent(t, "prac-2", 1)
	produce(ctx, t, b.Addrs(), topic, "prac-2", ev)
	b.Stop()
	b.Start()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != "prac-2" {
		t.Fatalf("after restart got %d records", len(recs))
	}
}

// helpers

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustEvent(t *testing.T, subject string, n int) events.Envelope {
	t.Helper()
	ev, err := events.New(events.Source("test"), events.TypeName("test", "Thing", 1), subject, map[string]int{"n": n})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func produce(ctx context.Context, t *testing.T, brokers []string, topic, key string, evs ...events.Envelope) {
	t.Helper()
	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, ev := range evs {
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: b})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func runConsumer(t *testing.T, ctx context.Context, c *kafka.Consumer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("consumer: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitCommitted waits until group has committed offsets summing to n on topic.
func waitCommitted(ctx context.Context, t *testing.T, brokers []string, group, topic string, n int64) {
	t.Helper()
	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		var sum int64
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic && o.Err == nil {
					sum += o.At
				}
			})
			if sum >= n {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s committed %d of %d offsets (last error %v)", group, sum, n, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// redisPrefix returns a key prefix unique to the test and deletes its keys
// when the test ends.
func redisPrefix(t *testing.T, rdb *redis.Client) string {
	prefix := fmt.Sprintf("kafkatest:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return prefix
}

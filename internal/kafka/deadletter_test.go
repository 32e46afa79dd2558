package kafka_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
)

// TestConsumerDeadLetters puts, in one partition, a good event, a record that
// is not an event, an event its handler refuses for good (Permanent), and an
// event whose handler fails once for a passing reason. The two bad ones must
// end in the dead-letter topic with where they came from and why, the others
// must be applied in order (the transient failure retried), and the
// partition must be committed to its end: nothing lost, nothing stuck.
func TestConsumerDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.BookingEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.BookingEvents); err != nil {
		t.Fatal(err)
	}
	good, poison, flaky := mustEvent(t, "prac-7", 1), mustEvent(t, "prac-7", 2), mustEvent(t, "prac-7", 3)
	produce(ctx, t, brokers, topic, "prac-7", good)
	produceRaw(ctx, t, brokers, topic, "prac-7", []byte("{not an event"))
	produce(ctx, t, brokers, topic, "prac-7", poison, flaky)

	group := prefix + "dlq"
	const maxAttempts = 2
	var (
		mu             sync.Mutex
		applied        []string
		poisonAttempts int
		flakyFailed    bool
		done           = make(chan struct{})
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers:              brokers,
		Group:                group,
		Topics:               []string{topic},
		MaxRetryBackoff:      50 * time.Millisecond,
		MaxPermanentAttempts: maxAttempts,
		Handler: func(_ context.Context, ev events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ev.ID == poison.ID:
				poisonAttempts++
				return kafka.Permanent(errors.New("no such practitioner"))
			case ev.ID == flaky.ID && !flakyFailed:
				flakyFailed = true
				return errors.New("database away")
			}
			applied = append(applied, ev.ID)
			if ev.ID == flaky.ID {
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
		t.Fatal("the event after the poison one was never applied")
	}
	waitCommitted(ctx, t, brokers, group, topic, 4)
	stop()

	mu.Lock()
	if len(applied) != 2 || applied[0] != good.ID || applied[1] != flaky.ID {
		t.Errorf("applied %v, want the good then the flaky event", applied)
	}
	if poisonAttempts != maxAttempts {
		t.Errorf("the poison event was tried %d times, want %d", poisonAttempts, maxAttempts)
	}
	mu.Unlock()

	letters := readAll(ctx, t, brokers, kafka.DeadLetterTopic(topic), 2)
	wantReasons := []string{"events: decode envelope", "no such practitioner"}
	wantAttempts := []string{"0", strconv.Itoa(maxAttempts)}
	for i, r := range letters {
		h := headers(r)
		if string(r.Key) != "prac-7" || h[kafka.HeaderDLQTopic] != topic || h[kafka.HeaderDLQGroup] != group ||
			h[kafka.HeaderDLQAttempts] != wantAttempts[i] || h[kafka.HeaderDLQPartition] == "" || h[kafka.HeaderDLQAt] == "" {
			t.Errorf("dead letter %d: key %q headers %v", i, r.Key, h)
		}
		if reason := h[kafka.HeaderDLQReason]; len(reason) < len(wantReasons[i]) || reason[:len(wantReasons[i])] != wantReasons[i] {
			t.Errorf("dead letter %d: reason %q, want %q…", i, reason, wantReasons[i])
		}
		if off := h[kafka.HeaderDLQOffset]; off != strconv.Itoa(i+1) {
			t.Errorf("dead letter %d: offset %s, want %d", i, off, i+1)
		}
	}
	if ev, err := events.Decode(letters[1].Value); err != nil || ev.ID != poison.ID {
		t.Errorf("second dead letter is not the poison event as it was: %v %v", ev.ID, err)
	}
	if n := deadLettered(t, group, topic); n != 2 {
		t.Errorf("careslot_kafka_dead_lettered_total = %v, want 2", n)
	}
}

func produceRaw(ctx context.Context, t *testing.T, brokers []string, topic, key string, value []byte) {
	t.Helper()
	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads n records of topic from its start.
func readAll(ctx context.Context, t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("%s has %d records, want %d", topic, len(out), n)
	}
	return out
}

func headers(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

// deadLettered reads careslot_kafka_dead_lettered_total{group,topic}.
func deadLettered(t *testing.T, group, topic string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "careslot_kafka_dead_lettered_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["group"] == group && labels["topic"] == topic {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

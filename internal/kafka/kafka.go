// Package kafka is Careslot's Kafka plumbing on franz-go: producer clients,
// topic creation, an embedded broker (kfake) for development, and the
// at-least-once, idempotent consumer every subgraph reuses.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
)

// DefaultPartitions is the partition count EnsureTopics creates topics with.
const DefaultPartitions = 6

// Topic returns the name of topic name under prefix. An empty prefix leaves
// the name alone; a prefix not ending in '.', '-' or '_' is joined with '.'.
func Topic(prefix, name string) string {
	if prefix == "" || strings.HasSuffix(prefix, ".") || strings.HasSuffix(prefix, "-") || strings.HasSuffix(prefix, "_") {
		return prefix + name
	}
	return prefix + "." + name
}

// Topics returns Topic(prefix, name) for each name.
func Topics(prefix string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Topic(prefix, n)
	}
	return out
}

// backoff returns the retry delay for the given attempt (0-based): 50ms
// doubling up to max.
func backoff(attempt int, max time.Duration) time.Duration {
	d := 50 * time.Millisecond
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// allTopics are events.AllTopics and their dead-letter topics.
func allTopics() []string {
	out := append([]string(nil), events.AllTopics...)
	for _, t := range events.AllTopics {
		out = append(out, DeadLetterTopic(t))
	}
	return out
}

// baseOpts are the options every Careslot client starts from.
func baseOpts(brokers []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("careslot"),
		// Reconnect quickly after a broker restart: a broker outage must
		// delay events by little more than the outage itself.
		kgo.RetryBackoffFn(func(tries int) time.Duration { return backoff(tries, time.Second) }),
		kgo.MetadataMinAge(500 * time.Millisecond),
	}
}

// NewClient returns a producer client: franz-go's idempotent producer
// (the default) with all-ISR acks, no linger, and infinite retries, so a
// record is never dropped while the broker is away. opts are applied last
// and override these defaults.
func NewClient(brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	all := append(baseOpts(brokers),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	)
	all = append(all, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client: %w", err)
	}
	return cl, nil
}

// Replication of the topics EnsureTopics creates on a cluster of at least
// ReplicationFactor brokers: a record acknowledged with acks=all is on
// MinInsyncReplicas brokers, so one broker can be lost without losing it or
// stopping writes.
const (
	ReplicationFactor = 3
	MinInsyncReplicas = 2
)

// EnsureTopics creates the topics prefix+name for each name (all of
// events.AllTopics and their dead-letter topics when none are given) with DefaultPartitions partitions,
// replicated ReplicationFactor times with min.insync.replicas
// MinInsyncReplicas when the cluster has enough brokers and accepts it, else
// with the broker's default replication. Topics that exist already are left
// alone. It retries until ctx is done while the broker is unreachable.
func EnsureTopics(ctx context.Context, brokers []string, prefix string, topics ...string) error {
	if len(topics) == 0 {
		topics = allTopics()
	}
	cl, err := kgo.NewClient(baseOpts(brokers)...)
	if err != nil {
		return fmt.Errorf("kafka: new admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := Topics(prefix, topics...)
	for attempt := 0; ; attempt++ {
		err = createTopics(ctx, adm, names)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("kafka: ensure topics %v: %w (last error: %v)", names, ctx.Err(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff(attempt, time.Second)):
		}
	}
}

func createTopics(ctx context.Context, adm *kadm.Client, names []string) error {
	rf, configs := int16(-1), map[string]*string(nil)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) >= ReplicationFactor {
		isr := strconv.Itoa(MinInsyncReplicas)
		rf, configs = ReplicationFactor, map[string]*string{"min.insync.replicas": &isr}
	}
	resps, err := adm.CreateTopics(ctx, DefaultPartitions, rf, configs, names...)
	if err != nil {
		return err
	}
	var errs []error
	var fallback []string
	for _, r := range resps.Sorted() {
		switch {
		case r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists):
		case rf > 0 && (errors.Is(r.Err, kerr.InvalidReplicationFactor) || errors.Is(r.Err, kerr.InvalidConfig) ||
			errors.Is(r.Err, kerr.PolicyViolation)):
			// The cluster refuses the replication or the setting: take its defaults.
			fallback = append(fallback, r.Topic)
		default:
			errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
		}
	}
	if len(fallback) > 0 {
		resps, err := adm.CreateTopics(ctx, DefaultPartitions, -1, nil, fallback...)
		if err != nil {
			return err
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/keylanes"
)

// Handler applies one event. Returning an error makes the consumer retry the
// same event (with backoff) until it succeeds or the consumer stops; an error
// marked Permanent is tried MaxPermanentAttempts times, then the event goes
// to its dead-letter topic (deadletter.go) and the partition moves on. No
// event is skipped unrecorded. Handlers must be idempotent: delivery is
// at-least-once. A handler backed by PostgreSQL claims the event with
// outbox.ClaimEvent in the transaction that applies it; others can rely on a
// Deduper.
type Handler func(ctx context.Context, ev events.Envelope) error

// Deduper remembers which events a consumer has applied.
type Deduper interface {
	// Seen reports whether the event was marked already.
	Seen(ctx context.Context, eventID string) (bool, error)
	// Mark records that the event has been applied.
	Mark(ctx context.Context, eventID string) error
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string
	// Group is the consumer group id, e.g. "availability".
	Group string
	// Topics are the full (already prefixed) topic names to consume.
	Topics  []string
	Handler Handler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Dedupe, when set, skips events it has seen and marks each event after
	// its handler succeeded.
	Dedupe Deduper
	// MaxRetryBackoff caps the delay between retries of a failing handler
	// (default 5s).
	MaxRetryBackoff time.Duration
	// MaxPermanentAttempts is how many times a handler returning a
	// Permanent error runs before the event is dead-lettered (default
	// DefaultMaxPermanentAttempts).
	MaxPermanentAttempts int
	// MaxPollRecords bounds the records taken per poll (default 500).
	MaxPollRecords int
	// KeyLanes is how many keys of one partition are applied at once
	// (default 1: the partition's records strictly in order). Kafka orders
	// records only per key, and every producer here keys an event by what it
	// is about, so records of other keys need not wait: a handler bound by
	// round trips (Redis, the broker) goes KeyLanes times as fast. Each key's
	// records stay in order, and offsets are committed only past records
	// whose every predecessor was applied.
	KeyLanes int
	// StartAt, when set, is where a group without commits starts: at the
	// first record at or after it (default: the earliest record).
	StartAt time.Time
	// ClientOpts are extra franz-go options, applied last.
	ClientOpts []kgo.Opt
}

// ReplicaKeyLanes is the KeyLanes of a consumer that keeps a PostgreSQL
// replica of practices: a bulk import is a burst of one event per practice,
// committed four at a time instead of one, while most of the service's pool
// (sized to the cores) stays free for its requests.
const ReplicaKeyLanes = 4

// SessionTimeout is how long a consumer-group member that stopped
// heartbeating keeps its partitions.
const SessionTimeout = 6 * time.Second

// Consumer is an at-least-once consumer-group member: it commits a record's
// offset only after the handler succeeded for it and every earlier record of
// its partition, processes partitions in parallel and each partition in
// order, retries a failing handler, and passes an event over only once it is
// written to its dead-letter topic.
type Consumer struct {
	cfg      ConsumerConfig
	log      *slog.Logger
	ready    chan struct{}
	onReady  sync.Once
	caughtUp *catchUp
	dead     *deadLetterer // set by Run
}

// NewConsumer validates cfg and returns a Consumer; call Run to start it.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka: consumer needs brokers")
	case cfg.Group == "":
		return nil, errors.New("kafka: consumer needs a group")
	case len(cfg.Topics) == 0:
		return nil, errors.New("kafka: consumer needs topics")
	case cfg.Handler == nil:
		return nil, errors.New("kafka: consumer needs a handler")
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = 5 * time.Second
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 500
	}
	if cfg.MaxPermanentAttempts <= 0 {
		cfg.MaxPermanentAttempts = DefaultMaxPermanentAttempts
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "kafka-consumer", "group", cfg.Group)
	return &Consumer{cfg: cfg, log: log, ready: make(chan struct{}), caughtUp: newCatchUp()}, nil
}

// Ready is closed once the consumer has joined its group and been assigned
// partitions for the first time. CaughtUp says more: see catchup.go.
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

// recordKey is the context key of the record being handled.
type recordKey struct{}

// RecordFrom returns the Kafka record whose event the handler is applying,
// or nil outside a Consumer's handler.
func RecordFrom(ctx context.Context) *kgo.Record {
	r, _ := ctx.Value(recordKey{}).(*kgo.Record)
	return r
}

// Run consumes until ctx is canceled (then it returns nil) or the client
// fails fatally. A new group starts at the earliest offsets.
func (c *Consumer) Run(ctx context.Context) error {
	reset := kgo.NewOffset().AtStart()
	if !c.cfg.StartAt.IsZero() {
		reset = kgo.NewOffset().AfterMilli(c.cfg.StartAt.UnixMilli())
	}
	opts := append(baseOpts(c.cfg.Brokers),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A member that dies without leaving (a crash, kill -9) holds its
		// partitions until the session times out: 6s, the smallest a
		// Kafka broker allows by default, rather than franz-go's 45s.
		kgo.SessionTimeout(SessionTimeout),
		kgo.HeartbeatInterval(SessionTimeout/6),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			c.log.Debug("partitions assigned", "partitions", assigned)
			c.caughtUp.assign(assigned)
			c.onReady.Do(func() { close(c.ready) })
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			c.log.Debug("partitions revoked", "partitions", revoked)
			c.caughtUp.revoke(revoked)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			c.log.Debug("partitions lost", "partitions", lost)
			c.caughtUp.revoke(lost)
		}),
	)
	opts = append(opts, c.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: new consumer client: %w", err)
	}
	defer c.close(cl)
	// The same client writes dead letters: idempotent, all-ISR acks.
	c.dead = &deadLetterer{cl: cl, group: c.cfg.Group}
	trackCtx, stopTracking := context.WithCancel(ctx)
	var tracking sync.WaitGroup
	tracking.Go(func() { c.trackCatchUp(trackCtx, cl) })
	defer tracking.Wait() // before the client closes
	defer stopTracking()

	for {
		fetches := cl.PollRecords(ctx, c.cfg.MaxPollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		done := c.process(ctx, fetches)
		if len(done) > 0 {
			cctx := ctx
			if ctx.Err() != nil {
				// Stopping: still record what was applied, briefly.
				var cancel context.CancelFunc
				cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
			}
			if err := cl.CommitRecords(cctx, done...); err != nil {
				// Not fatal: the records will be delivered again and the
				// handlers are idempotent.
				c.log.Warn("commit offsets", "err", err)
			}
		}
		cl.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// process handles the fetched records, each partition in its own goroutine
// and in order, and returns the last handled record of each partition.
func (c *Consumer) process(ctx context.Context, fetches kgo.Fetches) []*kgo.Record {
	var (
		mu   sync.Mutex
		done []*kgo.Record
		wg   sync.WaitGroup
	)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		wg.Go(func() {
			applied := c.handlePartition(ctx, p.Records)
			var last *kgo.Record
			if applied > 0 {
				last = p.Records[applied-1]
			}
			consumedTotal.WithLabelValues(c.cfg.Group, p.Topic).Add(float64(applied))
			observeLag(c.cfg.Group, p, last)
			if last != nil {
				c.caughtUp.processed(topicPartition{p.Topic, p.Partition}, last.Offset+1)
				mu.Lock()
				done = append(done, last)
				mu.Unlock()
			}
		})
	})
	wg.Wait()
	return done
}

// handlePartition applies one partition's fetched records and returns how
// many of them, from the first, were applied: the commit point. With
// KeyLanes > 1, each key's records run in order in its own lane, up to
// KeyLanes lanes at once; a record of a later key may be applied while an
// earlier one is not (the context ended), which redelivery repeats harmlessly
// as handlers are idempotent.
func (c *Consumer) handlePartition(ctx context.Context, recs []*kgo.Record) int {
	applied := make([]bool, len(recs))
	keylanes.Run(len(recs), c.cfg.KeyLanes, func(i int) string { return string(recs[i].Key) }, func(i int) bool {
		applied[i] = c.handle(ctx, recs[i])
		return applied[i]
	})
	n := 0
	for n < len(applied) && applied[n] {
		n++
	}
	return n
}

// handle applies one record, retrying until it succeeds or, when it cannot
// (undecodable, or a Permanent error MaxPermanentAttempts times), until it is
// dead-lettered; it returns false only when ctx ended first.
func (c *Consumer) handle(ctx context.Context, r *kgo.Record) bool {
	ev, err := events.Decode(r.Value)
	if err != nil {
		// Retrying cannot fix a malformed record.
		return c.dead.write(ctx, c, r, err, 0)
	}
	hctx := context.WithValue(ctx, recordKey{}, r)
	hctx, end := consumeSpan(hctx, c.cfg.Group, r, ev.Type)
	for attempt := 0; ; attempt++ {
		err := c.apply(hctx, ev)
		if err == nil {
			end(nil)
			return true
		}
		if ctx.Err() != nil {
			end(err)
			return false
		}
		if IsPermanent(err) && attempt+1 >= c.cfg.MaxPermanentAttempts {
			end(err)
			return c.dead.write(ctx, c, r, err, attempt+1)
		}
		wait := backoff(attempt, c.cfg.MaxRetryBackoff)
		c.log.Warn("event handler failed, retrying", "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "event_id", ev.ID, "event_type", ev.Type, "attempt", attempt+1,
			"permanent", IsPermanent(err), "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			end(ctx.Err())
			return false
		case <-time.After(wait):
		}
	}
}

func (c *Consumer) apply(ctx context.Context, ev events.Envelope) error {
	d := c.cfg.Dedupe
	if d != nil {
		seen, err := d.Seen(ctx, ev.ID)
		if err != nil {
			return fmt.Errorf("dedupe check: %w", err)
		}
		if seen {
			c.log.Debug("skipping duplicate event", "event_id", ev.ID, "event_type", ev.Type)
			return nil
		}
	}
	if err := c.cfg.Handler(ctx, ev); err != nil {
		return err
	}
	if d != nil {
		// A failure here retries the handler too, which is harmless:
		// handlers are idempotent.
		if err := d.Mark(ctx, ev.ID); err != nil {
			return fmt.Errorf("dedupe mark: %w", err)
		}
	}
	return nil
}

// Subscription is one consumer group of a service reading one topic.
type Subscription struct {
	// Group and Topic are unprefixed, e.g. "booking.patients" and
	// events.PatientEvents.
	Group, Topic string
	Handler      Handler
	// Dedupe is optional (see ConsumerConfig.Dedupe).
	Dedupe Deduper
	// KeyLanes: see ConsumerConfig.KeyLanes.
	KeyLanes int
}

// NewConsumers makes (without starting) one Consumer per subscription, its
// group and topic under prefix (see Topic): the consumers a service runs
// among its workers.
func NewConsumers(brokers []string, prefix string, logger *slog.Logger, subs ...Subscription) ([]*Consumer, error) {
	out := make([]*Consumer, 0, len(subs))
	for _, s := range subs {
		c, err := NewConsumer(ConsumerConfig{
			Brokers:  brokers,
			Group:    Topic(prefix, s.Group),
			Topics:   []string{Topic(prefix, s.Topic)},
			Handler:  s.Handler,
			Logger:   logger,
			Dedupe:   s.Dedupe,
			KeyLanes: s.KeyLanes,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// leaveTimeout bounds leaving the group when the consumer stops.
const leaveTimeout = 3 * time.Second

// close leaves the group and closes the client, waiting at most leaveTimeout:
// a leave caught in a rebalance (a rolling restart moves every member at
// once) can wait on the group's management loop for good, which held whole
// processes past their grace period (seen through internal/shutdown's
// goroutine dump). Past the bound the broker expires the member after
// SessionTimeout, as after a crash; nothing is lost, as offsets are
// committed only once their events were applied.
func (c *Consumer) close(cl *kgo.Client) {
	closed := make(chan struct{})
	go func() {
		cl.CloseAllowingRebalance()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(leaveTimeout):
		c.log.Warn("kafka: leaving the consumer group took too long; the broker will expire this member",
			"group", c.cfg.Group, "after", leaveTimeout)
	}
}

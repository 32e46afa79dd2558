package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/careslot/careslot/internal/kafka"
)

// relayLockKey is the transaction-level advisory lock one relay batch holds,
// so that concurrent relays on the same database take turns (keeping each
// key's events in order) rather than publishing interleaved batches.
const relayLockKey int64 = 0x6361726573_6f62 // "caresob"

// Relay publishes outbox rows to Kafka in seq order and deletes them once
// the broker has acknowledged them.
//
// It wakes when a writer in this process calls Committed (InTx does) and polls
// as a fallback, which is how relays in other processes see new rows. Each batch is read with FOR UPDATE SKIP LOCKED under an advisory
// lock, so any number of relays may run against one database. Rows are
// deleted only after every record of the batch was acknowledged; on failure
// the batch is retried with backoff, so events are delivered at least once
// (a retried batch may duplicate records) and, per key, in seq order.
// Events of one key keep their commit order as long as the transactions that
// write them are serialized, as writes to the same entity are.
type Relay struct {
	pool   *pgxpool.Pool
	client *kgo.Client
	prefix string
	log    *slog.Logger
	wake   chan struct{}

	// BatchSize is the most rows published per round (default 500).
	BatchSize int
	// PollInterval is the fallback poll period (default 200ms).
	PollInterval time.Duration
	// ProduceTimeout bounds how long a batch waits for the broker before it
	// is abandoned and retried (default 10s).
	ProduceTimeout time.Duration
	// MaxBackoff caps the delay between failed rounds (default 2s).
	MaxBackoff time.Duration
}

// NewRelay returns a relay publishing the outbox of pool's database through
// client (see kafka.NewClient) to topics named kafka.Topic(topicPrefix, row
// topic). Set the exported fields before Run to tune it.
func NewRelay(pool *pgxpool.Pool, client *kgo.Client, topicPrefix string, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.Default()
	}
	return &Relay{
		pool:           pool,
		client:         client,
		prefix:         topicPrefix,
		log:            logger.With("component", "outbox-relay"),
		wake:           make(chan struct{}, 1),
		BatchSize:      500,
		PollInterval:   200 * time.Millisecond,
		ProduceTimeout: 10 * time.Second,
		MaxBackoff:     2 * time.Second,
	}
}

// Run relays until ctx is canceled, then returns nil. Broker and database
// failures are logged and retried; they never end Run.
func (r *Relay) Run(ctx context.Context) error {
	defer registerRelay(r)()

	poll := time.NewTicker(r.PollInterval)
	defer poll.Stop()
	failures := 0
	for {
		n, err := r.relayBatch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			wait := backoff(failures, r.MaxBackoff)
			failures++
			r.log.Warn("outbox relay failed; rows kept, retrying", "attempt", failures, "retry_in", wait, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		if failures > 0 {
			r.log.Info("outbox relay recovered", "after_attempts", failures)
			failures = 0
		}
		if n == r.BatchSize {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-poll.C:
		}
	}
}

// signal wakes the relay loop without blocking.
func (r *Relay) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

type outboxRow struct {
	seq          int64
	id, typ, key string
	topic        string
	payload      []byte
	traceparent  string
}

// relayBatch publishes one batch and returns how many rows it published.
func (r *Relay) relayBatch(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit

	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, relayLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("advisory lock: %w", err)
	}
	if !locked {
		return 0, nil // another relay is publishing; it will take these rows
	}
	rows, err := tx.Query(ctx, `SELECT seq, id::text, topic, key, type, payload, traceparent FROM outbox
		ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, r.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("select: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := cr.Scan(&o.seq, &o.id, &o.topic, &o.key, &o.typ, &o.payload, &o.traceparent)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("select: %w", err)
	}
	if len(batch) == 0 {
		return 0, tx.Commit(ctx)
	}
	if err := r.produce(ctx, batch); err != nil {
		return 0, err
	}
	seqs := make([]int64, len(batch))
	for i, o := range batch {
		seqs[i] = o.seq
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, seqs); err != nil {
		return 0, fmt.Errorf("delete relayed rows: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit relayed rows: %w", err)
	}
	publishedTotal.WithLabelValues(r.pool.Config().ConnConfig.Database).Add(float64(len(batch)))
	return len(batch), nil
}

// produce sends the batch and waits for every acknowledgement, at most
// ProduceTimeout. Records keep the batch's order per partition.
func (r *Relay) produce(ctx context.Context, batch []outboxRow) error {
	pctx, cancel := context.WithTimeout(ctx, r.ProduceTimeout)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	wg.Add(len(batch))
	for _, o := range batch {
		rec := &kgo.Record{
			Topic: kafka.Topic(r.prefix, o.topic),
			Key:   []byte(o.key),
			Value: o.payload,
			Headers: []kgo.RecordHeader{
				{Key: "ce_id", Value: []byte(o.id)},
				{Key: "ce_type", Value: []byte(o.typ)},
				{Key: "content-type", Value: []byte("application/cloudevents+json")},
			},
		}
		var span trace.Span
		if o.traceparent != "" {
			var tp string
			span, tp = publishSpan(o.traceparent, rec.Topic, o.typ)
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: TraceParentHeader, Value: []byte(tp)})
		}
		r.client.Produce(pctx, rec, func(rec *kgo.Record, err error) {
			if span != nil {
				if err != nil {
					span.RecordError(err)
				}
				span.End()
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("produce to %s: %w", rec.Topic, err)
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-pctx.Done():
		// An idempotent producer cannot fail records a broker may have
		// received, so some may still be in flight; the rows stay and are
		// sent again (consumers are idempotent).
		return fmt.Errorf("produce: no acknowledgement within %s: %w", r.ProduceTimeout, pctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return firstErr
}

func backoff(attempt int, max time.Duration) time.Duration {
	d := 50 * time.Millisecond
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Package outbox implements the transactional outbox: services write events
// with Add in the transaction that makes the change (InTx), or in the very
// statement that makes it (InsertFromSQL), and a Relay publishes them to
// Kafka after commit. The row's format is defined once, in row.go. A broker outage delays events; it never loses
// one. It also holds the claim used by PostgreSQL-backed idempotent
// consumers (ClaimEvent).
//
// The tables come from migrations/platform.
package outbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/events"
)

// Add writes ev to the outbox in tx, to be published on topic (unprefixed,
// e.g. events.BookingEvents) with record key key (the practitioner id, or the
// patient id on patient-events). After the commit, call Committed so the
// process's relay publishes it at once.
func Add(ctx context.Context, tx pgx.Tx, topic, key string, ev events.Envelope) error {
	row, err := NewRow(ctx, topic, key, ev)
	if err != nil {
		return err
	}
	// No NOTIFY here: PostgreSQL serialises the commits of every transaction
	// that notifies (measured: 470 vs 4,300 commits/s at 32 clients), which
	// would cap bookings. Relays are woken in-process by Committed instead.
	if _, err := tx.Exec(ctx, insertSQL, row.Args()...); err != nil {
		return fmt.Errorf("outbox: add event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return nil
}

// Queue adds the insert of row to batch b, which the caller sends in the
// transaction that makes the change (a change of many rows and events in
// one round trip). After the commit, call Committed.
func Queue(b *pgx.Batch, row Row) {
	b.Queue(insertSQL, row.Args()...)
}

// Record is one event of AddBatch: the topic it is published on (unprefixed),
// its record key and the event.
type Record struct {
	Topic string
	Key   string
	Event events.Envelope
}

// AddBatch writes many events to the outbox in tx with one COPY, which costs
// a round trip or two whatever their number (Add costs a statement each).
// They are published in the order of recs, like as many calls to Add. After
// the commit, call Committed.
func AddBatch(ctx context.Context, tx pgx.Tx, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	traceparent := TraceParent(ctx)
	rows := make([][]any, len(recs))
	for i, r := range recs {
		ev := r.Event
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if r.Topic == "" {
			return fmt.Errorf("outbox: event %s has no topic", ev.ID)
		}
		// A [16]byte: for a string (or a uuid.UUID, a driver.Valuer giving a
		// string) pgx would try the binary encoding, fail and fall back.
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return fmt.Errorf("outbox: event id %q: %w", ev.ID, err)
		}
		payload, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("outbox: encode event %s: %w", ev.ID, err)
		}
		rows[i] = []any{[16]byte(id), r.Topic, r.Key, ev.Type, payload, traceparent}
	}
	// COPY keeps the rows' order, so seq (and publication) follows recs.
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"}, []string{"id", "topic", "key", "type", "payload", "traceparent"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("outbox: add %d events: %w", len(recs), err)
	}
	return nil
}

// relays holds the running relays per database pool, for Committed.
var relays = struct {
	sync.Mutex
	byPool map[*pgxpool.Pool]map[*Relay]struct{}
}{byPool: map[*pgxpool.Pool]map[*Relay]struct{}{}}

// Committed wakes this process's relays on pool's database: call it after a
// transaction that added events commits. Relays in other processes find the
// rows on their next poll.
func Committed(pool *pgxpool.Pool) {
	relays.Lock()
	defer relays.Unlock()
	for r := range relays.byPool[pool] {
		r.signal()
	}
}

// InTx runs fn in a transaction on pool and, once it committed, wakes the
// relay: the one way stores should write events.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	if err := pgx.BeginFunc(ctx, pool, fn); err != nil {
		return err
	}
	Committed(pool)
	return nil
}

func registerRelay(r *Relay) func() {
	relays.Lock()
	defer relays.Unlock()
	set := relays.byPool[r.pool]
	if set == nil {
		set = map[*Relay]struct{}{}
		relays.byPool[r.pool] = set
	}
	set[r] = struct{}{}
	return func() {
		relays.Lock()
		defer relays.Unlock()
		delete(relays.byPool[r.pool], r)
		if len(relays.byPool[r.pool]) == 0 {
			delete(relays.byPool, r.pool)
		}
	}
}

// ClaimEvent records in tx that consumer is applying eventID and reports
// whether this is the first time. An idempotent PostgreSQL-backed handler
// claims the event and makes its change in one transaction, and skips the
// change when the claim returns false.
func ClaimEvent(ctx context.Context, tx pgx.Tx, consumer string, eventID string) (bool, error) {
	tag, err := tx.Exec(ctx,
		`INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		consumer, eventID)
	if err != nil {
		return false, fmt.Errorf("outbox: claim event %s for %s: %w", eventID, consumer, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Execer is satisfied by *pgxpool.Pool, *pgx.Conn and pgx.Tx.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// PruneClaims deletes processed-event claims older than before and returns
// how many it deleted. Claims only need to outlive the topics' retention
// (7 days).
func PruneClaims(ctx context.Context, db Execer, before time.Time) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM processed_events WHERE processed_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("outbox: prune claims: %w", err)
	}
	return tag.RowsAffected(), nil
}

package outbox_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// TestInsertFromWritesWhatAddWrites: a statement that writes its event
// inline (InsertFromSQL) stores the very row Add stores — topic, key, type,
// envelope and the writer's traceparent — and only when the change it goes
// with was written.
func TestInsertFromWritesWhatAddWrites(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	pool := newDatabase(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE things (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	traced := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled}))

	byAdd, inline := newEvent(t, "prac-1", 1), newEvent(t, "prac-1", 2)
	inTx(ctx, t, pool, func(tx pgx.Tx) error { return outbox.Add(traced, tx, events.BookingEvents, "prac-1", byAdd) })
	row, err := outbox.NewRow(traced, events.BookingEvents, "prac-1", inline)
	if err != nil {
		t.Fatal(err)
	}
	stmt := `WITH ins AS (INSERT INTO things VALUES ($1) ON CONFLICT DO NOTHING RETURNING id),
		o AS (` + outbox.InsertFromSQL("ins", 2) + `) SELECT count(*) FROM ins`
	for i, want := range []int{1, 0} { // the second insert conflicts: no row, no event
		var n int
		if err := pool.QueryRow(ctx, stmt, append([]any{7}, row.Args()...)...).Scan(&n); err != nil || n != want {
			t.Fatalf("statement %d wrote %d rows (%v), want %d", i, n, err, want)
		}
	}

	type stored struct {
		topic, key, typ, traceparent string
		payload                      []byte
	}
	read := func(id string) (s stored) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT topic, key, type, traceparent, payload FROM outbox WHERE id = $1`, id).
			Scan(&s.topic, &s.key, &s.typ, &s.traceparent, &s.payload); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := read(byAdd.ID), read(inline.ID)
	wantPayload, _ := inline.Encode()
	if a.topic != b.topic || a.key != b.key || a.typ != b.typ || a.traceparent != b.traceparent || b.traceparent == "" ||
		!bytes.Equal(b.payload, wantPayload) {
		t.Fatalf("inline row %+v, Add's %+v", b, a)
	}
	if n := outboxCount(ctx, t, pool); n != 2 {
		t.Fatalf("outbox has %d rows, want 2", n)
	}
	if _, err := outbox.NewRow(ctx, "", "prac-1", inline); err == nil {
		t.Fatal("a row without a topic was accepted")
	}
}

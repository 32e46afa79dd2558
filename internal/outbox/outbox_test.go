package outbox_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/kafka"
	"github.com/careslot/careslot/internal/kafka/kafkatest"
	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/migrations/platform"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// newDatabase creates a fresh database with the platform migrations applied
// and drops it when the test ends.
func newDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	adminURL := os.Getenv("DATABASE_URL")
	if adminURL == "" {
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "outbox_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	url := config.WithDatabase(adminURL, name)

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, platform.FS, goose.WithTableName(platform.VersionTable))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("platform migrations: %v", err)
	}

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p[:len(p)-1])); return len(p), nil }

func newEvent(t *testing.T, subject string, n int) events.Envelope {
	t.Helper()
	ev, err := events.New(events.Source("booking"), events.TypeName("booking", "AppointmentBooked", 1), subject, map[string]int{"n": n})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// inTx runs fn in a transaction and commits it.
func inTx(ctx context.Context, t *testing.T, pool *pgxpool.Pool, fn func(pgx.Tx) error) {
	t.Helper()
	if err := pgx.BeginFunc(ctx, pool, fn); err != nil {
		t.Fatal(err)
	}
}

func outboxCount(ctx context.Context, t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func startRelay(t *testing.T, ctx context.Context, pool *pgxpool.Pool, brokers []string, prefix string, tune func(*outbox.Relay)) {
	t.Helper()
	cl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	r := outbox.NewRelay(pool, cl, prefix, testLogger(t))
	if tune != nil {
		tune(r)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
		cl.Close()
	})
}

func TestAddAndClaim(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	pool := newDatabase(t)
	ev := newEvent(t, "prac-1", 1)

	// A rolled-back transaction leaves no event behind.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, events.BookingEvents, "prac-1", ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxCount(ctx, t, pool); n != 0 {
		t.Fatalf("outbox has %d rows after rollback", n)
	}

	inTx(ctx, t, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, events.BookingEvents, "prac-1", ev) })
	var (
		topic, key, typ string
		payload         []byte
	)
	if err := pool.QueryRow(ctx, "SELECT topic, key, type, payload FROM outbox WHERE id = $1", ev.ID).Scan(&topic, &key, &typ, &payload); err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(payload)
	if err != nil || got.ID != ev.ID || topic != events.BookingEvents || key != "prac-1" || typ != ev.Type {
		t.Fatalf("row = %s %s %s %+v (%v)", topic, key, typ, got, err)
	}

	for i, want := range []bool{true, false} {
		var first bool
		inTx(ctx, t, pool, func(tx pgx.Tx) (err error) {
			first, err = outbox.ClaimEvent(ctx, tx, "notification", ev.ID)
			return err
		})
		if first != want {
			t.Fatalf("claim %d = %v, want %v", i, first, want)
		}
	}
	// Another consumer claims independently.
	inTx(ctx, t, pool, func(tx pgx.Tx) error {
		first, err := outbox.ClaimEvent(ctx, tx, "search", ev.ID)
		if err == nil && !first {
			err = fmt.Errorf("second consumer's claim was not first")
		}
		return err
	})
	if n, err := outbox.PruneClaims(ctx, pool, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("PruneClaims = %d, %v", n, err)
	}
}

// TestAddBatch: a batch lands as the same rows as one Add per event, in the
// batch's order, and an invalid event writes none of the batch.
func TestAddBatch(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	pool := newDatabase(t)
	var recs []outbox.Record
	for i := range 5 {
		key := fmt.Sprint("prac-", i%2)
		recs = append(recs, outbox.Record{Topic: events.BookingEvents, Key: key, Event: newEvent(t, key, i)})
	}
	single := newEvent(t, "prac-0", 99)
	inTx(ctx, t, pool, func(tx pgx.Tx) error {
		if err := outbox.Add(ctx, tx, events.BookingEvents, "prac-0", single); err != nil {
			return err
		}
		return outbox.AddBatch(ctx, tx, recs)
	})
	rows, err := pool.Query(ctx, "SELECT id::text, topic, key, type, payload, traceparent FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Topic, Key, Type string
		Payload              []byte
		TraceParent          string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := append([]outbox.Record{{Topic: events.BookingEvents, Key: "prac-0", Event: single}}, recs...)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		payload, _ := w.Event.Encode()
		g := got[i]
		if g.ID != w.Event.ID || g.Topic != w.Topic || g.Key != w.Key || g.Type != w.Event.Type || string(g.Payload) != string(payload) || g.TraceParent != "" {
			t.Fatalf("row %d = %+v, want %+v", i, g, w)
		}
	}

	bad := append(slices.Clone(recs[:1]), outbox.Record{Topic: events.BookingEvents, Key: "prac-9", Event: events.Envelope{ID: "x"}})
	bad[0].Event = newEvent(t, "prac-9", 0)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := outbox.AddBatch(ctx, tx, bad); err == nil {
		t.Fatal("an invalid event was accepted")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxCount(ctx, t, pool); n != len(want) {
		t.Fatalf("outbox has %d rows, want %d", n, len(want))
	}
}

// TestRelayDeliversInKeyOrder writes events for a few keys across many
// transactions and checks that each key's events arrive in commit order,
// exactly once, with two relays running, and that relayed rows are deleted.
func TestRelayDeliversInKeyOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 30*time.Second)
	pool := newDatabase(t)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix); err != nil {
		t.Fatal(err)
	}

	keys := []string{"prac-a", "prac-b", "prac-c", "prac-d"}
	want := map[string][]string{}
	total := 0
	add := func(tx pgx.Tx, key string, n int) error {
		ev := newEvent(t, key, n)
		want[key] = append(want[key], ev.ID)
		total++
		return outbox.Add(ctx, tx, events.BookingEvents, key, ev)
	}
	// Half the events before the relay starts, half while it runs, some
	// transactions with several events.
	write := func(from, to int) {
		for i := from; i < to; i++ {
			inTx(ctx, t, pool, func(tx pgx.Tx) error {
				for j := range 1 + i%3 {
					if err := add(tx, keys[(i+j)%len(keys)], i); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	write(0, 20)
	// Two relays, as with two replicas of a service; a small batch size
	// makes them take many rounds.
	for range 2 {
		startRelay(t, ctx, pool, brokers, prefix, func(r *outbox.Relay) { r.BatchSize = 7 })
	}
	write(20, 40)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(kafka.Topic(prefix, events.BookingEvents)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string][]string{}
	received := 0
	for received < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("received %d of %d events", received, total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			ev, err := events.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != ev.Subject {
				t.Errorf("record key %q, event subject %q", r.Key, ev.Subject)
			}
			if h := header(r, "ce_id"); h != ev.ID {
				t.Errorf("ce_id header %q, event id %q", h, ev.ID)
			}
			got[string(r.Key)] = append(got[string(r.Key)], ev.ID)
			received++
		})
	}
	for _, k := range keys {
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Errorf("key %s: got %v, want %v", k, got[k], want[k])
		}
	}
	waitFor(ctx, t, "the outbox to empty", func() bool { return outboxCount(ctx, t, pool) == 0 })
}

// TestRelayWakesOnCommit disables polling in practice (1 h): an event must
// still go out, woken by Committed after the commit, well within the test's
// 20 s deadline.
func TestRelayWakesOnCommit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	pool := newDatabase(t)
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.TopicPrefix(t)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.PatientEvents); err != nil {
		t.Fatal(err)
	}
	startRelay(t, ctx, pool, brokers, prefix, func(r *outbox.Relay) { r.PollInterval = time.Hour })

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(kafka.Topic(prefix, events.PatientEvents)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	time.Sleep(300 * time.Millisecond) // let the relay go idle

	var worst time.Duration
	for i := range 5 {
		ev := newEvent(t, "patient-1", i)
		start := time.Now()
		if err := outbox.InTx(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, events.PatientEvents, "patient-1", ev) }); err != nil {
			t.Fatal(err)
		}
		for found := false; !found; {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("event %d never arrived", i)
			}
			fs.EachRecord(func(r *kgo.Record) { found = found || header(r, "ce_id") == ev.ID })
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("worst commit-to-consume latency: %s", worst)
}

// TestOutageDelaysNeverLoses is the outbox's proof: with the broker down, a
// change commits with its event; the relay and a consumer start against the
// dead broker; when the broker comes back, the consumer applies the event —
// exactly once in effect, even though it is delivered twice.
func TestOutageDelaysNeverLoses(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 45*time.Second)
	pool := newDatabase(t)
	broker := kafkatest.StartBroker(t, "")
	brokers := broker.Addrs()
	prefix := kafkatest.TopicPrefix(t)
	topic := kafka.Topic(prefix, events.BookingEvents)
	if err := kafka.EnsureTopics(ctx, brokers, prefix, events.BookingEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		CREATE TABLE appointments (id uuid PRIMARY KEY, practitioner text NOT NULL);
		CREATE TABLE effects (event_id uuid NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}

	broker.Stop()

	// The change and its event commit while the broker is down.
	ev := newEvent(t, "prac-42", 1)
	inTx(ctx, t, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO appointments VALUES (gen_random_uuid(), 'prac-42')`); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, events.BookingEvents, "prac-42", ev)
	})

	startRelay(t, ctx, pool, brokers, prefix, func(r *outbox.Relay) {
		r.ProduceTimeout = 500 * time.Millisecond
		r.MaxBackoff = 200 * time.Millisecond
	})

	// An idempotent PostgreSQL-backed consumer: the claim and the effect
	// (deliberately not idempotent by itself) in one transaction.
	var (
		mu       sync.Mutex
		seen     = map[string]int{} // deliveries per event id
		sentinel = newEvent(t, "prac-42", 2)
		gotLast  = make(chan struct{})
	)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: brokers,
		Group:   prefix + "proof",
		Topics:  []string{topic},
		Logger:  testLogger(t),
		Handler: func(ctx context.Context, e events.Envelope) error {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				first, err := outbox.ClaimEvent(ctx, tx, "proof", e.ID)
				if err != nil || !first {
					return err
				}
				_, err = tx.Exec(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
				return err
			})
			if err == nil {
				mu.Lock()
				seen[e.ID]++
				if e.ID == sentinel.ID {
					close(gotLast)
				}
				mu.Unlock()
			}
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopConsumer := context.WithCancel(ctx)
	consumerDone := make(chan error, 1)
	go func() { consumerDone <- c.Run(cctx) }()
	t.Cleanup(func() { stopConsumer(); <-consumerDone })

	// While the broker is down the event stays in the outbox, and the
	// metrics show it waiting, older and older.
	time.Sleep(1500 * time.Millisecond)
	if n := outboxCount(ctx, t, pool); n != 1 {
		t.Fatalf("outbox has %d rows during the outage, want 1", n)
	}
	if age, n := backlog(t, pool); n != 1 || age < 1.5 {
		t.Fatalf("during the outage: oldest unsent %.2fs, %v unsent", age, n)
	}

	restarted := time.Now()
	broker.Start()
	t.Logf("broker restarted in %s", time.Since(restarted))
	waitFor(ctx, t, "the relay to publish the event", func() bool { return outboxCount(ctx, t, pool) == 0 })
	t.Logf("event published %s after the restart began", time.Since(restarted))
	if age, n := backlog(t, pool); n != 0 || age != 0 {
		t.Fatalf("after the outage: oldest unsent %.2fs, %v unsent", age, n)
	}

	// Deliver the same event again, as a relay retry would, then a
	// sentinel behind it on the same key.
	pcl, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	for _, e := range []events.Envelope{ev, sentinel} {
		b, _ := e.Encode()
		if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("prac-42"), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-gotLast:
	case <-ctx.Done():
		t.Fatal("the consumer never received the events")
	}

	var effects int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM effects WHERE event_id = $1`, ev.ID).Scan(&effects); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	deliveries := seen[ev.ID]
	mu.Unlock()
	if effects != 1 {
		t.Fatalf("event applied %d times, want exactly once", effects)
	}
	if deliveries < 2 {
		t.Fatalf("event handled %d times; the duplicate was not delivered", deliveries)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// backlog reads the outbox metrics of pool's database: the oldest unsent
// event's age and the number unsent.
func backlog(t *testing.T, pool *pgxpool.Pool) (age, unsent float64) {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	db := pool.Config().ConnConfig.Database
	found := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != db {
				continue
			}
			switch mf.GetName() {
			case "careslot_outbox_oldest_age_seconds":
				age = m.GetGauge().GetValue()
				found++
			case "careslot_outbox_backlog":
				unsent = m.GetGauge().GetValue()
				found++
			}
		}
	}
	if found != 2 {
		t.Fatalf("%d outbox metrics of %s gathered", found, db)
	}
	return age, unsent
}

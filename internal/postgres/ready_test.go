package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
)

// TestReadyDoesNotQueueBehindRequests: with every connection of the pool
// serving a request, readiness answers at once (it would otherwise wait for
// a connection and, under load, time out); with one idle it pings the
// database; without a database it fails.
func TestReadyDoesNotQueueBehindRequests(t *testing.T) {
	_, dsn := testenv.NewDatabase(t, "patient")
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, dsn+"&pool_max_conns=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	busy, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := postgres.Ready(busy, pool); err != nil {
		t.Fatalf("a busy pool is not ready: %v", err)
	}
	a.Release()
	if err := postgres.Ready(ctx, pool); err != nil {
		t.Fatalf("with an idle connection: %v", err)
	}
	b.Release()

	// Every session ended by the server: the idle connections are dead, and
	// readiness finds fresh ones rather than failing.
	killer, err := postgres.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()
	var n int
	if err := killer.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()) t`).Scan(&n); err != nil || n < 2 {
		t.Fatalf("terminated %d sessions: %v", n, err)
	}
	if err := postgres.Ready(ctx, pool); err != nil {
		t.Fatalf("after the sessions were terminated: %v", err)
	}

	cfg, err := pgxpool.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if err := postgres.Ready(ctx, gone); err == nil {
		t.Fatal("a pool without a database is ready")
	}
}

package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
)

// TestRetryAbortedRunsASerialisationFailureAgain: a repeatable-read
// transaction that updates a row another transaction changed after it read
// is aborted (40001); RetryAborted runs it again, and the second run, which
// sees the change, commits. Other errors are returned at once.
func TestRetryAbortedRunsASerialisationFailureAgain(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "patient")
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := postgres.RetryAborted(ctx, func() error {
		runs++
		return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
				return err
			}
			if runs == 1 { // someone else changes the row under the first run
				if _, err := pool.Exec(ctx, `UPDATE counter SET n = n + 10 WHERE id = 1`); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE counter SET n = $1 WHERE id = 1`, n+1)
			return err
		})
	})
	var n int
	if qerr := pool.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil || qerr != nil || runs != 2 || n != 11 {
		t.Fatalf("err %v, %d runs, n = %d (%v); want 2 runs and n = 11", err, runs, n, qerr)
	}

	runs = 0
	other := errors.New("not aborted")
	if err := postgres.RetryAborted(ctx, func() error { runs++; return other }); err != other || runs != 1 {
		t.Fatalf("other error: %v after %d runs", err, runs)
	}
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// MaxAbortedRuns bounds how often RetryAborted runs its work.
const MaxAbortedRuns = 4

// Aborted reports whether PostgreSQL aborted the work to break a deadlock
// (40P01) or for a serialisation failure (40001): nothing of it committed,
// and running it again from the start may well succeed.
func Aborted(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// RetryAborted runs run — one transaction, or one statement — and runs it
// again, after a short growing pause, while PostgreSQL aborted it (Aborted),
// up to MaxAbortedRuns runs in all; it returns the last run's error. run
// must change nothing outside the database, since it may run more than once.
func RetryAborted(ctx context.Context, run func() error) error {
	var err error
	for attempt := range MaxAbortedRuns {
		if err = run(); !Aborted(err) || attempt+1 == MaxAbortedRuns {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

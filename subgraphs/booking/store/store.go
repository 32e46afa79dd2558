// Package store is the booking service's PostgreSQL access: holds and
// appointments (partitioned by country, with the exclusion constraints that
// make double bookings impossible), idempotency keys, the local replicas of
// practitioner schedules and patients, and the outbox booking events go to.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/internal/postgres"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// Conflict errors: a change that would make two occupying rows of a
// practitioner overlap, or two confirmed appointments of a person.
var (
	ErrPractitionerOverlap = errors.New("the practitioner is busy then")
	ErrPersonOverlap       = errors.New("the person has another appointment then")
)

var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// PartitionedTables are the tables partitioned by country.
var PartitionedTables = []string{"appointments"}

// Store reads and writes the booking database.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// DropConnections closes the pool's idle connections, and the others as
// they are released, so the next statements run on fresh ones: after one
// connection was found dead (a server restart, terminated sessions), the
// others most likely are too.
func (s *Store) DropConnections() { s.pool.Reset() }

// Pool is the underlying pool (for tests and tools).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Constraint names: the practitioner's, per partition
// (<partition>_no_overlap); the person's, one for every country
// (person_appointments, kept by triggers on appointments: migration 2).
const (
	practitionerOverlapSuffix = "_no_overlap"
	personOverlapConstraint   = "person_appointments_no_overlap"
)

// EnsurePartitions creates each country's partition of appointments with its
// practitioner exclusion constraint, so a country added to the catalogue gets
// it on the next start. (The person constraint spans every partition: the
// partition inherits the parent's triggers that keep it.)
func (s *Store) EnsurePartitions(ctx context.Context, codes []string) error {
	return postgres.EnsureCountryPartitions(ctx, s.pool, PartitionedTables, codes, addConstraints)
}

func addConstraints(ctx context.Context, tx pgx.Tx, table, partition string) error {
	if table != "appointments" {
		return nil
	}
	p := pgx.Identifier{partition}.Sanitize()
	stmts := []string{
		fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s EXCLUDE USING gist
			(practitioner_id WITH =, blocked WITH &&) WHERE (status IN ('HELD', 'CONFIRMED'))`,
			p, pgx.Identifier{partition + practitionerOverlapSuffix}.Sanitize()),
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Tx is a unit of work: every write and its outbox events commit together.
type Tx struct {
	outbox.Tx // Emit, Claim
	tx        pgx.Tx
}

func newTx(tx pgx.Tx) *Tx { return &Tx{Tx: outbox.NewTx(tx), tx: tx} }

// InTx runs fn in one transaction, committed when fn returns nil (then the
// relay is woken: outbox.InTx). A transaction aborted by a deadlock
// (possible, rarely, when two bookings expire each other's neighbouring
// holds) or a serialisation failure is run again from the start
// (postgres.RetryAborted), so fn must only touch the database through tx.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return postgres.RetryAborted(ctx, func() error {
		return outbox.InTx(ctx, s.pool, func(tx pgx.Tx) error { return fn(newTx(tx)) })
	})
}

// ConnectionLost reports whether err says the database connection died
// under the statement (the server restarted or an operator terminated the
// session) rather than that the statement failed: the work can be run
// again on another connection. Whether the first run committed is unknown.
func ConnectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 57P01–57P03: terminated by an
		// administrator, a crash or a server that cannot accept it now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// overlapError maps an exclusion violation to the conflict it means: raised
// by an UPDATE (which, unlike an INSERT, cannot say ON CONFLICT DO NOTHING),
// or by the person constraint, which the triggers write to in the same
// statement (ON CONFLICT applies to the appointments row only).
func overlapError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23P01" {
		return err
	}
	if pgErr.ConstraintName == personOverlapConstraint {
		return ErrPersonOverlap
	}
	return ErrPractitionerOverlap
}

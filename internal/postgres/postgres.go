// Package postgres opens pgx pools, creates databases, runs migrations and
// keeps list partitions per country in step with the country catalogue.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/careslot/careslot/migrations"
)

// MaxConns caps a pool: past ≈ 32 active connections this machine only queues
// (see docs/adr on the booking path).
const MaxConns = 32

// PoolSize is a pool's size unless its URL sets pool_max_conns: four
// connections per core, at most MaxConns. PostgreSQL on the same cores is
// CPU-bound long before that many statements run at once (2 cores: 8
// connections give ≈ 10k booking transactions/s, 32 at best 15k, with more
// latency), and a process holds one pool per store, all within the server's
// max_connections (100 by default).
func PoolSize() int32 { return int32(min(MaxConns, 4*runtime.GOMAXPROCS(0))) }

// Connect opens a pool and checks it answers.
func Connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = PoolSize()
	} else if cfg.MaxConns > MaxConns {
		cfg.MaxConns = MaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	// Every statement is prepared once per connection (pgx's statement cache). On the partitioned
	// tables PostgreSQL would otherwise plan each execution again (its custom plans prune
	// partitions and always look cheaper than the generic one): 1-2 ms of planning for a 0.2 ms
	// lookup. A generic plan prunes at execution instead (ADR 0034). A URL may set it back (auto).
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if traceQueries.Load() {
		cfg.ConnConfig.Tracer = QueryTracer{}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s: %w", redact(dsn), err)
	}
	return pool, nil
}

// Ready reports whether pool can serve: it pings the database on an idle
// connection, and counts a pool whose every connection is busy (or being
// made) as ready —
// the requests queued for a connection are being served, and a readiness
// probe must not queue behind them (under load it would time out, take the
// replica out of its balancer and push the load onto the others). A failed
// ping may only have met a connection the server dropped (a restart,
// terminated sessions): the pool's connections are then replaced and the
// database asked once more.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	// Every connection taken or being made: a ping would wait in line.
	if st := pool.Stat(); st.IdleConns() == 0 && st.TotalConns() >= st.MaxConns() {
		return nil
	}
	err := pool.Ping(ctx)
	if err != nil && ctx.Err() == nil {
		pool.Reset()
		err = pool.Ping(ctx)
	}
	return err
}

// EnsureDatabase creates the database named in dsn when it does not exist,
// connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("postgres: parse url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("postgres: url names no database")
	}
	conn, err := pgx.Connect(ctx, serverURL(u))
	if err != nil {
		return fmt.Errorf("postgres: connect to server: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
		return nil
	}
	return err
}

// serverURL is a database URL turned into one for the server's "postgres"
// database, without the pool settings (pool_max_conns, …) a single
// connection would send to the server as unknown parameters.
func serverURL(u *url.URL) string {
	admin := *u
	admin.Path = "/postgres"
	q := admin.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	admin.RawQuery = q.Encode()
	return admin.String()
}

// DropDatabase removes a database, closing other sessions on it first.
func DropDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(ctx, serverURL(u))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Migrate applies the platform migrations and then the service's own, each
// set with its own goose version table, and records what a build must know
// to serve the result (see CheckSchema). Only `careslot migrate` (and tests
// making their databases) calls it: serve never changes a schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool, service string, logger *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, dir := range []string{"platform", service} {
		fsys := migrations.For(dir)
		if fsys == nil {
			continue
		}
		if err := migrateDir(ctx, db, dir, fsys, logger); err != nil {
			return fmt.Errorf("migrate %s: %w", dir, err)
		}
		if err := recordRequirements(ctx, db, dir); err != nil {
			return fmt.Errorf("migrate %s: %w", dir, err)
		}
	}
	return nil
}

func migrateDir(ctx context.Context, db *sql.DB, dir string, fsys fs.FS, logger *slog.Logger) error {
	opts := []goose.ProviderOption{goose.WithTableName("goose_" + dir), goose.WithDisableGlobalRegistry(true)}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return err
	}
	if logger != nil && len(res) > 0 {
		logger.Info("migrations applied", "set", dir, "count", len(res))
	}
	return nil
}

// EnsureCountryPartitions creates, for every country code, the list partition
// `<table>_<cc>` of each partitioned table. A new country in the catalogue
// thus gets its partitions on the next start, with no code change. extra, when
// set, runs once per newly created partition (e.g. to add a per-partition
// exclusion constraint, which PostgreSQL 15 does not allow on the parent).
func EnsureCountryPartitions(ctx context.Context, pool *pgxpool.Pool, tables []string, codes []string, extra func(ctx context.Context, tx pgx.Tx, table, partition string) error) error {
	for _, cc := range codes {
		for _, table := range tables {
			part := table + "_" + cc
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				// Serialise concurrent starters on the same partition.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, part); err != nil {
					return err
				}
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, part).Scan(&exists); err != nil {
					return err
				}
				if exists {
					return nil
				}
				sql := fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES IN (%s)`,
					pgx.Identifier{part}.Sanitize(), pgx.Identifier{table}.Sanitize(), quoteLiteral(cc))
				if _, err := tx.Exec(ctx, sql); err != nil {
					return err
				}
				if extra != nil {
					return extra(ctx, tx, table, part)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("partition %s: %w", part, err)
			}
		}
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// Analyze refreshes the planner's statistics of every table the pool's role
// may analyze (others are skipped with a notice). A bulk load leaves tables
// without statistics until autovacuum gets to them (never, where it is off):
// the planner then takes `= ANY(<a page of ids>)` for most of a table and
// scans it whole (an export page of opening hours: 155 ms scanning, 4.9 ms
// through the index once analyzed; measured at 100,000 practices).
func Analyze(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, "ANALYZE")
	return err
}

// IsUniqueViolation reports a unique-constraint failure (optionally on a named constraint).
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

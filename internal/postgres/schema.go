package postgres

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/careslot/careslot/migrations"
)

// ExpandOnly is the line a migration carries when it only adds (tables,
// nullable columns, indexes, partitions): builds that predate it keep
// working on the schema it leaves, so they may still start on it (a
// rollback, a replica restarting mid-rollout). A migration without it
// changes what older builds read, and they refuse the schema.
const ExpandOnly = "-- careslot:expand-only"

// requirementsTable records, per migration set, the oldest version a build
// must know to serve the database: the newest migration applied that is not
// expand-only. `careslot migrate` writes it; serve reads it.
const requirementsTable = "schema_requirements"

// migrationSets are the goose sets of a service's database, in order.
func migrationSets(service string) []string { return []string{"platform", service} }

type migration struct {
	version    int64
	expandOnly bool
}

// embedded lists a set's migrations in this build, in version order.
func embedded(set string) ([]migration, error) {
	fsys := migrations.For(set)
	if fsys == nil {
		return nil, nil
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		v, err := goose.NumericComponent(path.Base(name))
		if err != nil {
			return nil, fmt.Errorf("migration %s/%s: %w", set, name, err)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, expandOnly: bytes.Contains(body, []byte(ExpandOnly))})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return out, nil
}

// minKnownVersion is the newest migration of ms (in version order) that is
// not expand-only: the oldest version a build must know to serve the schema.
func minKnownVersion(ms []migration) int64 {
	var need int64
	for _, m := range ms {
		if !m.expandOnly {
			need = m.version
		}
	}
	return need
}

// recordRequirements writes what a build must know of set, as applied.
func recordRequirements(ctx context.Context, db *sql.DB, set string) error {
	ms, err := embedded(set)
	if err != nil {
		return err
	}
	need := minKnownVersion(ms)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+requirementsTable+` (
		migration_set text PRIMARY KEY, min_known_version bigint NOT NULL)`); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO `+requirementsTable+` (migration_set, min_known_version) VALUES ($1, $2)
		ON CONFLICT (migration_set) DO UPDATE SET min_known_version = excluded.min_known_version`, set, need)
	return err
}

// SchemaError is the refusal to serve a database whose schema this build
// was not made for; its text says what to do.
type SchemaError struct {
	Service string
	msg     string
}

func (e *SchemaError) Error() string { return e.msg }

// CheckSchema reports whether the service's database carries the schema
// this build was made for, reading only (serve never changes a schema):
// every migration set at the newest version this build embeds, or at a
// newer one whose newer migrations are all expand-only. Anything else is a
// *SchemaError saying which command to run or which build to deploy.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool, service string) error {
	for _, set := range migrationSets(service) {
		ms, err := embedded(set)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			continue
		}
		need := ms[len(ms)-1].version
		table := "goose_" + set
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
			return fmt.Errorf("%s schema: %w", service, err)
		}
		what := service + " schema"
		if set != service {
			what += " (" + set + " tables)"
		}
		if !exists {
			return &SchemaError{service, fmt.Sprintf("%s database is not migrated (no %s): run `careslot migrate %s`", service, table, service)}
		}
		var have int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&have); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		switch {
		case have < need:
			return &SchemaError{service, fmt.Sprintf("%s is at version %d, this build needs %d: run `careslot migrate %s`", what, have, need, service)}
		case have > need:
			var minKnown int64
			err := pool.QueryRow(ctx, `SELECT min_known_version FROM `+requirementsTable+` WHERE migration_set = $1`, set).Scan(&minKnown)
			if errors.Is(err, pgx.ErrNoRows) || isUndefinedTable(err) {
				minKnown = have
			} else if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if minKnown > need {
				return &SchemaError{service, fmt.Sprintf("%s is at version %d, newer than this build knows (%d), and migration %d changed what older builds read: deploy a build that knows version %d",
					what, have, need, minKnown, minKnown)}
			}
		}
	}
	return nil
}

// CheckCountryPartitions reports, as a *SchemaError, the country partitions
// of tables missing for codes (serve checks the catalogue's countries: a
// country added without a migration has nowhere to write).
func CheckCountryPartitions(ctx context.Context, pool *pgxpool.Pool, service string, tables, codes []string) error {
	var missing []string
	for _, cc := range codes {
		for _, table := range tables {
			part := table + "_" + cc
			var exists bool
			if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, part).Scan(&exists); err != nil {
				return fmt.Errorf("%s partitions: %w", service, err)
			}
			if !exists {
				missing = append(missing, part)
			}
		}
	}
	if len(missing) > 0 {
		return &SchemaError{service, fmt.Sprintf("%s database lacks the country partitions %v of the catalogue's countries: run `careslot migrate %s`", service, missing, service)}
	}
	return nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/migrations"
)

func init() {
	register("migrate", "the only command that changes a schema: create the databases, apply migrations, create country partitions, with -roles one role per service: careslot migrate [-roles] [service…]", cmdMigrate)
}

func cmdMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	roles := fs.Bool("roles", false, "also create one PostgreSQL login role per service (DATABASE_ROLE_<SERVICE>, default careslot_<service>; "+
		"password DATABASE_PASSWORD_<SERVICE>, none when unset) with rights on its own database only, and take every other role's "+
		"right to connect to it; run as a role that may create roles")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: careslot migrate [-roles] [service…]\n\nCreates each service's database, applies its migrations and creates its country partitions, as the "+
			"owner URL DATABASE_URL_<SERVICE> gives (default: every PostgreSQL service). `serve` only checks the schema.")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	cfg := config.FromEnv()
	services := fs.Args()
	if len(services) == 0 {
		services = config.Services
	}
	for _, s := range services {
		if !slices.Contains(config.Services, s) {
			return fmt.Errorf("unknown service %q (services: %v)", s, config.Services)
		}
	}
	cat, err := countries.Load(cfg.CountriesFile)
	if err != nil {
		return err
	}
	logger := telemetry.NewLogger(os.Stderr)
	for _, s := range services {
		if migrations.For(s) == nil {
			continue // a store outside PostgreSQL (availability, search)
		}
		if err := migrateStore(ctx, cfg, cat, s, logger); err != nil {
			return err
		}
		if *roles {
			role, err := grantServiceRole(ctx, cfg.DatabaseURLs[s], serviceRole(s))
			if err != nil {
				return fmt.Errorf("%s role: %w", s, err)
			}
			fmt.Printf("%s: migrated; role %s may use its database only\n", s, role)
			continue
		}
		fmt.Printf("%s: migrated\n", s)
	}
	return nil
}

// migrateStores migrates every PostgreSQL service's database: what `dev`
// and the tests that start the whole system do before serving.
func migrateStores(ctx context.Context, cfg config.Config, cat *countries.Catalog, logger *slog.Logger) error {
	for _, s := range config.Services {
		if migrations.For(s) == nil {
			continue
		}
		if err := migrateStore(ctx, cfg, cat, s, logger); err != nil {
			return err
		}
	}
	return nil
}

// migrateStore creates the service's database when missing, applies its
// migrations and creates the catalogue's country partitions.
func migrateStore(ctx context.Context, cfg config.Config, cat *countries.Catalog, service string, logger *slog.Logger) error {
	dsn := cfg.DatabaseURLs[service]
	if err := postgres.EnsureDatabase(ctx, dsn); err != nil {
		return fmt.Errorf("%s database: %w", service, err)
	}
	pool, err := postgres.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, service, logger); err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	if p, ok := platform.Partitioned[service]; ok {
		if err := p.Ensure(ctx, pool, cat.Codes()); err != nil {
			return fmt.Errorf("%s partitions: %w", service, err)
		}
	}
	return nil
}

// roleSettings is a service's PostgreSQL role as migrate makes it.
type roleSettings struct {
	name     string
	password string // "" for none (the server trusts, or authenticates otherwise)
}

func serviceRole(service string) roleSettings {
	up := strings.ToUpper(service)
	name := os.Getenv("DATABASE_ROLE_" + up)
	if name == "" {
		name = "careslot_" + service
	}
	return roleSettings{name: name, password: os.Getenv("DATABASE_PASSWORD_" + up)}
}

// grantServiceRole makes the service's login role and gives it its database
// only: CONNECT (taken from PUBLIC, so no other service's role gets in) and
// the data rights on its tables, sequences and those migrations create
// later — never ownership, so the service can change rows but not the
// schema. It runs as the URL's role (the migration's), which owns the
// objects and may create roles.
func grantServiceRole(ctx context.Context, dsn string, role roleSettings) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	db := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(ctx, plainURL(dsn))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	r := pgx.Identifier{role.name}.Sanitize()
	password := "NULL"
	if role.password != "" {
		password = quoteLiteral(role.password)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role.name).Scan(&exists); err != nil {
		return "", err
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	d := pgx.Identifier{db}.Sanitize()
	for _, q := range []string{
		verb + " ROLE " + r + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD " + password,
		"REVOKE ALL ON DATABASE " + d + " FROM PUBLIC",
		// TEMPORARY: session-local staging tables (the practitioner import's
		// COPY batches, ADR 22), not a change of the schema.
		"GRANT CONNECT, TEMPORARY ON DATABASE " + d + " TO " + r,
		"GRANT USAGE ON SCHEMA public TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + r,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + r,
		// What a later migration (a new country's partition, a new table) creates as this role.
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + r,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO " + r,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("%s: %w", strings.SplitN(q, " PASSWORD ", 2)[0], err)
		}
	}
	return role.name, nil
}

// plainURL is a database URL without the pool settings a single connection
// would send to the server as unknown parameters.
func plainURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

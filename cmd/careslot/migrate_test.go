package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/platform"
	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/telemetry"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/booking"
)

// TestMigrateRolesGiveEachServiceItsOwnDatabaseOnly: after `careslot
// migrate -roles`, a service's role serves its own database through serve's
// path (schema checked, rows written and read) but cannot change its schema,
// and no service's role can even connect to another service's database.
func TestMigrateRolesGiveEachServiceItsOwnDatabaseOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	suffix := testenv.Suffix()
	role := func(svc string) string { return "mig" + suffix + "_" + svc }
	services := []string{"practitioner", "booking"}
	admin := map[string]string{}
	for _, svc := range services {
		up := strings.ToUpper(svc)
		admin[svc] = config.WithDatabase(testenv.ServerURL(), "mig_"+svc+"_"+suffix)
		t.Setenv("DATABASE_URL_"+up, admin[svc])
		t.Setenv("DATABASE_ROLE_"+up, role(svc))
		t.Setenv("DATABASE_PASSWORD_"+up, "pw-"+svc)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, svc := range services {
			_ = postgres.DropDatabase(ctx, admin[svc])
		}
		if conn, err := pgx.Connect(ctx, testenv.ServerURL()); err == nil {
			for _, svc := range services {
				if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role(svc)}.Sanitize()); err != nil {
					t.Logf("drop role: %v", err)
				}
			}
			_ = conn.Close(ctx)
		}
	})
	// Twice: a second run (the next rollout's Job) changes nothing.
	for range 2 {
		if err := cmdMigrate(ctx, append([]string{"-roles"}, services...)); err != nil {
			t.Fatal(err)
		}
	}
	as := func(svc, db string) string {
		u, err := url.Parse(admin[db])
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(role(svc), "pw-"+svc)
		return u.String()
	}

	// Booking's role serves booking: serve's own path checks the schema, the
	// service writes its replica and reads its rows.
	cfg := config.FromEnv()
	cfg.DatabaseURLs[booking.Name] = as("booking", "booking")
	p := &platform.Platform{Config: cfg, Logger: telemetry.NewLogger(os.Stderr), Countries: countries.MustDefault()}
	defer p.Close()
	pool, err := p.OpenStore(ctx, booking.Name)
	if err != nil {
		t.Fatalf("booking's role on its own database: %v", err)
	}
	sg, err := booking.New(ctx, booking.Deps{Pool: pool, Countries: p.Countries})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	ev, err := events.New("/careslot/patient", "careslot.patient.PatientRegistered.v1", id,
		eventdata.Patient{ID: id, Version: 1, FirstName: "Ana", LastName: "Silva", Country: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Service.ApplyPatientEvent(ctx, ev); err != nil {
		t.Fatalf("booking's role writing its replica: %v", err)
	}
	if err := sg.Service.ExportOccupied(ctx, func([]eventdata.Appointment) error { return nil }); err != nil {
		t.Fatalf("booking's role reading its appointments: %v", err)
	}
	// …but not its schema: only migrate changes that.
	for _, ddl := range []string{`CREATE TABLE intruder (i int)`, `DROP TABLE outbox`, `ALTER TABLE appointments ADD COLUMN x int`} {
		if _, err := pool.Exec(ctx, ddl); !isCode(err, "42501") {
			t.Errorf("booking's role ran %q: %v", ddl, err)
		}
	}

	// A session's own staging tables are not the schema: the practitioner
	// import stages its COPY batches in them (ADR 22).
	staging, err := pgx.Connect(ctx, as("practitioner", "practitioner"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staging.Exec(ctx, `CREATE TEMP TABLE import_stage (i int) ON COMMIT DELETE ROWS`); err != nil {
		t.Errorf("practitioner's role making a staging table: %v", err)
	}
	_ = staging.Close(ctx)

	// Neither role reaches the other's database.
	for _, c := range [][2]string{{"booking", "practitioner"}, {"practitioner", "booking"}} {
		conn, err := pgx.Connect(ctx, as(c[0], c[1]))
		if err == nil {
			_ = conn.Close(ctx)
			t.Errorf("%s's role connected to the %s database", c[0], c[1])
		} else if !isCode(err, "42501") {
			t.Errorf("%s's role on the %s database: %v, want permission denied (42501)", c[0], c[1], err)
		}
	}
	// The practitioner role does reach its own.
	conn, err := pgx.Connect(ctx, as("practitioner", "practitioner"))
	if err != nil {
		t.Fatalf("practitioner's role on its own database: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM practitioners`).Scan(&n); err != nil {
		t.Errorf("practitioner's role reading its table: %v", err)
	}
	_ = conn.Close(ctx)
}

// TestServeRefusesASchemaItWasNotMadeFor: serve opens a database only when
// its schema is the one this build was made for — migrated to this build's
// newest version, with the catalogue's country partitions — and otherwise
// refuses, saying what to run; a newer schema is served only when its newer
// migrations were all expand-only.
func TestServeRefusesASchemaItWasNotMadeFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, dsn := testenv.NewDatabase(t, booking.Name) // migrated, no partitions yet
	cfg := config.FromEnv()
	cfg.DatabaseURLs[booking.Name] = dsn
	p := &platform.Platform{Config: cfg, Logger: telemetry.NewLogger(os.Stderr), Countries: countries.MustDefault()}
	defer p.Close()
	refused := func(want string) {
		t.Helper()
		_, err := p.OpenStore(ctx, booking.Name)
		var se *postgres.SchemaError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Fatalf("serve: %v, want a refusal saying %q", err, want)
		}
		t.Logf("refused: %v", err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	var latest int64
	if err := admin.QueryRow(ctx, `SELECT max(version_id) FROM goose_booking`).Scan(&latest); err != nil {
		t.Fatal(err)
	}

	refused("lacks the country partitions [appointments_")
	if err := booking.EnsurePartitions(ctx, admin, p.Countries.Codes()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenStore(ctx, booking.Name); err != nil {
		t.Fatalf("a migrated database: %v", err)
	}

	exec(`DELETE FROM goose_booking WHERE version_id = $1`, latest)
	refused(fmt.Sprintf("booking schema is at version %d, this build needs %d: run `careslot migrate booking`", latest-1, latest))

	// A newer build migrated: refused unless its migrations were expand-only.
	exec(`INSERT INTO goose_booking (version_id, is_applied) VALUES ($1, true), ($2, true)`, latest, latest+1)
	exec(`UPDATE schema_requirements SET min_known_version = $1 WHERE migration_set = 'booking'`, latest+1)
	refused(fmt.Sprintf("booking schema is at version %d, newer than this build knows (%d)", latest+1, latest))
	exec(`UPDATE schema_requirements SET min_known_version = $1 WHERE migration_set = 'booking'`, latest)
	if _, err := p.OpenStore(ctx, booking.Name); err != nil {
		t.Fatalf("a newer schema whose newer migrations are expand-only: %v", err)
	}

	// A database nobody migrated.
	bare := config.WithDatabase(testenv.ServerURL(), "bare_"+testenv.Suffix())
	if err := postgres.EnsureDatabase(ctx, bare); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = postgres.DropDatabase(context.Background(), bare) })
	p.Config.DatabaseURLs[booking.Name] = bare
	refused("booking database is not migrated (no goose_platform): run `careslot migrate booking`")
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

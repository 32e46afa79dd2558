package store

import (
	"context"
	"strings"
	"testing"

	"github.com/careslot/careslot/internal/postgres"
	"github.com/careslot/careslot/internal/testenv"
)

// TestAppointmentReadsLookUpPatientsByKey: reading appointments joins each
// one to its patient by primary key even when the replica was never analyzed
// (autovacuum off, or behind a bulk load). The plain join was planned as a
// hash of the whole patient replica per read: a sequential scan per booking
// event in the agenda consumer (ADR 0030).
func TestAppointmentReadsLookUpPatientsByKey(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.NewDatabase(t, "booking")
	ctx := context.Background()
	if err := New(pool).EnsurePartitions(ctx, []string{"fr", "de"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO patients (id, version, first_name, last_name)
		SELECT gen_random_uuid(), 1, 'A', 'B' FROM generate_series(1, 5000)`); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// pgx prepares every statement, and after five executions PostgreSQL may keep the generic plan.
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	plan := func(name, query, args string) string {
		if _, err := conn.Exec(ctx, `PREPARE `+name+` AS `+query); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+`(`+args+`)`)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	const id = `'00000000-0000-0000-0000-000000000001'`
	for _, c := range []struct{ name, query, args string }{
		{"by_ids", `SELECT ` + selectCols + ` FROM appointments` + fromJoined + ` WHERE a.id = ANY($1::uuid[])`, `ARRAY[` + id + `::uuid]`},
		{"by_id", holdSQL, id},
		{"changed", returning(`UPDATE appointments SET version = version + 1 WHERE id = $1::uuid`), id},
	} {
		p := plan(c.name, c.query, c.args)
		if strings.Contains(p, "Seq Scan on patients") || !strings.Contains(p, "patients_pkey") {
			t.Errorf("%s reads the patient replica other than by key:\n%s", c.name, p)
		}
	}
	// What the join was: logged, not asserted, since it depends on the planner's guesses.
	t.Logf("the plain join, for comparison:\n%s", plan("plain", `SELECT `+selectCols+` FROM appointments a
		LEFT JOIN patients p ON p.id = a.patient_id WHERE a.id = ANY($1::uuid[])`, `ARRAY[`+id+`::uuid]`))
}

// TestPreparedReadsUseGenericPlansThatPruneAtExecution: the pools plan each prepared statement
// once (plan_cache_mode force_generic_plan, set by postgres.Connect), and a generic plan of a read
// by country still reads one partition: it prunes the others when it runs (ADR 0034). A URL may
// ask for PostgreSQL's default back.
func TestPreparedReadsUseGenericPlansThatPruneAtExecution(t *testing.T) {
	t.Parallel()
	pool, dsn := testenv.NewDatabase(t, "booking")
	ctx := context.Background()
	if err := New(pool).EnsurePartitions(ctx, []string{"fr", "de", "it"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var mode string
	if err := conn.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil || mode != "force_generic_plan" {
		t.Fatalf("plan_cache_mode = %q (%v), want force_generic_plan", mode, err)
	}
	if _, err := conn.Exec(ctx, `PREPARE one AS SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.country = $1 AND a.id = $2`); err != nil {
		t.Fatal(err)
	}
	var plan []string
	rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE one('fr', '00000000-0000-0000-0000-000000000001')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Subplans Removed: 2") || strings.Contains(text, "appointments_de") {
		t.Fatalf("the generic plan does not prune the other countries' partitions when it runs:\n%s", text)
	}

	auto, err := postgres.Connect(ctx, dsn+"&plan_cache_mode=auto")
	if err != nil {
		t.Fatal(err)
	}
	defer auto.Close()
	if err := auto.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil || mode != "auto" {
		t.Fatalf("with plan_cache_mode=auto in the URL: %q (%v)", mode, err)
	}
}

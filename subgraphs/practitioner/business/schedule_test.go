package business_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
)

// practice is a registered practitioner with two locations and two types.
type practice struct {
	id         string
	ctx        context.Context
	locA, locB string
	typ1, typ2 string
}

func newPractice(t *testing.T, svc *business.Service) practice {
	t.Helper()
	p := practice{id: register(t, svc)}
	p.ctx = as(p.id, auth.RolePractitioner)
	for i, name := range []string{"Cabinet Paris", "Cabinet Montreuil"} {
		l, err := svc.AddLocation(p.ctx, business.LocationInput{Name: name, Line1: "1 rue X", PostalCode: "75011",
			City: "Paris", Country: "fr", Lat: 48.86, Lon: 2.37, TimeZone: "Europe/Paris"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p.locA = l.ID
		} else {
			p.locB = l.ID
		}
	}
	for i, name := range []string{"Consultation", "Suivi"} {
		a, err := svc.SaveAppointmentType(p.ctx, business.AppointmentTypeInput{Name: name, DurationMinutes: 20, VisitMode: "IN_PERSON", OnlineBookable: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p.typ1 = a.ID
		} else {
			p.typ2 = a.ID
		}
	}
	return p
}

func hm(s string) int {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 1440
		}
		panic(err)
	}
	return t.Hour()*60 + t.Minute()
}

func rule(weekday int, from, to string, step int, types ...string) business.RuleInput {
	return business.RuleInput{Weekday: weekday, StartMinute: hm(from), EndMinute: hm(to), StepMinutes: step, AppointmentTypeIDs: types}
}

func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.InvalidInput || e.Field != field {
		t.Errorf("%s: want INVALID_INPUT on %s, got %v", what, field, err)
	}
}

// lastSnapshot decodes the data of the newest outbox event of a practitioner.
func lastSnapshot(t *testing.T, pool *pgxpool.Pool, id string) (string, eventdata.Practitioner) {
	t.Helper()
	var typ string
	var payload []byte
	err := pool.QueryRow(context.Background(),
		`SELECT type, payload FROM outbox WHERE key = $1 AND topic = 'practitioner-events' ORDER BY seq DESC LIMIT 1`, id).Scan(&typ, &payload)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	var snap eventdata.Practitioner
	if err := ev.DataAs(&snap); err != nil {
		t.Fatal(err)
	}
	if ev.Type != typ || ev.Subject != id {
		t.Fatalf("event %s/%s in a %s row for %s", ev.Type, ev.Subject, typ, id)
	}
	return typ, snap
}

func TestOpeningHoursValidation(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := newPractice(t, svc)
	other := newPractice(t, svc)
	sent := count(t, pool, `SELECT count(*) FROM outbox`)

	cases := []struct {
		name  string
		in    business.OpeningHoursInput
		field string
	}{
		{"end before start", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "12:00", "09:00", 15, p.typ1)}}, "rules[0].endTime"},
		{"empty rule", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "09:00", 15, p.typ1)}}, "rules[0].endTime"},
		{"after midnight", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{{Weekday: 1, StartMinute: 600, EndMinute: 1445, StepMinutes: 15, AppointmentTypeIDs: []string{p.typ1}}}}, "rules[0].endTime"},
		{"odd start", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:03", "12:00", 15, p.typ1)}}, "rules[0].startTime"},
		{"no weekday", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(0, "09:00", "12:00", 15, p.typ1)}}, "rules[0].weekday"},
		{"step not multiple of 5", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 7, p.typ1)}}, "rules[0].stepMinutes"},
		{"step 0", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 0, p.typ1)}}, "rules[0].stepMinutes"},
		{"step too long", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "18:00", 245, p.typ1)}}, "rules[0].stepMinutes"},
		{"no types", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15)}}, "rules[0].appointmentTypeIds"},
		{"unknown type", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15, p.typ1, "0190a0b0-0000-7000-8000-000000000000")}}, "rules[0].appointmentTypeIds"},
		{"malformed type", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15, "nope")}}, "rules[0].appointmentTypeIds"},
		{"other practice's type", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15, other.typ1)}}, "rules[0].appointmentTypeIds"},
		{"other practice's location", business.OpeningHoursInput{LocationID: other.locA, Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15, p.typ1)}}, "locationId"},
		{"malformed location", business.OpeningHoursInput{LocationID: "x", Rules: []business.RuleInput{rule(1, "09:00", "12:00", 15, p.typ1)}}, "locationId"},
		{"overlap in the rules", business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{
			rule(1, "09:00", "12:00", 15, p.typ1), rule(2, "09:00", "12:00", 15, p.typ1), rule(1, "11:45", "13:00", 15, p.typ2)}}, "rules[2]"},
	}
	for _, c := range cases {
		_, err := svc.SetOpeningHours(p.ctx, c.in)
		wantInvalid(t, c.name, err, c.field)
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours`); n != 0 {
		t.Fatalf("bad input wrote %d rules", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != sent {
		t.Fatalf("bad input emitted %d events", n-sent)
	}

	// Adjacent rules do not overlap; 24:00 ends the day; duplicate type ids fold.
	pr, err := svc.SetOpeningHours(p.ctx, business.OpeningHoursInput{LocationID: p.locA, Rules: []business.RuleInput{
		rule(1, "09:00", "12:00", 15, p.typ1, p.typ1, p.typ2), rule(1, "12:00", "13:00", 20, p.typ1),
		{Weekday: 5, StartMinute: hm("20:00"), EndMinute: 1440, StepMinutes: 30, AppointmentTypeIDs: []string{p.typ2}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hours, _ := svc.OpeningHoursByPractitioners(context.Background(), []string{p.id})
	if len(hours) != 3 || len(hours[0].AppointmentTypeIDs) != 2 || hours[2].EndMinute != 1440 || hours[2].Weekday != 5 {
		t.Fatalf("hours %+v", hours)
	}
	if pr.Version != 6 { // register, 2 locations, 2 types, hours
		t.Fatalf("version %d, want 6", pr.Version)
	}
}

func TestOpeningHoursReplaceAndOverlapAcrossLocations(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := newPractice(t, svc)
	set := func(loc string, rules ...business.RuleInput) error {
		_, err := svc.SetOpeningHours(p.ctx, business.OpeningHoursInput{LocationID: loc, Rules: rules})
		return err
	}
	rulesAt := func(loc string) int {
		return count(t, pool, `SELECT count(*) FROM opening_hours WHERE location_id = $1`, loc)
	}
	if err := set(p.locA, rule(1, "09:00", "12:00", 15, p.typ1), rule(3, "14:00", "18:00", 30, p.typ1, p.typ2)); err != nil {
		t.Fatal(err)
	}
	if err := set(p.locB, rule(1, "13:00", "17:00", 15, p.typ2)); err != nil {
		t.Fatal(err)
	}
	// One place at a time: Monday 11:00-14:00 at A would overlap both.
	err := set(p.locB, rule(1, "11:00", "12:30", 15, p.typ2))
	wantInvalid(t, "overlap with A", err, "rules[0]")
	if err != nil && !strings.Contains(err.Error(), "Cabinet Paris") {
		t.Errorf("message does not name the other location: %v", err)
	}
	if rulesAt(p.locB) != 1 {
		t.Fatal("refused rules changed B")
	}
	// Replacing A's rules: its own old rules do not count, B's do.
	err = set(p.locA, rule(1, "08:00", "13:30", 15, p.typ1))
	wantInvalid(t, "overlap with B", err, "rules[0]")
	if err := set(p.locA, rule(1, "08:00", "13:00", 15, p.typ1), rule(2, "09:00", "12:00", 10, p.typ2)); err != nil {
		t.Fatal(err)
	}
	if rulesAt(p.locA) != 2 || rulesAt(p.locB) != 1 {
		t.Fatalf("after replace: A %d rules, B %d", rulesAt(p.locA), rulesAt(p.locB))
	}
	hours, _ := svc.OpeningHoursByPractitioners(context.Background(), []string{p.id})
	for _, h := range hours {
		if h.LocationID == p.locA && h.Weekday == 3 {
			t.Fatal("Wednesday rule of A survived the replace")
		}
	}
	// An empty list clears the location.
	if err := set(p.locA); err != nil || rulesAt(p.locA) != 0 || rulesAt(p.locB) != 1 {
		t.Fatalf("clear: %v, A %d, B %d", err, rulesAt(p.locA), rulesAt(p.locB))
	}
}

func TestOpeningHoursAuthorisationAndSnapshot(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := newPractice(t, svc)
	other := newPractice(t, svc)
	in := business.OpeningHoursInput{PractitionerID: p.id, LocationID: p.locA, Rules: []business.RuleInput{rule(2, "09:00", "12:00", 15, p.typ1, p.typ2)}}

	_, err := svc.SetOpeningHours(context.Background(), in)
	wantCode(t, err, apperr.Unauthenticated)
	_, err = svc.SetOpeningHours(other.ctx, in)
	wantCode(t, err, apperr.Forbidden)
	_, err = svc.SetOpeningHours(as(p.id, auth.RolePatient), in)
	wantCode(t, err, apperr.Forbidden)
	_, err = svc.SetOpeningHours(as("sec-2", auth.RoleSecretary, other.id), in)
	wantCode(t, err, apperr.Forbidden)
	if n := count(t, pool, `SELECT count(*) FROM opening_hours`); n != 0 {
		t.Fatalf("refused callers wrote %d rules", n)
	}

	pr, err := svc.SetOpeningHours(as("sec-1", auth.RoleSecretary, other.id, p.id), in)
	if err != nil {
		t.Fatalf("secretary: %v", err)
	}
	_, err = svc.AddAbsence(as("sec-1", auth.RoleSecretary, p.id), business.AbsenceInput{
		StartsAt: time.Now().Add(24 * time.Hour), EndsAt: time.Now().Add(72 * time.Hour), Reason: "Congrès"})
	if err != nil {
		t.Fatalf("secretary absence: %v", err)
	}

	typ, snap := lastSnapshot(t, pool, p.id)
	if typ != eventdata.AbsenceAdded || snap.Version != pr.Version+1 {
		t.Fatalf("event %s v%d, want %s v%d", typ, snap.Version, eventdata.AbsenceAdded, pr.Version+1)
	}
	if len(snap.OpeningHours) != 1 || len(snap.Absences) != 1 || snap.Absences[0].Reason != "Congrès" {
		t.Fatalf("snapshot %+v", snap)
	}
	h := snap.OpeningHours[0]
	if h.LocationID != p.locA || h.Weekday != 2 || h.StartTime != "09:00" || h.EndTime != "12:00" || h.StepMinutes != 15 ||
		len(h.AppointmentTypeIDs) != 2 || h.AppointmentTypeIDs[0] != p.typ1 {
		t.Fatalf("opening hours in snapshot %+v", h)
	}
	var set int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE key = $1 AND type = $2`, p.id, eventdata.OpeningHoursSet).Scan(&set); err != nil || set != 1 {
		t.Fatalf("OpeningHoursSet events: %d %v", set, err)
	}
}

// TestOpeningHoursKeyTiesARuleToALocationOfItsPractitioner checks the schema
// itself (migration 00004): one composite key refuses a rule whose location
// belongs to another practitioner, and deleting a location or a practitioner
// still removes its rules.
func TestOpeningHoursKeyTiesARuleToALocationOfItsPractitioner(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p, other := newPractice(t, svc), newPractice(t, svc)
	ctx := context.Background()
	insert := func(practitioner, location, typ string) error {
		_, err := pool.Exec(ctx, `INSERT INTO opening_hours
			(id, practitioner_id, location_id, country, weekday, start_minute, end_minute, step_minutes, appointment_type_ids)
			VALUES (gen_random_uuid(), $1, $2, 'fr', 1, 540, 600, 15, ARRAY[$3::uuid])`, practitioner, location, typ)
		return err
	}
	var pgErr *pgconn.PgError
	if err := insert(p.id, other.locA, p.typ1); !errors.As(err, &pgErr) || pgErr.Code != "23503" {
		t.Fatalf("a rule of another practitioner's location: %v, want a foreign-key violation", err)
	}
	for _, loc := range []string{p.locA, p.locB} {
		if err := insert(p.id, loc, p.typ1); err != nil {
			t.Fatal(err)
		}
	}
	if err := insert(other.id, other.locA, other.typ1); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM locations WHERE country = 'fr' AND id = $1`, p.locA); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours WHERE practitioner_id = $1`, p.id); n != 1 {
		t.Fatalf("after deleting a location, %d rules of its practitioner, want 1", n)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM practitioners WHERE country = 'fr' AND id = $1`, p.id); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours WHERE practitioner_id = $1`, p.id); n != 0 {
		t.Fatalf("after deleting the practitioner, %d of its rules left", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours`); n != 1 {
		t.Fatalf("%d rules left in all, want the other practitioner's 1", n)
	}
}

func TestAbsences(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	p := newPractice(t, svc)
	other := newPractice(t, svc)
	now := time.Now()
	day := 24 * time.Hour
	sent := count(t, pool, `SELECT count(*) FROM outbox`)

	for _, c := range []struct {
		name  string
		in    business.AbsenceInput
		field string
	}{
		{"ends before it starts", business.AbsenceInput{StartsAt: now.Add(2 * day), EndsAt: now.Add(day)}, "endsAt"},
		{"empty", business.AbsenceInput{StartsAt: now.Add(day), EndsAt: now.Add(day)}, "endsAt"},
		{"too long", business.AbsenceInput{StartsAt: now.Add(day), EndsAt: now.Add(368 * day)}, "endsAt"},
		{"in the past", business.AbsenceInput{StartsAt: now.Add(-3 * day), EndsAt: now.Add(-day)}, "endsAt"},
		{"long reason", business.AbsenceInput{StartsAt: now.Add(day), EndsAt: now.Add(2 * day), Reason: strings.Repeat("x", 501)}, "reason"},
	} {
		_, err := svc.AddAbsence(p.ctx, c.in)
		wantInvalid(t, c.name, err, c.field)
	}
	if n := count(t, pool, `SELECT count(*) FROM absences`); n != 0 {
		t.Fatalf("bad absences written: %d", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != sent {
		t.Fatal("bad absences emitted events")
	}

	// Started already but not ended: fine. 366 days: fine.
	a1, err := svc.AddAbsence(p.ctx, business.AbsenceInput{StartsAt: now.Add(-day), EndsAt: now.Add(day), Reason: " Congé "})
	if err != nil || a1.Reason != "Congé" || a1.PractitionerID != p.id {
		t.Fatalf("add: %v %+v", err, a1)
	}
	a2, err := svc.AddAbsence(p.ctx, business.AbsenceInput{StartsAt: now.Add(10 * day), EndsAt: now.Add(376 * day)})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := svc.AbsencesByPractitioners(context.Background(), []string{p.id}, false)
	if len(list) != 2 || list[0].ID != a1.ID {
		t.Fatalf("absences %+v", list)
	}

	// Reading absences: only who may act for the practice.
	if err := svc.CanSeeAbsences(p.ctx, p.id); err != nil {
		t.Fatal(err)
	}
	wantCode(t, svc.CanSeeAbsences(other.ctx, p.id), apperr.Forbidden)
	wantCode(t, svc.CanSeeAbsences(as("x", auth.RolePatient), p.id), apperr.Forbidden)
	wantCode(t, svc.CanSeeAbsences(context.Background(), p.id), apperr.Unauthenticated)

	// Removing: another practice's absence is NOT_FOUND, and stays.
	wantCode(t, svc.RemoveAbsence(other.ctx, a1.ID), apperr.NotFound)
	wantCode(t, svc.RemoveAbsence(as("sec-9", auth.RoleSecretary, other.id), a1.ID), apperr.NotFound)
	wantCode(t, svc.RemoveAbsence(as(p.id, auth.RolePatient), a1.ID), apperr.Forbidden)
	wantCode(t, svc.RemoveAbsence(context.Background(), a1.ID), apperr.Unauthenticated)
	wantCode(t, svc.RemoveAbsence(p.ctx, "nope"), apperr.NotFound)
	if n := count(t, pool, `SELECT count(*) FROM absences`); n != 2 {
		t.Fatalf("refused removal deleted: %d left", n)
	}
	if err := svc.RemoveAbsence(as("sec-1", auth.RoleSecretary, p.id), a1.ID); err != nil {
		t.Fatalf("secretary removal: %v", err)
	}
	wantCode(t, svc.RemoveAbsence(p.ctx, a1.ID), apperr.NotFound)
	typ, snap := lastSnapshot(t, pool, p.id)
	if typ != eventdata.AbsenceRemoved || len(snap.Absences) != 1 || snap.Absences[0].ID != a2.ID {
		t.Fatalf("after removal: %s %+v", typ, snap.Absences)
	}
}

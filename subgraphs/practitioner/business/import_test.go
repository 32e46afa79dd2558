package business_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/export"
	"github.com/careslot/careslot/internal/testenv"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

var admin = as("ops", auth.RoleAdmin)

func ptr[T any](v T) *T { return &v }

// importRow is a valid row: two locations, three types, a week of rules.
func importRow(ext string) business.ImportRow {
	loc := func(name, city string) business.LocationInput {
		return business.LocationInput{Name: name, Line1: "12 rue de la Paix", PostalCode: "75002", City: city, Country: "fr",
			Lat: 48.87, Lon: 2.33, TimeZone: "Europe/Paris"}
	}
	typ := func(key, name string, minutes int) business.ImportTypeInput {
		return business.ImportTypeInput{Key: key, AppointmentTypeInput: business.AppointmentTypeInput{
			Name: name, DurationMinutes: minutes, VisitMode: "IN_PERSON", NewPatientsAllowed: true, OnlineBookable: true}}
	}
	r := business.ImportRow{
		ExternalID: ext, Country: "fr", FirstName: "Jeanne", LastName: "Martin-" + ext,
		Specialties: []string{"general-practice"}, Languages: []string{"fr", "en"}, RegistrationNumber: ptr("10101010101"),
		Bio:       ptr("Médecin généraliste."),
		Locations: []business.LocationInput{loc("Cabinet", "Paris"), loc("Maison de santé", "Paris")},
		AppointmentTypes: []business.ImportTypeInput{
			typ("first", "Première consultation", 30), typ("followup", "Suivi", 15), typ("vaccine", "Vaccination", 10)},
	}
	for wd := 1; wd <= 5; wd++ {
		r.OpeningHours = append(r.OpeningHours,
			business.ImportHoursInput{LocationIndex: 0, AppointmentTypeKeys: []string{"first", "followup"},
				RuleInput: business.RuleInput{Weekday: wd, StartMinute: 9 * 60, EndMinute: 12 * 60, StepMinutes: 15}},
			business.ImportHoursInput{LocationIndex: 1, AppointmentTypeKeys: []string{"followup", "vaccine"},
				RuleInput: business.RuleInput{Weekday: wd, StartMinute: 14 * 60, EndMinute: 18 * 60, StepMinutes: 15}})
	}
	return r
}

func TestImportIsIdempotentAndUpdates(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	res, err := svc.Import(admin, []business.ImportRow{importRow("ext-1")})
	if err != nil || res.Imported != 1 || len(res.Failed) != 0 {
		t.Fatalf("first import: %v %+v", err, res)
	}
	id := res.PractitionerIDs[0]
	agg1, err := store.New(pool).Aggregate(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(agg1.Locations) != 2 || len(agg1.AppointmentTypes) != 3 || len(agg1.OpeningHours) != 10 || agg1.Practitioner.ExternalID != "ext-1" {
		t.Fatalf("imported %+v", agg1)
	}

	// The same row again, changed: profile, a location's address, a type's
	// duration (matched by name whatever the case), a new location, new hours.
	r := importRow("ext-1")
	r.Bio, r.FirstName, r.AcceptsNewPatients = ptr("Nouvelle bio"), "Jeanne-Marie", ptr(false)
	r.Languages = nil // absent: kept
	r.Locations[0].Line1 = "14 rue de la Paix"
	r.Locations = append(r.Locations, business.LocationInput{Name: "Annexe", Line1: "1 rue Y", PostalCode: "93100",
		City: "Montreuil", Country: "fr", Lat: 48.86, Lon: 2.44, TimeZone: "Europe/Paris"})
	r.AppointmentTypes[1].Name, r.AppointmentTypes[1].DurationMinutes = "SUIVI", 20
	r.OpeningHours = []business.ImportHoursInput{
		{LocationIndex: 0, AppointmentTypeKeys: []string{"followup"}, RuleInput: business.RuleInput{Weekday: 1, StartMinute: 8 * 60, EndMinute: 13 * 60, StepMinutes: 20}},
		{LocationIndex: 2, AppointmentTypeKeys: []string{"vaccine"}, RuleInput: business.RuleInput{Weekday: 6, StartMinute: 9 * 60, EndMinute: 12 * 60, StepMinutes: 10}},
	}
	res, err = svc.Import(admin, []business.ImportRow{r})
	if err != nil || res.Imported != 1 || res.PractitionerIDs[0] != id {
		t.Fatalf("re-import: %v %+v", err, res)
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners`); n != 1 {
		t.Fatalf("re-import duplicated: %d practitioners", n)
	}
	agg2, err := store.New(pool).Aggregate(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p := agg2.Practitioner
	if p.Version != 2 || p.Bio != "Nouvelle bio" || p.FirstName != "Jeanne-Marie" || p.AcceptsNewPatients ||
		!slices.Equal(p.Languages, []string{"fr", "en"}) {
		t.Fatalf("profile after re-import %+v", p)
	}
	if len(agg2.Locations) != 3 || agg2.Locations[0].ID != agg1.Locations[0].ID || agg2.Locations[1].ID != agg1.Locations[1].ID ||
		agg2.Locations[0].Line1 != "14 rue de la Paix" {
		t.Fatalf("locations after re-import %+v", agg2.Locations)
	}
	if len(agg2.AppointmentTypes) != 3 {
		t.Fatalf("types after re-import %+v", agg2.AppointmentTypes)
	}
	for i, a := range agg2.AppointmentTypes {
		if a.ID != agg1.AppointmentTypes[i].ID {
			t.Fatalf("type %d changed id", i)
		}
	}
	if a := agg2.AppointmentTypes[1]; a.Name != "SUIVI" || a.DurationMinutes != 20 {
		t.Fatalf("type not updated %+v", a)
	}
	// Location 1 was imported with no rules: cleared; 0 and 2 replaced.
	if len(agg2.OpeningHours) != 2 {
		t.Fatalf("hours after re-import %+v", agg2.OpeningHours)
	}
	for _, h := range agg2.OpeningHours {
		if h.LocationID == agg1.Locations[0].ID && (h.Weekday != 1 || h.StartMinute != 480 || h.AppointmentTypeIDs[0] != agg1.AppointmentTypes[1].ID) {
			t.Fatalf("hours of location 0: %+v", h)
		}
	}

	// Events: one per import, the full snapshot, version in step with the row.
	typ, snap := lastSnapshot(t, pool, id)
	if typ != eventdata.PractitionerImported || snap.Version != 2 || len(snap.Locations) != 3 || len(snap.OpeningHours) != 2 ||
		len(snap.AppointmentTypes) != 3 || snap.FirstName != "Jeanne-Marie" {
		t.Fatalf("snapshot %s %+v", typ, snap)
	}
	want := business.SnapshotOf(agg2)
	if fmt.Sprint(want.OpeningHours) != fmt.Sprint(snap.OpeningHours) || fmt.Sprint(want.Locations) != fmt.Sprint(snap.Locations) {
		t.Fatalf("event snapshot differs from the store:\n%+v\n%+v", snap, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE key = $1 AND type = $2`, id, eventdata.PractitionerImported); n != 2 {
		t.Fatalf("want 2 import events, got %d", n)
	}

	// The same practice twice in one call: the second row updates the first.
	r1, r2 := importRow("ext-2"), importRow("ext-2")
	r2.Bio = ptr("second")
	res, err = svc.Import(admin, []business.ImportRow{r1, r2})
	if err != nil || res.Imported != 2 || res.PractitionerIDs[0] != res.PractitionerIDs[1] {
		t.Fatalf("duplicate rows: %v %+v", err, res)
	}
	got, _ := svc.Get(context.Background(), res.PractitionerIDs[0])
	if got.Bio != "second" || got.Version != 2 {
		t.Fatalf("duplicate rows: %+v", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM locations WHERE practitioner_id = $1`, got.ID); n != 2 {
		t.Fatalf("duplicate rows: %d locations", n)
	}
}

func TestImportReportsBadRows(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	rows := []business.ImportRow{importRow("good-0")}
	bad := map[int]string{}
	addBad := func(field string, mutate func(*business.ImportRow)) {
		r := importRow(fmt.Sprintf("bad-%d", len(rows)))
		mutate(&r)
		bad[len(rows)] = field
		rows = append(rows, r)
	}
	addBad("locations[1].timeZone", func(r *business.ImportRow) { r.Locations[1].TimeZone = "Mars/Olympus" })
	// Tuesday 11:00-18:00 at location 0 overlaps Tuesday 09:00-12:00 there.
	addBad("openingHours[3]", func(r *business.ImportRow) { r.OpeningHours[3].LocationIndex, r.OpeningHours[3].StartMinute = 0, 11*60 })
	addBad("openingHours[2].appointmentTypeKeys", func(r *business.ImportRow) { r.OpeningHours[2].AppointmentTypeKeys = []string{"nope"} })
	addBad("openingHours[0].stepMinutes", func(r *business.ImportRow) { r.OpeningHours[0].StepMinutes = 3 })
	addBad("openingHours[1].endTime", func(r *business.ImportRow) { r.OpeningHours[1].EndMinute = r.OpeningHours[1].StartMinute })
	addBad("openingHours[0].locationIndex", func(r *business.ImportRow) { r.OpeningHours[0].LocationIndex = 5 })
	addBad("appointmentTypes[2].durationMinutes", func(r *business.ImportRow) { r.AppointmentTypes[2].DurationMinutes = 0 })
	addBad("appointmentTypes[1].key", func(r *business.ImportRow) { r.AppointmentTypes[1].Key = "first" })
	addBad("specialties", func(r *business.ImportRow) { r.Specialties = []string{"astrology"} })
	addBad("country", func(r *business.ImportRow) { r.Country = "zz" })
	addBad("externalId", func(r *business.ImportRow) { r.ExternalID = " " })
	addBad("locations", func(r *business.ImportRow) { r.Locations, r.OpeningHours = nil, nil })
	addBad("locations[0].address.country", func(r *business.ImportRow) { r.Locations[0].Country = "de" })
	addBad("registrationNumber", func(r *business.ImportRow) { r.RegistrationNumber = ptr("12") })
	rows = append(rows, importRow("good-1"))

	res, err := svc.Import(admin, rows)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || len(res.Failed) != len(bad) {
		t.Fatalf("imported %d, failed %+v", res.Imported, res.Failed)
	}
	for _, f := range res.Failed {
		field, ok := bad[f.Index]
		if !ok || f.Code != apperr.InvalidInput || f.Field != field || !strings.HasPrefix(f.Message, field+": ") {
			t.Errorf("failure %+v, want field %q", f, field)
		}
		if res.PractitionerIDs[f.Index] != "" {
			t.Errorf("failed row %d has an id", f.Index)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners WHERE external_id LIKE 'bad-%'`); n != 0 {
		t.Fatalf("bad rows were written: %d", n)
	}
	for _, table := range []string{"practitioners", "outbox"} {
		if n := count(t, pool, `SELECT count(*) FROM `+table); n != 2 {
			t.Fatalf("%s: %d rows, want 2", table, n)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours`); n != 20 {
		t.Fatalf("opening_hours: %d rows, want 20", n)
	}
}

func TestImportChecksAgainstStoredHoursAndIsAdminOnly(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	r := importRow("ext-9")
	for _, ctx := range []context.Context{context.Background(), as("p", auth.RolePractitioner), as("s", auth.RoleSecretary, "p"), as("x", auth.RolePatient)} {
		_, err := svc.Import(ctx, []business.ImportRow{r})
		if c := apperr.CodeOf(err); c != apperr.Forbidden && c != apperr.Unauthenticated {
			t.Fatalf("non-admin import: %v", err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners`); n != 0 {
		t.Fatal("non-admin import wrote")
	}
	res, err := svc.Import(admin, []business.ImportRow{r})
	if err != nil || res.Imported != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	id := res.PractitionerIDs[0]
	// The portal adds a third location, open Saturdays 09:00-12:00.
	ctx := as(id, auth.RolePractitioner)
	loc, err := svc.AddLocation(ctx, business.LocationInput{Name: "Clinique", Line1: "2 rue Z", PostalCode: "75003",
		City: "Paris", Country: "fr", Lat: 48.86, Lon: 2.36, TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	types, _ := svc.TypesByPractitioners(context.Background(), []string{id})
	if _, err := svc.SetOpeningHours(ctx, business.OpeningHoursInput{LocationID: loc.ID, Rules: []business.RuleInput{
		rule(6, "09:00", "12:00", 15, types[0].ID)}}); err != nil {
		t.Fatal(err)
	}
	// A re-import opening location 0 on Saturday morning collides with it.
	r.Bio = ptr("changed")
	r.OpeningHours = append(r.OpeningHours, business.ImportHoursInput{LocationIndex: 0, AppointmentTypeKeys: []string{"first"},
		RuleInput: business.RuleInput{Weekday: 6, StartMinute: 11 * 60, EndMinute: 13 * 60, StepMinutes: 30}})
	res, err = svc.Import(admin, []business.ImportRow{r})
	if err != nil || res.Imported != 0 || len(res.Failed) != 1 || res.Failed[0].Field != "openingHours[10]" ||
		!strings.Contains(res.Failed[0].Message, "Clinique") {
		t.Fatalf("collision: %v %+v", err, res)
	}
	p, _ := svc.Get(context.Background(), id)
	if p.Bio == "changed" || count(t, pool, `SELECT count(*) FROM opening_hours WHERE practitioner_id = $1`, id) != 11 {
		t.Fatalf("refused re-import changed the practice: %+v", p)
	}
	// The portal's location and rules survive a valid re-import.
	r.OpeningHours = r.OpeningHours[:10]
	if res, err = svc.Import(admin, []business.ImportRow{r}); err != nil || res.Imported != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	if n := count(t, pool, `SELECT count(*) FROM opening_hours WHERE location_id = $1`, loc.ID); n != 1 {
		t.Fatalf("re-import touched a location it does not name: %d rules", n)
	}
	// Absences that have not ended travel in the import event.
	if _, err := svc.AddAbsence(ctx, business.AbsenceInput{StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// (A row that changes nothing writes no event: this one changes the bio.)
	r.Bio = ptr("changed again")
	if _, err = svc.Import(admin, []business.ImportRow{r}); err != nil {
		t.Fatal(err)
	}
	if typ, snap := lastSnapshot(t, pool, id); typ != eventdata.PractitionerImported || len(snap.Absences) != 1 || len(snap.Locations) != 3 || len(snap.OpeningHours) != 11 {
		t.Fatalf("snapshot %s %+v", typ, snap)
	}
}

func TestImportRetriesRowsTheDatabaseRefuses(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	// A rule only the database knows: the batch fails, rows are retried one
	// by one, and only the refused row is reported.
	if _, err := pool.Exec(context.Background(), `ALTER TABLE practitioners ADD CONSTRAINT no_refused CHECK (first_name <> 'Refused')`); err != nil {
		t.Fatal(err)
	}
	rows := []business.ImportRow{importRow("a"), importRow("b"), importRow("c")}
	rows[1].FirstName = "Refused"
	res, err := svc.Import(admin, rows)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || len(res.Failed) != 1 || res.Failed[0].Index != 1 || res.PractitionerIDs[0] == "" || res.PractitionerIDs[2] == "" {
		t.Fatalf("%+v", res)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM locations`); n != 4 {
		t.Fatalf("%d locations, want 4", n)
	}
}

func TestExportSnapshots(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	var rows []business.ImportRow
	for i := range 7 {
		r := importRow(fmt.Sprint("e", i))
		if i%3 == 0 {
			r.Country, r.RegistrationNumber = "de", ptr("123456789")
			for j := range r.Locations {
				r.Locations[j].Country, r.Locations[j].TimeZone = "de", "Europe/Berlin"
			}
		}
		rows = append(rows, r)
	}
	res, err := svc.Import(admin, rows)
	if err != nil || res.Imported != 7 {
		t.Fatalf("%v %+v", err, res)
	}
	var got []eventdata.Practitioner
	pages := 0
	err = svc.ExportSnapshots(context.Background(), 3, func(page []eventdata.Practitioner) error {
		pages++
		got = append(got, page...)
		return nil
	})
	if err != nil || pages != 3 || len(got) != 7 {
		t.Fatalf("export: %v, %d pages, %d snapshots", err, pages, len(got))
	}
	seen := map[string]bool{}
	for i, s := range got {
		if seen[s.ID] || len(s.OpeningHours) != 10 || len(s.Locations) != 2 || len(s.AppointmentTypes) != 3 || s.Version != 1 {
			t.Fatalf("snapshot %d: %+v", i, s)
		}
		seen[s.ID] = true
		if i > 0 && (s.Country < got[i-1].Country || s.Country == got[i-1].Country && s.ID < got[i-1].ID) {
			t.Fatal("export is not in (country, id) order")
		}
	}
	stop := fmt.Errorf("stop")
	if err := svc.ExportSnapshots(context.Background(), 2, func([]eventdata.Practitioner) error { return stop }); err != stop {
		t.Fatalf("export did not stop: %v", err)
	}
	// Resumed after any snapshot's cursor (across countries too), the
	// export over HTTP gives exactly the snapshots after it.
	ids := func(ps []eventdata.Practitioner) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for _, i := range []int{-1, 0, 1, 2, 5, 6} {
		var rest []eventdata.Practitioner
		after := ""
		if i >= 0 {
			after = export.KeyCursor(got[i].Country, got[i].ID)
		}
		err := svc.ExportPractices(context.Background(), after, func(page []eventdata.Practitioner, cursor string) error {
			if last := page[len(page)-1]; cursor != export.KeyCursor(last.Country, last.ID) {
				t.Errorf("page cursor %q", cursor)
			}
			rest = append(rest, page...)
			return nil
		})
		if err != nil || !slices.Equal(ids(rest), ids(got[i+1:])) {
			t.Errorf("after snapshot %d: %v %v, want %v", i, err, ids(rest), ids(got[i+1:]))
		}
	}
	if err := svc.ExportPractices(context.Background(), "fr/nope", func([]eventdata.Practitioner, string) error { return nil }); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Errorf("a malformed cursor: %v", err)
	}
}

// BenchmarkImport imports batches of 500 new practices (2 locations, 3 types,
// 10 rules each), then re-imports them changed (the update path: a row that
// changes nothing writes nothing).
func BenchmarkImport(b *testing.B) {
	for _, mode := range []string{"new", "reimport"} {
		b.Run(mode, func(b *testing.B) {
			pool, _ := testenv.NewDatabase(b, "practitioner")
			st := store.New(pool)
			if err := st.EnsurePartitions(context.Background(), []string{"fr"}); err != nil {
				b.Fatal(err)
			}
			svc := business.New(st, countries.MustDefault())
			const batch = 500
			mk := func(n int, changed bool) []business.ImportRow {
				rows := make([]business.ImportRow, batch)
				for i := range rows {
					rows[i] = importRow(fmt.Sprintf("bench-%d-%d", n, i))
					if changed {
						rows[i].Bio = ptr("Nouvelle bio")
						rows[i].OpeningHours[0].EndMinute -= 30
					}
				}
				return rows
			}
			if mode == "reimport" {
				for n := range b.N {
					if _, err := svc.Import(admin, mk(n, false)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			start := time.Now()
			for n := range b.N {
				res, err := svc.Import(admin, mk(n, mode == "reimport"))
				if err != nil || res.Imported != batch {
					b.Fatalf("%v %+v", err, res.Failed)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

func TestConcurrentImportsOfTheSamePractices(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	rows := make([]business.ImportRow, 50)
	for i := range rows {
		rows[i] = importRow(fmt.Sprint("race-", i))
	}
	results := make(chan business.ImportResult, 4)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			res, err := svc.Import(admin, rows)
			results <- res
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		res := <-results
		// A row another call created meanwhile is updated, not refused.
		if res.Imported != 50 || len(res.Failed) != 0 {
			t.Fatalf("imported %d, failed %+v", res.Imported, res.Failed)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM practitioners`); n != 50 {
		t.Fatalf("%d practitioners, want 50", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM locations`); n != 100 {
		t.Fatalf("%d locations, want 100", n)
	}
	// Every practice's version counts the imports that reached it, one event each.
	if n := count(t, pool, `SELECT count(*) FROM practitioners p WHERE version <> (SELECT count(*) FROM outbox WHERE key = p.id::text)`); n != 0 {
		t.Fatalf("%d practices whose version does not match their events", n)
	}
}

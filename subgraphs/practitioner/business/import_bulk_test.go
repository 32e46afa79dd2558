package business_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
)

// TestBulkImportMatchesOneByOne imports one mixed batch (new practices, one of
// them twice, updated ones, unchanged ones, invalid rows, two countries) in
// one call into a database, and row by row, one call each, into another that
// holds the same practices: the results, the rows and the snapshot events
// must be the same, ids aside (they are fresh in each database, so rows and
// events are compared with every id replaced by the key or the name it
// stands for).
func TestBulkImportMatchesOneByOne(t *testing.T) {
	t.Parallel()
	bulk, bulkPool := newService(t)
	single, singlePool := newService(t)

	german := func(ext string) business.ImportRow {
		r := importRow(ext)
		r.Country, r.RegistrationNumber = "de", ptr("123456789")
		for j := range r.Locations {
			r.Locations[j].Country, r.Locations[j].TimeZone = "de", "Europe/Berlin"
		}
		return r
	}
	var stored []business.ImportRow
	for i := range 12 {
		if i%3 == 0 {
			stored = append(stored, german(fmt.Sprint("s-", i)))
		} else {
			stored = append(stored, importRow(fmt.Sprint("s-", i)))
		}
	}
	for _, svc := range []*business.Service{bulk, single} {
		if res, err := svc.Import(admin, stored); err != nil || res.Imported != len(stored) {
			t.Fatalf("stored practices: %v %+v", err, res)
		}
	}
	before := map[*pgxpool.Pool]int64{}
	for _, pool := range []*pgxpool.Pool{bulkPool, singlePool} {
		var seq int64
		if err := pool.QueryRow(context.Background(), `SELECT max(seq) FROM outbox`).Scan(&seq); err != nil {
			t.Fatal(err)
		}
		before[pool] = seq
	}

	var rows []business.ImportRow
	add := func(r business.ImportRow) { rows = append(rows, r) }
	changed := func(i int, f func(*business.ImportRow)) {
		r := stored[i]
		r.Locations = slices.Clone(r.Locations)
		r.AppointmentTypes = slices.Clone(r.AppointmentTypes)
		r.OpeningHours = slices.Clone(r.OpeningHours)
		f(&r)
		add(r)
	}
	for i := range 6 { // new
		if i%2 == 0 {
			add(german(fmt.Sprint("n-", i)))
		} else {
			add(importRow(fmt.Sprint("n-", i)))
		}
	}
	changed(0, func(r *business.ImportRow) { r.Bio = ptr("Nouvelle bio") })
	changed(1, func(r *business.ImportRow) { r.Locations[0].Line1 = "14 rue de la Paix" })
	changed(2, func(r *business.ImportRow) { // a new location, open on Saturdays
		r.Locations = append(r.Locations, business.LocationInput{Name: "Annexe", Line1: "1 rue Y", PostalCode: "93100",
			City: "Montreuil", Country: "fr", Lat: 48.86, Lon: 2.44, TimeZone: "Europe/Paris"})
		r.OpeningHours = append(r.OpeningHours, business.ImportHoursInput{LocationIndex: 2, AppointmentTypeKeys: []string{"vaccine"},
			RuleInput: business.RuleInput{Weekday: 6, StartMinute: 9 * 60, EndMinute: 12 * 60, StepMinutes: 10}})
	})
	changed(3, func(r *business.ImportRow) { // a type renamed (matched whatever the case) and longer
		r.AppointmentTypes[1].Name, r.AppointmentTypes[1].DurationMinutes = "SUIVI", 20
	})
	changed(4, func(r *business.ImportRow) { // the second location's afternoons start later
		for k := range r.OpeningHours {
			if r.OpeningHours[k].LocationIndex == 1 {
				r.OpeningHours[k].StartMinute = 15 * 60
			}
		}
	})
	changed(5, func(r *business.ImportRow) { // the second location closes
		r.OpeningHours = slices.DeleteFunc(r.OpeningHours, func(h business.ImportHoursInput) bool { return h.LocationIndex == 1 })
	})
	changed(6, func(r *business.ImportRow) { // a type more; languages kept; no new patients
		r.Languages, r.AcceptsNewPatients = nil, ptr(false)
		r.AppointmentTypes = append(r.AppointmentTypes, business.ImportTypeInput{Key: "tele", AppointmentTypeInput: business.AppointmentTypeInput{
			Name: "Téléconsultation", DurationMinutes: 15, VisitMode: "VIDEO", NewPatientsAllowed: true, OnlineBookable: true}})
	})
	add(stored[7])                                                                                     // unchanged
	changed(8, func(r *business.ImportRow) { slices.Reverse(r.OpeningHours) })                         // unchanged: same rules
	changed(9, func(r *business.ImportRow) { r.Bio = ptr("Autre bio"); r.FirstName = "Jeanne-Marie" }) // de
	changed(10, func(r *business.ImportRow) { r.Languages = nil })                                     // unchanged: languages kept
	add(importRow("n-1"))                                                                              // new, twice: the second updates the first
	rows[len(rows)-1].Bio = ptr("second")
	for _, bad := range []func(*business.ImportRow){
		func(r *business.ImportRow) { r.Locations[1].TimeZone = "Mars/Olympus" },
		func(r *business.ImportRow) { r.OpeningHours[3].LocationIndex, r.OpeningHours[3].StartMinute = 0, 11*60 },
		func(r *business.ImportRow) { r.Specialties = []string{"astrology"} },
		func(r *business.ImportRow) { r.Country = "zz" },
	} {
		changed(11, bad)
	}
	add(importRow(" ")) // no external id

	bulkRes, err := bulk.Import(admin, rows)
	if err != nil {
		t.Fatal(err)
	}
	singleRes := business.ImportResult{PractitionerIDs: make([]string, len(rows))}
	for i, r := range rows {
		res, err := single.Import(admin, []business.ImportRow{r})
		if err != nil {
			t.Fatal(err)
		}
		singleRes.Imported += res.Imported
		singleRes.PractitionerIDs[i] = res.PractitionerIDs[0]
		for _, f := range res.Failed {
			f.Index = i
			singleRes.Failed = append(singleRes.Failed, f)
		}
	}
	if bulkRes.Imported != len(rows)-5 || len(bulkRes.Failed) != 5 {
		t.Fatalf("bulk: imported %d, failed %+v", bulkRes.Imported, bulkRes.Failed)
	}
	if bulkRes.Imported != singleRes.Imported || fmt.Sprint(bulkRes.Failed) != fmt.Sprint(singleRes.Failed) {
		t.Fatalf("results differ:\nbulk   %d %+v\nsingle %d %+v", bulkRes.Imported, bulkRes.Failed, singleRes.Imported, singleRes.Failed)
	}
	bulkKeys, singleKeys := practiceKeys(t, bulkPool), practiceKeys(t, singlePool)
	for i := range rows {
		if b, s := bulkKeys[bulkRes.PractitionerIDs[i]], singleKeys[singleRes.PractitionerIDs[i]]; b != s {
			t.Errorf("row %d: bulk imported %q, one by one %q", i, b, s)
		}
	}

	bulkRows, singleRows := practiceRows(t, bulkPool), practiceRows(t, singlePool)
	if len(bulkRows) != len(stored)+6 || len(singleRows) != len(bulkRows) {
		t.Fatalf("%d and %d practices, want %d", len(bulkRows), len(singleRows), len(stored)+6)
	}
	for key, want := range singleRows {
		if got := bulkRows[key]; got != want {
			t.Errorf("practice %s differs:\nbulk   %s\nsingle %s", key, got, want)
		}
	}

	bulkEvents := snapshotEvents(t, bulkPool, before[bulkPool], bulkKeys)
	singleEvents := snapshotEvents(t, singlePool, before[singlePool], singleKeys)
	if fmt.Sprint(bulkEvents) != fmt.Sprint(singleEvents) {
		t.Fatalf("events differ:\nbulk   %v\nsingle %v", bulkEvents, singleEvents)
	}
	// One event per change: six new practices (one imported twice), eight
	// updated, none for the three unchanged.
	n := 0
	for key, evs := range bulkEvents {
		n += len(evs)
		for _, unchanged := range []string{"fr/s-7", "fr/s-8", "fr/s-10"} {
			if key == unchanged {
				t.Errorf("unchanged practice %s has events: %v", key, evs)
			}
		}
	}
	if n != 6+1+8 {
		t.Fatalf("%d events, want 15: %v", n, bulkEvents)
	}
}

// practiceKeys maps practitioner ids to "country/externalId".
func practiceKeys(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id::text, country || '/' || external_id FROM practitioners`)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"": ""}
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			t.Fatal(err)
		}
		keys[id] = key
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// practiceRows reads every practice's rows as one JSON document per key,
// with each id replaced by the name of what it refers to.
func practiceRows(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT p.country || '/' || p.external_id, jsonb_build_object(
		  'profile', to_jsonb(p) - 'id' - 'created_at' - 'updated_at',
		  'locations', (SELECT jsonb_agg(to_jsonb(l) - 'id' - 'practitioner_id' - 'created_at' ORDER BY l.name)
		    FROM locations l WHERE l.country = p.country AND l.practitioner_id = p.id),
		  'types', (SELECT jsonb_agg(to_jsonb(a) - 'id' - 'practitioner_id' - 'created_at' ORDER BY a.name)
		    FROM appointment_types a WHERE a.country = p.country AND a.practitioner_id = p.id),
		  'hours', (SELECT jsonb_agg(jsonb_build_object('location', l.name, 'weekday', h.weekday, 'start', h.start_minute,
		      'end', h.end_minute, 'step', h.step_minutes, 'types',
		      (SELECT jsonb_agg(a.name ORDER BY u.n) FROM unnest(h.appointment_type_ids) WITH ORDINALITY AS u(id, n)
		        JOIN appointment_types a ON a.country = h.country AND a.id = u.id))
		    ORDER BY l.name, h.weekday, h.start_minute)
		    FROM opening_hours h JOIN locations l ON l.country = h.country AND l.id = h.location_id
		    WHERE h.country = p.country AND h.practitioner_id = p.id))::text
		FROM practitioners p`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var key, doc string
		if err := rows.Scan(&key, &doc); err != nil {
			t.Fatal(err)
		}
		out[key] = doc
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotEvents reads the events written after seq, per practice key, in
// order, each as its type and its snapshot with ids replaced by names.
func snapshotEvents(t *testing.T, pool *pgxpool.Pool, after int64, keys map[string]string) map[string][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT key, payload FROM outbox WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		Key     string
		Payload []byte
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[event])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range list {
		ev, err := events.Decode(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var snap eventdata.Practitioner
		if err := ev.DataAs(&snap); err != nil {
			t.Fatal(err)
		}
		key := keys[e.Key]
		if key == "" || ev.Subject != e.Key || snap.ID != e.Key {
			t.Fatalf("event %s for %q (subject %s, snapshot of %s)", ev.Type, e.Key, ev.Subject, snap.ID)
		}
		names := map[string]string{}
		for _, l := range snap.Locations {
			names[l.ID] = "location " + l.Name
		}
		for _, a := range snap.AppointmentTypes {
			names[a.ID] = "type " + a.Name
		}
		snap.ID = key
		for i := range snap.Locations {
			snap.Locations[i].ID = ""
		}
		for i := range snap.AppointmentTypes {
			snap.AppointmentTypes[i].ID = ""
		}
		for i, h := range snap.OpeningHours {
			h.ID, h.LocationID = "", names[h.LocationID]
			h.AppointmentTypeIDs = slices.Clone(h.AppointmentTypeIDs)
			for k, id := range h.AppointmentTypeIDs {
				h.AppointmentTypeIDs[k] = names[id]
			}
			snap.OpeningHours[i] = h
		}
		// Same day and time at two locations is impossible, so this order
		// does not depend on ids.
		slices.SortFunc(snap.OpeningHours, func(a, b eventdata.OpeningHours) int {
			return cmp.Or(cmp.Compare(a.Weekday, b.Weekday), cmp.Compare(a.StartTime, b.StartTime))
		})
		doc, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = append(out[key], ev.Type+" "+string(doc))
	}
	return out
}

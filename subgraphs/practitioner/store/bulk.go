package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// Bulk paths (import, export): whole batches of practices are read and
// written in a few round trips, one statement or COPY per table for the
// batch, rather than a statement per row.

type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// ExternalKey names an imported practitioner: its country and the id the
// importing system gave it.
type ExternalKey struct{ Country, ExternalID string }

// LockByExternalIDs reads, locking them, the practitioners with the given
// keys, each with all its parts; keys with no practitioner are absent.
func (t *Tx) LockByExternalIDs(ctx context.Context, keys []ExternalKey) (map[ExternalKey]Aggregate, error) {
	out := map[ExternalKey]Aggregate{}
	if len(keys) == 0 {
		return out, nil
	}
	countries := make([]string, len(keys))
	ext := make([]string, len(keys))
	for i, k := range keys {
		countries[i], ext[i] = k.Country, k.ExternalID
	}
	// Locks are taken in (country, id) order, so concurrent imports of
	// overlapping batches do not deadlock.
	rows, err := t.tx.Query(ctx, `SELECT `+practitionerCols+` FROM practitioners
		WHERE (country, external_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY country, id FOR UPDATE`, countries, ext)
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Practitioner, error) { return scanPractitioner(r) })
	if err != nil {
		return nil, err
	}
	aggs, err := withParts(ctx, t.tx, ps)
	if err != nil {
		return nil, err
	}
	for _, a := range aggs {
		out[ExternalKey{a.Practitioner.Country, a.Practitioner.ExternalID}] = a
	}
	return out, nil
}

// withParts reads the locations, types, opening hours and current absences of
// practitioners in one round trip.
func withParts(ctx context.Context, db batcher, ps []Practitioner) ([]Aggregate, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	b := &pgx.Batch{}
	var locs []Location
	var types []AppointmentType
	var hours []OpeningHours
	var absences []Absence
	b.Queue(`SELECT `+locationCols+` FROM locations WHERE practitioner_id = ANY($1::uuid[]) ORDER BY created_at, id`, ids).
		Query(func(rows pgx.Rows) (err error) { locs, err = pgx.CollectRows(rows, scanLocation); return err })
	b.Queue(`SELECT `+typeCols+` FROM appointment_types WHERE practitioner_id = ANY($1::uuid[]) ORDER BY position, id`, ids).
		Query(func(rows pgx.Rows) (err error) { types, err = pgx.CollectRows(rows, scanType); return err })
	b.Queue(`SELECT `+hoursCols+` FROM opening_hours WHERE practitioner_id = ANY($1::uuid[])`+hoursOrder, ids).
		Query(func(rows pgx.Rows) (err error) { hours, err = pgx.CollectRows(rows, scanHours); return err })
	b.Queue(`SELECT `+absenceCols+` FROM absences WHERE practitioner_id = ANY($1::uuid[]) AND ends_at > now() ORDER BY starts_at, id`, ids).
		Query(func(rows pgx.Rows) (err error) { absences, err = pgx.CollectRows(rows, scanAbsence); return err })
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	out := make([]Aggregate, len(ps))
	idx := make(map[string]*Aggregate, len(ps))
	for i, p := range ps {
		out[i].Practitioner = p
		idx[p.ID] = &out[i]
	}
	for _, l := range locs {
		idx[l.PractitionerID].Locations = append(idx[l.PractitionerID].Locations, l)
	}
	for i, a := range types {
		types[i].Position = len(idx[a.PractitionerID].AppointmentTypes)
		idx[a.PractitionerID].AppointmentTypes = append(idx[a.PractitionerID].AppointmentTypes, types[i])
	}
	for _, h := range hours {
		idx[h.PractitionerID].OpeningHours = append(idx[h.PractitionerID].OpeningHours, h)
	}
	for _, a := range absences {
		idx[a.PractitionerID].Absences = append(idx[a.PractitionerID].Absences, a)
	}
	return out, nil
}

// PracticeWrite is the imported state of one practice: the rows to insert or
// update, the stored locations whose opening hours are replaced, and its
// event.
type PracticeWrite struct {
	New          bool // insert the practitioner (else update it, bumping its version)
	Practitioner Practitioner
	// New rows are inserted; updated ones are stored rows, matched by id.
	NewLocations, UpdatedLocations []Location
	NewTypes, UpdatedTypes         []AppointmentType
	// ReplaceHoursOf lists the stored locations whose rules are deleted;
	// Hours are inserted.
	ReplaceHoursOf []string
	Hours          []OpeningHours
	Event          events.Envelope
}

// importSetup prepares a bulk write: the session's staging tables for updated
// rows (made once per connection, emptied at each commit and here, for a
// second write in the same transaction), and two settings for the rest of the
// transaction:
//   - generic plans: the foreign-key checks of the inserted rows look their
//     parent up in a partitioned table, and with custom plans PostgreSQL
//     plans that lookup again for every row (3 times the cost of the rows'
//     inserts, measured);
//   - lz4 rather than pglz for the values PostgreSQL compresses, when the
//     server has it: the events' snapshots (3.6 kB) are compressed about
//     twice as fast.
const importSetup = `SET LOCAL plan_cache_mode = force_generic_plan;
SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings
	WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals);
CREATE TEMP TABLE IF NOT EXISTS import_practitioners (id uuid, country text, external_id text, first_name text,
	last_name text, bio text, languages text[], specialties text[], registration_number text,
	accepts_new_patients boolean, version bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS import_locations (id uuid, practitioner_id uuid, country text, name text, line1 text,
	postal_code text, city text, address_country text, lat double precision, lon double precision,
	time_zone text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS import_types (id uuid, practitioner_id uuid, country text, name text,
	duration_minutes int, visit_mode text, new_patients_allowed boolean, online_bookable boolean,
	buffer_before_minutes int, buffer_after_minutes int, min_notice_minutes int, booking_horizon_days int,
	position int) ON COMMIT DELETE ROWS;
DELETE FROM pg_temp.import_practitioners;
DELETE FROM pg_temp.import_locations;
DELETE FROM pg_temp.import_types`

// The columns copied, into a table or its staging table.
var (
	practitionerCopyCols = []string{"id", "country", "external_id", "first_name", "last_name", "bio", "languages",
		"specialties", "registration_number", "accepts_new_patients", "version"}
	locationCopyCols = []string{"id", "practitioner_id", "country", "name", "line1", "postal_code", "city",
		"address_country", "lat", "lon", "time_zone"}
	typeCopyCols = []string{"id", "practitioner_id", "country", "name", "duration_minutes", "visit_mode",
		"new_patients_allowed", "online_bookable", "buffer_before_minutes", "buffer_after_minutes",
		"min_notice_minutes", "booking_horizon_days", "position"}
	hoursCopyCols = []string{"id", "practitioner_id", "location_id", "country", "weekday", "start_minute",
		"end_minute", "step_minutes", "appointment_type_ids"}
)

// The merges of the staged updates. Each row finds its stored row through
// the primary key (ON CONFLICT), never through a join the planner might turn
// into a scan of every partition (as jsonb_to_recordset joins did).
const (
	mergePractitioners = `INSERT INTO practitioners (id, country, external_id, first_name, last_name, bio, languages,
		specialties, registration_number, accepts_new_patients, version)
		SELECT id, country, external_id, first_name, last_name, bio, languages, specialties, registration_number,
			accepts_new_patients, version
		FROM pg_temp.import_practitioners
		ON CONFLICT (country, id) DO UPDATE SET
		  first_name = excluded.first_name, last_name = excluded.last_name, bio = excluded.bio,
		  languages = excluded.languages, specialties = excluded.specialties,
		  registration_number = excluded.registration_number, accepts_new_patients = excluded.accepts_new_patients,
		  version = practitioners.version + 1, updated_at = now()`
	mergeLocations = `INSERT INTO locations
		(id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone)
		SELECT id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone
		FROM pg_temp.import_locations
		ON CONFLICT (country, id) DO UPDATE SET
		  name = excluded.name, line1 = excluded.line1, postal_code = excluded.postal_code, city = excluded.city,
		  address_country = excluded.address_country, lat = excluded.lat, lon = excluded.lon, time_zone = excluded.time_zone
		WHERE locations.practitioner_id = excluded.practitioner_id`
	mergeTypes = `INSERT INTO appointment_types
		(id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
		 buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days, position)
		SELECT id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
		 buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days, position
		FROM pg_temp.import_types
		ON CONFLICT (country, id) DO UPDATE SET
		  name = excluded.name, duration_minutes = excluded.duration_minutes, visit_mode = excluded.visit_mode,
		  new_patients_allowed = excluded.new_patients_allowed, online_bookable = excluded.online_bookable,
		  buffer_before_minutes = excluded.buffer_before_minutes, buffer_after_minutes = excluded.buffer_after_minutes,
		  min_notice_minutes = excluded.min_notice_minutes, booking_horizon_days = excluded.booking_horizon_days
		WHERE appointment_types.practitioner_id = excluded.practitioner_id`
	// One country per statement: the partition is pruned when planning,
	// and the rules are found through the location index.
	deleteHours = `DELETE FROM opening_hours WHERE country = $1 AND location_id = ANY($2::uuid[])`
)

// WritePractices applies many practices' changes and writes their events,
// in a dozen round trips whatever their number: new rows are copied (COPY)
// straight into their tables, updated ones into staging tables and merged
// with one statement per table, and the events go in with one COPY too. On
// error the transaction (or savepoint) is aborted.
func (t *Tx) WritePractices(ctx context.Context, ws []PracticeWrite) error {
	if len(ws) == 0 {
		return nil
	}
	// Ids go as [16]byte: for a string (or a uuid.UUID, a driver.Valuer
	// giving a string) pgx tries the binary encoding, fails and falls back,
	// for every value, which was most of a COPY's cost.
	var bad error
	id := func(s string) [16]byte {
		u, err := uuid.Parse(s)
		if err != nil && bad == nil {
			bad = fmt.Errorf("store: import: id %q: %w", s, err)
		}
		return u
	}
	location := func(l Location, pid [16]byte, country string) []any {
		return []any{id(l.ID), pid, country, l.Name, l.Line1, l.PostalCode, l.City, l.AddressCountry, l.Lat, l.Lon, l.TimeZone}
	}
	apptType := func(a AppointmentType, pid [16]byte, country string) []any {
		return []any{id(a.ID), pid, country, a.Name, int32(a.DurationMinutes), a.VisitMode, a.NewPatientsAllowed,
			a.OnlineBookable, int32(a.BufferBeforeMinutes), int32(a.BufferAfterMinutes), int32(a.MinNoticeMinutes),
			int32(a.BookingHorizonDays), int32(a.Position)}
	}
	var newPs, updPs, newLocs, updLocs, newTypes, updTypes, hours [][]any
	replaced := map[string][][16]byte{} // country → locations
	recs := make([]outbox.Record, len(ws))
	for i, w := range ws {
		p := w.Practitioner
		pid := id(p.ID)
		row := []any{pid, p.Country, p.ExternalID, p.FirstName, p.LastName, nullable(p.Bio),
			nonNilStrings(p.Languages), nonNilStrings(p.Specialties), nullable(p.RegistrationNumber), p.AcceptsNewPatients, p.Version}
		if w.New {
			newPs = append(newPs, row)
		} else {
			updPs = append(updPs, row)
		}
		for _, l := range w.NewLocations {
			newLocs = append(newLocs, location(l, pid, p.Country))
		}
		for _, l := range w.UpdatedLocations {
			updLocs = append(updLocs, location(l, pid, p.Country))
		}
		for _, a := range w.NewTypes {
			newTypes = append(newTypes, apptType(a, pid, p.Country))
		}
		for _, a := range w.UpdatedTypes {
			updTypes = append(updTypes, apptType(a, pid, p.Country))
		}
		for _, l := range w.ReplaceHoursOf {
			replaced[p.Country] = append(replaced[p.Country], id(l))
		}
		for _, h := range w.Hours {
			typeIDs := make([][16]byte, len(h.AppointmentTypeIDs))
			for k, t := range h.AppointmentTypeIDs {
				typeIDs[k] = id(t)
			}
			hours = append(hours, []any{id(h.ID), pid, id(h.LocationID), p.Country, int16(h.Weekday), int16(h.StartMinute),
				int16(h.EndMinute), int16(h.StepMinutes), typeIDs})
		}
		recs[i] = outbox.Record{Topic: events.PractitionerEvents, Key: p.ID, Event: w.Event}
	}
	if bad != nil {
		return bad
	}
	// New practitioners go in in key order, so that two imports racing on
	// the same new keys wait for each other instead of deadlocking.
	slices.SortFunc(newPs, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[1].(string), b[1].(string)), cmp.Compare(a[2].(string), b[2].(string)))
	})

	if _, err := t.tx.Exec(ctx, importSetup); err != nil {
		return fmt.Errorf("store: prepare import: %w", err)
	}
	copyIn := func(table pgx.Identifier, cols []string, rows [][]any) error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := t.tx.CopyFrom(ctx, table, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("store: copy into %s: %w", table.Sanitize(), err)
		}
		return nil
	}
	// Parents before children: practitioners, then locations and types,
	// then opening hours.
	if err := copyIn(pgx.Identifier{"practitioners"}, practitionerCopyCols, newPs); err != nil {
		return err
	}
	if err := copyIn(pgx.Identifier{"pg_temp", "import_practitioners"}, practitionerCopyCols, updPs); err != nil {
		return err
	}
	if err := copyIn(pgx.Identifier{"pg_temp", "import_locations"}, locationCopyCols, updLocs); err != nil {
		return err
	}
	if err := copyIn(pgx.Identifier{"pg_temp", "import_types"}, typeCopyCols, updTypes); err != nil {
		return err
	}
	b := &pgx.Batch{}
	if len(updPs) > 0 {
		b.Queue(mergePractitioners)
	}
	if len(updLocs) > 0 {
		b.Queue(mergeLocations)
	}
	if len(updTypes) > 0 {
		b.Queue(mergeTypes)
	}
	for country, ids := range replaced {
		b.Queue(deleteHours, country, ids)
	}
	if b.Len() > 0 {
		if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if err := copyIn(pgx.Identifier{"locations"}, locationCopyCols, newLocs); err != nil {
		return err
	}
	if err := copyIn(pgx.Identifier{"appointment_types"}, typeCopyCols, newTypes); err != nil {
		return err
	}
	if err := copyIn(pgx.Identifier{"opening_hours"}, hoursCopyCols, hours); err != nil {
		return err
	}
	return outbox.AddBatch(ctx, t.tx, recs)
}

// Savepoint runs fn in a savepoint of the transaction: when fn fails, its
// writes are rolled back and the transaction goes on.
func (t *Tx) Savepoint(ctx context.Context, fn func(tx *Tx) error) error {
	return pgx.BeginFunc(ctx, t.tx, func(sp pgx.Tx) error { return fn(newTx(sp)) })
}

// ExportPage reads up to limit practices after the key (country, id) in key
// order, each with all its parts, from one consistent snapshot of the
// database. An empty afterID starts from the beginning (of the countries
// after afterCountry).
func (s *Store) ExportPage(ctx context.Context, afterCountry, afterID string, limit int) ([]Aggregate, error) {
	var out []Aggregate
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Country by country, so that each query is one index range of one
		// partition: a (country, id) row comparison across partitions makes
		// the planner sort every remaining row for each page.
		nextCountry := func(c string) (string, error) {
			var next *string
			err := tx.QueryRow(ctx, `SELECT min(country) FROM practitioners WHERE country > $1`, c).Scan(&next)
			if next == nil {
				return "", err
			}
			return *next, err
		}
		country, after := afterCountry, afterID
		if after == "" {
			after = "00000000-0000-0000-0000-000000000000"
			var err error
			if country, err = nextCountry(country); err != nil {
				return err
			}
		}
		var ps []Practitioner
		for country != "" {
			rows, err := tx.Query(ctx, `SELECT `+practitionerCols+` FROM practitioners
				WHERE country = $1 AND id > $2::uuid ORDER BY id LIMIT $3`, country, after, limit-len(ps))
			if err != nil {
				return err
			}
			page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Practitioner, error) { return scanPractitioner(r) })
			if err != nil {
				return err
			}
			if ps = append(ps, page...); len(ps) >= limit {
				break
			}
			// This country is done: on to the next.
			if country, err = nextCountry(country); err != nil {
				return err
			}
			after = "00000000-0000-0000-0000-000000000000"
		}
		var err error
		out, err = withParts(ctx, tx, ps)
		return err
	})
	return out, err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

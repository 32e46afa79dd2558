package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// Bulk paths (import, export): whole batches of practices are read and
// written in a few round trips, one statement per table for the batch, with
// rows passed as one JSON document (jsonb_to_recordset), rather than a
// statement per row.

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
// update, the locations whose opening hours are replaced, and its event.
type PracticeWrite struct {
	New          bool // insert the practitioner (else update it, bumping its version)
	Practitioner Practitioner
	Locations    []Location        // inserted or updated by id
	Types        []AppointmentType // inserted or updated by id
	// ReplaceHoursOf lists the locations whose rules are replaced by Hours.
	ReplaceHoursOf []string
	Hours          []OpeningHours
	Event          events.Envelope
}

// WritePractices applies many practices' changes and writes their events, in
// one round trip. On error the transaction (or savepoint) is aborted.
func (t *Tx) WritePractices(ctx context.Context, ws []PracticeWrite) error {
	if len(ws) == 0 {
		return nil
	}
	type pRow struct {
		ID                 string   `json:"id"`
		Country            string   `json:"country"`
		ExternalID         string   `json:"external_id"`
		FirstName          string   `json:"first_name"`
		LastName           string   `json:"last_name"`
		Bio                *string  `json:"bio"`
		Languages          []string `json:"languages"`
		Specialties        []string `json:"specialties"`
		RegistrationNumber *string  `json:"registration_number"`
		AcceptsNewPatients bool     `json:"accepts_new_patients"`
	}
	type lRow struct {
		ID             string  `json:"id"`
		PractitionerID string  `json:"practitioner_id"`
		Country        string  `json:"country"`
		Name           string  `json:"name"`
		Line1          string  `json:"line1"`
		PostalCode     string  `json:"postal_code"`
		City           string  `json:"city"`
		AddressCountry string  `json:"address_country"`
		Lat            float64 `json:"lat"`
		Lon            float64 `json:"lon"`
		TimeZone       string  `json:"time_zone"`
	}
	type tRow struct {
		ID                  string `json:"id"`
		PractitionerID      string `json:"practitioner_id"`
		Country             string `json:"country"`
		Name                string `json:"name"`
		DurationMinutes     int    `json:"duration_minutes"`
		VisitMode           string `json:"visit_mode"`
		NewPatientsAllowed  bool   `json:"new_patients_allowed"`
		OnlineBookable      bool   `json:"online_bookable"`
		BufferBeforeMinutes int    `json:"buffer_before_minutes"`
		BufferAfterMinutes  int    `json:"buffer_after_minutes"`
		MinNoticeMinutes    int    `json:"min_notice_minutes"`
		BookingHorizonDays  int    `json:"booking_horizon_days"`
		Position            int    `json:"position"`
	}
	type hRow struct {
		ID                 string   `json:"id"`
		PractitionerID     string   `json:"practitioner_id"`
		LocationID         string   `json:"location_id"`
		Country            string   `json:"country"`
		Weekday            int      `json:"weekday"`
		StartMinute        int      `json:"start_minute"`
		EndMinute          int      `json:"end_minute"`
		StepMinutes        int      `json:"step_minutes"`
		AppointmentTypeIDs []string `json:"appointment_type_ids"`
	}
	type delRow struct {
		Country    string `json:"country"`
		LocationID string `json:"location_id"`
	}
	var inserts, updates []pRow
	var locs []lRow
	var types []tRow
	var hours []hRow
	var dels []delRow
	for _, w := range ws {
		p := w.Practitioner
		r := pRow{ID: p.ID, Country: p.Country, ExternalID: p.ExternalID, FirstName: p.FirstName, LastName: p.LastName,
			Bio: nullable(p.Bio), Languages: nonNilStrings(p.Languages), Specialties: nonNilStrings(p.Specialties),
			RegistrationNumber: nullable(p.RegistrationNumber), AcceptsNewPatients: p.AcceptsNewPatients}
		if w.New {
			inserts = append(inserts, r)
		} else {
			updates = append(updates, r)
		}
		for _, l := range w.Locations {
			locs = append(locs, lRow{ID: l.ID, PractitionerID: p.ID, Country: p.Country, Name: l.Name, Line1: l.Line1,
				PostalCode: l.PostalCode, City: l.City, AddressCountry: l.AddressCountry, Lat: l.Lat, Lon: l.Lon, TimeZone: l.TimeZone})
		}
		for _, a := range w.Types {
			types = append(types, tRow{ID: a.ID, PractitionerID: p.ID, Country: p.Country, Name: a.Name,
				DurationMinutes: a.DurationMinutes, VisitMode: a.VisitMode, NewPatientsAllowed: a.NewPatientsAllowed,
				OnlineBookable: a.OnlineBookable, BufferBeforeMinutes: a.BufferBeforeMinutes, BufferAfterMinutes: a.BufferAfterMinutes,
				MinNoticeMinutes: a.MinNoticeMinutes, BookingHorizonDays: a.BookingHorizonDays, Position: a.Position})
		}
		for _, id := range w.ReplaceHoursOf {
			dels = append(dels, delRow{Country: p.Country, LocationID: id})
		}
		for _, h := range w.Hours {
			hours = append(hours, hRow{ID: h.ID, PractitionerID: p.ID, LocationID: h.LocationID, Country: p.Country,
				Weekday: h.Weekday, StartMinute: h.StartMinute, EndMinute: h.EndMinute, StepMinutes: h.StepMinutes,
				AppointmentTypeIDs: h.AppointmentTypeIDs})
		}
	}

	// New practitioners go in in key order, so that two imports racing on the
	// same new keys wait for each other instead of deadlocking.
	slices.SortFunc(inserts, func(a, b pRow) int {
		return cmp.Or(cmp.Compare(a.Country, b.Country), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	b := &pgx.Batch{}
	queue := func(sql string, rows any) error {
		doc, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("store: encode bulk rows: %w", err)
		}
		b.Queue(sql, string(doc))
		return nil
	}
	var err error
	step := func(cond bool, sql string, rows any) {
		if err == nil && cond {
			err = queue(sql, rows)
		}
	}
	step(len(inserts) > 0, `INSERT INTO practitioners
		(id, country, external_id, first_name, last_name, bio, languages, specialties, registration_number, accepts_new_patients, version)
		SELECT id, country, external_id, first_name, last_name, bio, languages, specialties, registration_number, accepts_new_patients, 1
		FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, country text, external_id text, first_name text, last_name text, bio text,
			languages text[], specialties text[], registration_number text, accepts_new_patients boolean)`, inserts)
	step(len(updates) > 0, `UPDATE practitioners p SET
		first_name = x.first_name, last_name = x.last_name, bio = x.bio, languages = x.languages, specialties = x.specialties,
		registration_number = x.registration_number, accepts_new_patients = x.accepts_new_patients,
		version = p.version + 1, updated_at = now()
		FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, country text, first_name text, last_name text, bio text,
			languages text[], specialties text[], registration_number text, accepts_new_patients boolean)
		WHERE p.country = x.country AND p.id = x.id`, updates)
	step(len(locs) > 0, `INSERT INTO locations
		(id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone)
		SELECT id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone
		FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, practitioner_id uuid, country text, name text, line1 text,
			postal_code text, city text, address_country text, lat double precision, lon double precision, time_zone text)
		ON CONFLICT (country, id) DO UPDATE SET
		  name = excluded.name, line1 = excluded.line1, postal_code = excluded.postal_code, city = excluded.city,
		  address_country = excluded.address_country, lat = excluded.lat, lon = excluded.lon, time_zone = excluded.time_zone
		WHERE locations.practitioner_id = excluded.practitioner_id`, locs)
	step(len(types) > 0, `INSERT INTO appointment_types
		(id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
		 buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days, position)
		SELECT id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
		 buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days, position
		FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, practitioner_id uuid, country text, name text, duration_minutes int,
			visit_mode text, new_patients_allowed boolean, online_bookable boolean, buffer_before_minutes int,
			buffer_after_minutes int, min_notice_minutes int, booking_horizon_days int, position int)
		ON CONFLICT (country, id) DO UPDATE SET
		  name = excluded.name, duration_minutes = excluded.duration_minutes, visit_mode = excluded.visit_mode,
		  new_patients_allowed = excluded.new_patients_allowed, online_bookable = excluded.online_bookable,
		  buffer_before_minutes = excluded.buffer_before_minutes, buffer_after_minutes = excluded.buffer_after_minutes,
		  min_notice_minutes = excluded.min_notice_minutes, booking_horizon_days = excluded.booking_horizon_days
		WHERE appointment_types.practitioner_id = excluded.practitioner_id`, types)
	step(len(dels) > 0, `DELETE FROM opening_hours h USING jsonb_to_recordset($1::jsonb) AS x(country text, location_id uuid)
		WHERE h.country = x.country AND h.location_id = x.location_id`, dels)
	step(len(hours) > 0, `INSERT INTO opening_hours
		(id, practitioner_id, location_id, country, weekday, start_minute, end_minute, step_minutes, appointment_type_ids)
		SELECT id, practitioner_id, location_id, country, weekday, start_minute, end_minute, step_minutes, appointment_type_ids
		FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, practitioner_id uuid, location_id uuid, country text, weekday smallint,
			start_minute smallint, end_minute smallint, step_minutes smallint, appointment_type_ids uuid[])`, hours)
	if err != nil {
		return err
	}
	// The events go through outbox.Add like every other event; queueTx turns
	// its insert into one more statement of this batch.
	q := queueTx{Tx: t.tx, b: b}
	for _, w := range ws {
		if err := outbox.Add(ctx, q, events.PractitionerEvents, w.Practitioner.ID, w.Event); err != nil {
			return err
		}
	}
	return t.tx.SendBatch(ctx, b).Close()
}

// queueTx is a transaction whose Exec queues the statement on a batch sent
// later in the same transaction.
type queueTx struct {
	pgx.Tx
	b *pgx.Batch
}

func (q queueTx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// Savepoint runs fn in a savepoint of the transaction: when fn fails, its
// writes are rolled back and the transaction goes on.
func (t *Tx) Savepoint(ctx context.Context, fn func(tx *Tx) error) error {
	return pgx.BeginFunc(ctx, t.tx, func(sp pgx.Tx) error { return fn(&Tx{tx: sp}) })
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

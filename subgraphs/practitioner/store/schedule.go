package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// OpeningHours is a weekly rule of one location: wall-clock minutes of the
// local day in the location's zone.
type OpeningHours struct {
	ID                 string
	PractitionerID     string
	LocationID         string
	Country            string
	Weekday            int // ISO 8601: 1 = Monday … 7 = Sunday
	StartMinute        int
	EndMinute          int // ≤ 1440 (24:00)
	StepMinutes        int
	AppointmentTypeIDs []string
}

// Absence is a span when the practitioner takes no appointments.
type Absence struct {
	ID             string
	PractitionerID string
	Country        string
	StartsAt       time.Time
	EndsAt         time.Time
	Reason         string
}

const hoursCols = `id, practitioner_id, location_id, country, weekday, start_minute, end_minute, step_minutes, appointment_type_ids`

func scanHours(r pgx.CollectableRow) (OpeningHours, error) {
	var h OpeningHours
	var wd, start, end, step int16
	err := r.Scan(&h.ID, &h.PractitionerID, &h.LocationID, &h.Country, &wd, &start, &end, &step, &h.AppointmentTypeIDs)
	h.Weekday, h.StartMinute, h.EndMinute, h.StepMinutes = int(wd), int(start), int(end), int(step)
	return h, err
}

const hoursOrder = ` ORDER BY weekday, start_minute, location_id, id`

func openingHoursByPractitioners(ctx context.Context, q querier, ids []string) ([]OpeningHours, error) {
	rows, err := q.Query(ctx, `SELECT `+hoursCols+` FROM opening_hours WHERE practitioner_id = ANY($1::uuid[])`+hoursOrder, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanHours)
}

// OpeningHoursByPractitioners reads the opening hours of several practitioners.
func (s *Store) OpeningHoursByPractitioners(ctx context.Context, ids []string) ([]OpeningHours, error) {
	return openingHoursByPractitioners(ctx, s.pool, ids)
}

// OpeningHours reads every rule of a practitioner (all locations) in the transaction.
func (t *Tx) OpeningHours(ctx context.Context, country, practitionerID string) ([]OpeningHours, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+hoursCols+` FROM opening_hours WHERE country = $1 AND practitioner_id = $2`+hoursOrder,
		country, practitionerID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanHours)
}

// Locations reads a practitioner's locations in the transaction.
func (t *Tx) Locations(ctx context.Context, practitionerID string) ([]Location, error) {
	return locationsByPractitioners(ctx, t.tx, []string{practitionerID})
}

// AppointmentTypes reads a practitioner's appointment types in the transaction.
func (t *Tx) AppointmentTypes(ctx context.Context, practitionerID string) ([]AppointmentType, error) {
	return typesByPractitioners(ctx, t.tx, []string{practitionerID})
}

// ReplaceOpeningHours replaces the rules of one location by rules, in one round trip.
func (t *Tx) ReplaceOpeningHours(ctx context.Context, country, locationID string, rules []OpeningHours) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM opening_hours WHERE country = $1 AND location_id = $2`, country, locationID)
	for _, h := range rules {
		queueInsertHours(b, h)
	}
	return t.tx.SendBatch(ctx, b).Close()
}

func queueInsertHours(b *pgx.Batch, h OpeningHours) {
	b.Queue(`INSERT INTO opening_hours
		(id, practitioner_id, location_id, country, weekday, start_minute, end_minute, step_minutes, appointment_type_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid[])`,
		h.ID, h.PractitionerID, h.LocationID, h.Country, h.Weekday, h.StartMinute, h.EndMinute, h.StepMinutes, h.AppointmentTypeIDs)
}

const absenceCols = `id, practitioner_id, country, starts_at, ends_at, coalesce(reason, '')`

func scanAbsence(r pgx.CollectableRow) (Absence, error) {
	var a Absence
	err := r.Scan(&a.ID, &a.PractitionerID, &a.Country, &a.StartsAt, &a.EndsAt, &a.Reason)
	return a, err
}

// absencesByPractitioners reads the absences of practitioners, only those
// not ended yet unless past is set, in time order.
func absencesByPractitioners(ctx context.Context, q querier, ids []string, past bool) ([]Absence, error) {
	rows, err := q.Query(ctx, `SELECT `+absenceCols+` FROM absences
		WHERE practitioner_id = ANY($1::uuid[]) AND ($2 OR ends_at > now()) ORDER BY starts_at, id`, ids, past)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAbsence)
}

// AbsencesByPractitioners reads the absences of several practitioners: those
// not ended yet, or all of them when past is set.
func (s *Store) AbsencesByPractitioners(ctx context.Context, ids []string, past bool) ([]Absence, error) {
	return absencesByPractitioners(ctx, s.pool, ids, past)
}

// InsertAbsence adds an absence.
func (t *Tx) InsertAbsence(ctx context.Context, a Absence) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO absences (id, practitioner_id, country, starts_at, ends_at, reason)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''))`, a.ID, a.PractitionerID, a.Country, a.StartsAt, a.EndsAt, a.Reason)
	return err
}

// Absence reads one absence by id, locking it.
func (t *Tx) Absence(ctx context.Context, id string) (Absence, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+absenceCols+` FROM absences WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return Absence{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAbsence)
	if errors.Is(err, pgx.ErrNoRows) {
		return Absence{}, ErrNotFound
	}
	return a, err
}

// DeleteAbsence removes an absence.
func (t *Tx) DeleteAbsence(ctx context.Context, country, id string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM absences WHERE country = $1 AND id = $2`, country, id)
	return err
}

// Package store is the practitioner service's PostgreSQL access. Rows are
// partitioned by country; reads by id scan each country partition's id index.
package store

import (
	"context"
	"errors"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/internal/postgres"
)

// PartitionedTables are the tables split by country.
var PartitionedTables = []string{"practitioners", "locations", "appointment_types", "opening_hours", "absences"}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// Practitioner is a practitioner's profile row.
type Practitioner struct {
	ID                 string
	Country            string
	ExternalID         string
	FirstName          string
	LastName           string
	Bio                string
	Languages          []string
	Specialties        []string
	RegistrationNumber string
	AcceptsNewPatients bool
	Rating             *float64
	// NoShowPolicy is the practice's own policy (nil: its country's).
	NoShowPolicy *NoShowPolicy
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NoShowPolicy is a practice's own policy against repeat no-shows.
type NoShowPolicy struct {
	Limit, PeriodDays, RestrictionDays int
}

// Location is a practice address with its zone.
type Location struct {
	ID             string
	PractitionerID string
	Country        string
	Name           string
	Line1          string
	PostalCode     string
	City           string
	AddressCountry string
	Lat, Lon       float64
	TimeZone       string
}

// AppointmentType is a motive with its booking rules.
type AppointmentType struct {
	ID                  string
	PractitionerID      string
	Country             string
	Name                string
	DurationMinutes     int
	VisitMode           string
	NewPatientsAllowed  bool
	OnlineBookable      bool
	BufferBeforeMinutes int
	BufferAfterMinutes  int
	MinNoticeMinutes    int
	BookingHorizonDays  int
	// Position orders a practice's types; it is written by the bulk import
	// only (UpsertAppointmentType appends) and not read back.
	Position int
}

// Store reads and writes the practitioner database.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// EnsurePartitions creates each country's partitions.
func (s *Store) EnsurePartitions(ctx context.Context, codes []string) error {
	return postgres.EnsureCountryPartitions(ctx, s.pool, PartitionedTables, codes, nil)
}

// Tx is a unit of work: every write and its outbox event commit together.
type Tx struct {
	outbox.Tx // Emit, Claim
	tx        pgx.Tx
}

func newTx(tx pgx.Tx) *Tx { return &Tx{Tx: outbox.NewTx(tx), tx: tx} }

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return outbox.InTx(ctx, s.pool, func(tx pgx.Tx) error { return fn(newTx(tx)) })
}

const practitionerCols = `id, country, coalesce(external_id, ''), first_name, last_name, coalesce(bio, ''), languages, specialties,
	coalesce(registration_number, ''), accepts_new_patients, rating, version, created_at, updated_at,
	no_show_limit, no_show_period_days, no_show_restriction_days`

func scanPractitioner(row pgx.Row) (Practitioner, error) {
	var p Practitioner
	var rating *float32
	var noShowLimit, noShowPeriod, noShowRestriction *int
	err := row.Scan(&p.ID, &p.Country, &p.ExternalID, &p.FirstName, &p.LastName, &p.Bio, &p.Languages, &p.Specialties,
		&p.RegistrationNumber, &p.AcceptsNewPatients, &rating, &p.Version, &p.CreatedAt, &p.UpdatedAt,
		&noShowLimit, &noShowPeriod, &noShowRestriction)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if noShowLimit != nil && noShowPeriod != nil && noShowRestriction != nil {
		p.NoShowPolicy = &NoShowPolicy{Limit: *noShowLimit, PeriodDays: *noShowPeriod, RestrictionDays: *noShowRestriction}
	}
	if rating != nil {
		r := float64(*rating)
		p.Rating = &r
	}
	return p, err
}

// InsertPractitioner creates a practitioner.
func (t *Tx) InsertPractitioner(ctx context.Context, p Practitioner) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO practitioners
		(id, country, external_id, first_name, last_name, bio, languages, specialties, registration_number, accepts_new_patients, version)
		VALUES ($1, $2, nullif($3, ''), $4, $5, nullif($6, ''), $7, $8, nullif($9, ''), $10, 1)`,
		p.ID, p.Country, p.ExternalID, p.FirstName, p.LastName, p.Bio, p.Languages, p.Specialties, p.RegistrationNumber, p.AcceptsNewPatients)
	if postgres.IsUniqueViolation(err, "") {
		return ErrExists
	}
	return err
}

// ErrExists: a practitioner with that id (or external id) exists already.
var ErrExists = errors.New("practitioner exists")

// LockPractitioner reads a practitioner for update, serialising writers of one practice.
func (t *Tx) LockPractitioner(ctx context.Context, id string) (Practitioner, error) {
	return scanPractitioner(t.tx.QueryRow(ctx, `SELECT `+practitionerCols+` FROM practitioners WHERE id = $1 FOR UPDATE`, id))
}

// UpdatePractitioner saves a practitioner's profile and bumps its version.
func (t *Tx) UpdatePractitioner(ctx context.Context, p Practitioner) (int64, error) {
	q, args, err := psql.Update("practitioners").
		Set("first_name", p.FirstName).
		Set("last_name", p.LastName).
		Set("bio", nullIfEmpty(p.Bio)).
		Set("languages", p.Languages).
		Set("specialties", p.Specialties).
		Set("registration_number", nullIfEmpty(p.RegistrationNumber)).
		Set("accepts_new_patients", p.AcceptsNewPatients).
		Set("version", sq.Expr("version + 1")).
		Set("updated_at", sq.Expr("now()")).
		Where(sq.Eq{"country": p.Country, "id": p.ID}).
		Suffix("RETURNING version").ToSql()
	if err != nil {
		return 0, err
	}
	var v int64
	err = t.tx.QueryRow(ctx, q, args...).Scan(&v)
	return v, err
}

// SetNoShowPolicy sets the practice's own no-show policy (nil: back to its
// country's) and bumps its version.
func (t *Tx) SetNoShowPolicy(ctx context.Context, country, id string, p *NoShowPolicy) (int64, error) {
	var limit, period, restriction *int
	if p != nil {
		limit, period, restriction = &p.Limit, &p.PeriodDays, &p.RestrictionDays
	}
	var v int64
	err := t.tx.QueryRow(ctx, `UPDATE practitioners SET no_show_limit = $3, no_show_period_days = $4,
		no_show_restriction_days = $5, version = version + 1, updated_at = now()
		WHERE country = $1 AND id = $2 RETURNING version`, country, id, limit, period, restriction).Scan(&v)
	return v, err
}

// Touch bumps a practitioner's version after a change to one of its parts.
func (t *Tx) Touch(ctx context.Context, country, id string) (int64, error) {
	var v int64
	err := t.tx.QueryRow(ctx, `UPDATE practitioners SET version = version + 1, updated_at = now()
		WHERE country = $1 AND id = $2 RETURNING version`, country, id).Scan(&v)
	return v, err
}

// InsertLocation adds a location.
func (t *Tx) InsertLocation(ctx context.Context, l Location) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO locations
		(id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		l.ID, l.PractitionerID, l.Country, l.Name, l.Line1, l.PostalCode, l.City, l.AddressCountry, l.Lat, l.Lon, l.TimeZone)
	return err
}

// UpsertAppointmentType creates or updates a type of the practitioner.
func (t *Tx) UpsertAppointmentType(ctx context.Context, a AppointmentType) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO appointment_types
		(id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
		 buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days, position)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		        (SELECT count(*) FROM appointment_types WHERE country = $3 AND practitioner_id = $2))
		ON CONFLICT (country, id) DO UPDATE SET
		  name = excluded.name, duration_minutes = excluded.duration_minutes, visit_mode = excluded.visit_mode,
		  new_patients_allowed = excluded.new_patients_allowed, online_bookable = excluded.online_bookable,
		  buffer_before_minutes = excluded.buffer_before_minutes, buffer_after_minutes = excluded.buffer_after_minutes,
		  min_notice_minutes = excluded.min_notice_minutes, booking_horizon_days = excluded.booking_horizon_days
		WHERE appointment_types.practitioner_id = excluded.practitioner_id`,
		a.ID, a.PractitionerID, a.Country, a.Name, a.DurationMinutes, a.VisitMode, a.NewPatientsAllowed, a.OnlineBookable,
		a.BufferBeforeMinutes, a.BufferAfterMinutes, a.MinNoticeMinutes, a.BookingHorizonDays)
	return err
}

// AppointmentType reads one type inside the transaction.
func (t *Tx) AppointmentType(ctx context.Context, id string) (AppointmentType, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+typeCols+` FROM appointment_types WHERE id = $1`, id)
	if err != nil {
		return AppointmentType{}, err
	}
	list, err := pgx.CollectRows(rows, scanType)
	if err != nil {
		return AppointmentType{}, err
	}
	if len(list) == 0 {
		return AppointmentType{}, ErrNotFound
	}
	return list[0], nil
}

// Aggregate is a practitioner with every part: what events carry, so that
// consumers (availability, search) can rebuild their view from one event.
type Aggregate struct {
	Practitioner     Practitioner
	Locations        []Location
	AppointmentTypes []AppointmentType
	OpeningHours     []OpeningHours
	// Absences are those that have not ended yet.
	Absences []Absence
}

// Aggregate reads the whole practice inside the transaction.
func (t *Tx) Aggregate(ctx context.Context, id string) (Aggregate, error) {
	return aggregate(ctx, t.tx, id)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func aggregate(ctx context.Context, q querier, id string) (Aggregate, error) {
	p, err := scanPractitioner(q.QueryRow(ctx, `SELECT `+practitionerCols+` FROM practitioners WHERE id = $1`, id))
	if err != nil {
		return Aggregate{}, err
	}
	locs, err := locationsByPractitioners(ctx, q, []string{id})
	if err != nil {
		return Aggregate{}, err
	}
	types, err := typesByPractitioners(ctx, q, []string{id})
	if err != nil {
		return Aggregate{}, err
	}
	hours, err := openingHoursByPractitioners(ctx, q, []string{id})
	if err != nil {
		return Aggregate{}, err
	}
	absences, err := absencesByPractitioners(ctx, q, []string{id}, false)
	if err != nil {
		return Aggregate{}, err
	}
	return Aggregate{Practitioner: p, Locations: locs, AppointmentTypes: types, OpeningHours: hours, Absences: absences}, nil
}

// Aggregate reads a whole practice from one consistent snapshot of the
// database (its parts are of the version it reads); ErrNotFound when there is
// no such practice.
func (s *Store) Aggregate(ctx context.Context, id string) (Aggregate, error) {
	var out Aggregate
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		out, err = aggregate(ctx, tx, id)
		return err
	})
	return out, err
}

// PractitionersByIDs reads practitioners; missing ids are absent from the result.
func (s *Store) PractitionersByIDs(ctx context.Context, ids []string) ([]Practitioner, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+practitionerCols+` FROM practitioners WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Practitioner, error) { return scanPractitioner(r) })
}

const locationCols = `id, practitioner_id, country, name, line1, postal_code, city, address_country, lat, lon, time_zone`

func scanLocation(r pgx.CollectableRow) (Location, error) {
	var l Location
	err := r.Scan(&l.ID, &l.PractitionerID, &l.Country, &l.Name, &l.Line1, &l.PostalCode, &l.City, &l.AddressCountry, &l.Lat, &l.Lon, &l.TimeZone)
	return l, err
}

func locationsByPractitioners(ctx context.Context, q querier, ids []string) ([]Location, error) {
	rows, err := q.Query(ctx, `SELECT `+locationCols+` FROM locations WHERE practitioner_id = ANY($1::uuid[]) ORDER BY created_at, id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLocation)
}

// LocationsByPractitioners reads the locations of several practitioners.
func (s *Store) LocationsByPractitioners(ctx context.Context, ids []string) ([]Location, error) {
	return locationsByPractitioners(ctx, s.pool, ids)
}

// LocationsByIDs reads locations by id.
func (s *Store) LocationsByIDs(ctx context.Context, ids []string) ([]Location, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+locationCols+` FROM locations WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLocation)
}

const typeCols = `id, practitioner_id, country, name, duration_minutes, visit_mode, new_patients_allowed, online_bookable,
	buffer_before_minutes, buffer_after_minutes, min_notice_minutes, booking_horizon_days`

func scanType(r pgx.CollectableRow) (AppointmentType, error) {
	var a AppointmentType
	err := r.Scan(&a.ID, &a.PractitionerID, &a.Country, &a.Name, &a.DurationMinutes, &a.VisitMode, &a.NewPatientsAllowed,
		&a.OnlineBookable, &a.BufferBeforeMinutes, &a.BufferAfterMinutes, &a.MinNoticeMinutes, &a.BookingHorizonDays)
	return a, err
}

func typesByPractitioners(ctx context.Context, q querier, ids []string) ([]AppointmentType, error) {
	rows, err := q.Query(ctx, `SELECT `+typeCols+` FROM appointment_types WHERE practitioner_id = ANY($1::uuid[]) ORDER BY position, id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanType)
}

// TypesByPractitioners reads the appointment types of several practitioners.
func (s *Store) TypesByPractitioners(ctx context.Context, ids []string) ([]AppointmentType, error) {
	return typesByPractitioners(ctx, s.pool, ids)
}

// TypesByIDs reads appointment types by id.
func (s *Store) TypesByIDs(ctx context.Context, ids []string) ([]AppointmentType, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+typeCols+` FROM appointment_types WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanType)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

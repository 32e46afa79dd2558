// Package store is the patient service's PostgreSQL access: accounts,
// relatives and their guardians, and the outbox the account's events go to.
package store

import (
	"context"
	"errors"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/outbox"
	"github.com/careslot/careslot/internal/postgres"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrEmailTaken is returned when another account already has the email.
var ErrEmailTaken = errors.New("email already registered")

var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// Patient is an account row.
type Patient struct {
	ID          string
	Email       string // lower case
	FirstName   string
	LastName    string
	Phone       string // E.164, empty when none
	BirthDate   time.Time
	Locale      string
	Country     string
	NotifyEmail bool
	NotifySMS   bool
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Issuer and Subject are the OIDC identity the account is bound to.
	Issuer, Subject string
}

// Relative is a relative as seen through one of its guardians.
type Relative struct {
	ID         string
	GuardianID string // the guardian the row was read through
	FirstName  string
	LastName   string
	BirthDate  time.Time
	CreatedAt  time.Time
}

// Store reads and writes the patient database.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

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

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const patientCols = `id, email, first_name, last_name, coalesce(phone, ''), birth_date, locale, country,
	notify_email, notify_sms, version, created_at, updated_at, coalesce(issuer, ''), coalesce(subject, '')`

func scanPatient(row pgx.Row) (Patient, error) {
	var p Patient
	err := row.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Phone, &p.BirthDate, &p.Locale, &p.Country,
		&p.NotifyEmail, &p.NotifySMS, &p.Version, &p.CreatedAt, &p.UpdatedAt, &p.Issuer, &p.Subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	return p, err
}

// InsertPatient creates an account bound to its identity (p.Issuer,
// p.Subject; p.ID is their account id), at the version after the one an
// erased account of the same id had (1 otherwise): ErrEmailTaken when the
// email is in use, ErrAccountExists when the identity has an account.
func (t *Tx) InsertPatient(ctx context.Context, p Patient) error {
	_, err := t.tx.Exec(ctx, `WITH gone AS (DELETE FROM erased_accounts WHERE id = $1 RETURNING version)
		INSERT INTO patients
		(id, email, first_name, last_name, phone, birth_date, locale, country, notify_email, notify_sms, issuer, subject, version)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10, $11, $12, coalesce((SELECT version FROM gone), 0) + 1)`,
		p.ID, p.Email, p.FirstName, p.LastName, p.Phone, p.BirthDate, p.Locale, p.Country, p.NotifyEmail, p.NotifySMS,
		p.Issuer, p.Subject)
	switch {
	case postgres.IsUniqueViolation(err, "patients_email_key"):
		return ErrEmailTaken
	case postgres.IsUniqueViolation(err, "patients_pkey"), postgres.IsUniqueViolation(err, "patients_identity"):
		return ErrAccountExists
	}
	return err
}

// ErrAccountExists: the identity registering has an account already.
var ErrAccountExists = errors.New("this identity has an account")

// ErrRegistrationLimit: the client address registered the most accounts for the hour.
var ErrRegistrationLimit = errors.New("too many registrations from this address")

// CountRegistration counts a registration from address in the hour starting
// at hour against max (ErrRegistrationLimit past it: the transaction is then
// aborted), and drops the counts of earlier hours.
func (t *Tx) CountRegistration(ctx context.Context, address string, hour time.Time, max int) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM registration_counts WHERE hour < $1`, hour); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO registration_counts (address, hour, registered, max_registered) VALUES ($1, $2, 1, $3)
		ON CONFLICT (address, hour) DO UPDATE SET registered = registration_counts.registered + 1, max_registered = EXCLUDED.max_registered`,
		address, hour, max)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "registration_counts_limit" {
		return ErrRegistrationLimit
	}
	return err
}

// LockPatient reads an account for update, serialising writers of one account.
func (t *Tx) LockPatient(ctx context.Context, id string) (Patient, error) {
	return scanPatient(t.tx.QueryRow(ctx, `SELECT `+patientCols+` FROM patients WHERE id = $1 FOR UPDATE`, id))
}

// UpdatePatient saves an account's profile and preferences and bumps its version.
func (t *Tx) UpdatePatient(ctx context.Context, p Patient) (int64, error) {
	q, args, err := psql.Update("patients").
		Set("first_name", p.FirstName).
		Set("last_name", p.LastName).
		Set("phone", nullIfEmpty(p.Phone)).
		Set("locale", p.Locale).
		Set("notify_email", p.NotifyEmail).
		Set("notify_sms", p.NotifySMS).
		Set("version", sq.Expr("version + 1")).
		Set("updated_at", sq.Expr("now()")).
		Where(sq.Eq{"id": p.ID}).
		Suffix("RETURNING version").ToSql()
	if err != nil {
		return 0, err
	}
	var v int64
	err = t.tx.QueryRow(ctx, q, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return v, err
}

// Touch bumps an account's version after a change to one of its parts.
func (t *Tx) Touch(ctx context.Context, id string) (int64, error) {
	var v int64
	err := t.tx.QueryRow(ctx, `UPDATE patients SET version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING version`, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return v, err
}

// CountRelatives counts the relatives a patient is a guardian of.
func (t *Tx) CountRelatives(ctx context.Context, patientID string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM relative_guardians WHERE patient_id = $1`, patientID).Scan(&n)
	return n, err
}

// InsertRelative creates a relative with r.GuardianID as its first guardian.
func (t *Tx) InsertRelative(ctx context.Context, r Relative) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO relatives (id, first_name, last_name, birth_date) VALUES ($1, $2, $3, $4)`,
		r.ID, r.FirstName, r.LastName, r.BirthDate); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO relative_guardians (relative_id, patient_id, rank) VALUES ($1, $2, 1)`,
		r.ID, r.GuardianID)
	return err
}

// Aggregate is an account with its relatives: what events carry, so that
// consumers (notification, booking) can apply one event on its own.
type Aggregate struct {
	Patient   Patient
	Relatives []Relative
}

// Aggregate reads the whole account inside the transaction.
func (t *Tx) Aggregate(ctx context.Context, id string) (Aggregate, error) {
	return aggregate(ctx, t.tx, id)
}

// Aggregate reads a whole account.
func (s *Store) Aggregate(ctx context.Context, id string) (Aggregate, error) {
	return aggregate(ctx, s.pool, id)
}

func aggregate(ctx context.Context, q querier, id string) (Aggregate, error) {
	p, err := scanPatient(q.QueryRow(ctx, `SELECT `+patientCols+` FROM patients WHERE id = $1`, id))
	if err != nil {
		return Aggregate{}, err
	}
	rel, err := relativesOfPatients(ctx, q, []string{id})
	if err != nil {
		return Aggregate{}, err
	}
	return Aggregate{Patient: p, Relatives: rel}, nil
}

// PatientsByIDs reads accounts; missing ids are absent from the result.
func (s *Store) PatientsByIDs(ctx context.Context, ids []string) ([]Patient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+patientCols+` FROM patients WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Patient, error) { return scanPatient(r) })
}

const relativeCols = `r.id, g.patient_id, r.first_name, r.last_name, r.birth_date, r.created_at`

func scanRelative(r pgx.CollectableRow) (Relative, error) {
	var x Relative
	err := r.Scan(&x.ID, &x.GuardianID, &x.FirstName, &x.LastName, &x.BirthDate, &x.CreatedAt)
	return x, err
}

func relativesOfPatients(ctx context.Context, q querier, ids []string) ([]Relative, error) {
	rows, err := q.Query(ctx, `SELECT `+relativeCols+` FROM relative_guardians g JOIN relatives r ON r.id = g.relative_id
		WHERE g.patient_id = ANY($1::uuid[]) ORDER BY r.created_at, r.id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRelative)
}

// RelativesOfPatients reads the relatives of several guardians, one row per
// (guardian, relative).
func (s *Store) RelativesOfPatients(ctx context.Context, ids []string) ([]Relative, error) {
	return relativesOfPatients(ctx, s.pool, ids)
}

// RelativesOfGuardian reads those of ids that guardianID is a guardian of.
func (s *Store) RelativesOfGuardian(ctx context.Context, guardianID string, ids []string) ([]Relative, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+relativeCols+` FROM relative_guardians g JOIN relatives r ON r.id = g.relative_id
		WHERE g.patient_id = $1 AND r.id = ANY($2::uuid[])`, guardianID, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRelative)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ErasePatient deletes an account for good, with the relatives no other
// guardian keeps (a relative shared with another guardian stays theirs), and
// frees its email. It returns the version the account had and the relatives
// erased with it; ErrNotFound when
// there is no such account.
func (t *Tx) ErasePatient(ctx context.Context, id string) (int64, []string, error) {
	var v int64
	err := t.tx.QueryRow(ctx, `SELECT version FROM patients WHERE id = $1 FOR UPDATE`, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, ErrNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	rows, err := t.tx.Query(ctx, `DELETE FROM relatives r
		WHERE r.id IN (SELECT relative_id FROM relative_guardians WHERE patient_id = $1)
		AND NOT EXISTS (SELECT 1 FROM relative_guardians g WHERE g.relative_id = r.id AND g.patient_id <> $1)
		RETURNING r.id::text`, id)
	if err != nil {
		return 0, nil, err
	}
	erased, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, nil, err
	}
	// The guardian links go with the account (ON DELETE CASCADE).
	if _, err := t.tx.Exec(ctx, `DELETE FROM patients WHERE id = $1`, id); err != nil {
		return 0, nil, err
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO erased_accounts (id, version) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET version = greatest(erased_accounts.version, EXCLUDED.version), erased_at = now()`, id, v+1); err != nil {
		return 0, nil, err
	}
	return v, erased, nil
}

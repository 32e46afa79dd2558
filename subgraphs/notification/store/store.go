// Package store is the notification service's PostgreSQL access: the patient,
// practitioner and appointment replicas, the messages sent and due, and the
// claims of the events applied.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/outbox"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// Store reads and writes the notification database.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Tx is a unit of work: an event's claim and its effects commit together.
type Tx struct {
	outbox.Tx // Emit, Claim
	tx        pgx.Tx
}

func newTx(tx pgx.Tx) *Tx { return &Tx{Tx: outbox.NewTx(tx), tx: tx} }

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return outbox.InTx(ctx, s.pool, func(tx pgx.Tx) error { return fn(newTx(tx)) })
}

// ---- patients ----

// Relative is a patient's relative in the replica.
type Relative struct {
	ID        string `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Patient is the replica of a patient account.
type Patient struct {
	ID          string
	Version     int64
	Email       string
	Phone       string
	FirstName   string
	LastName    string
	Locale      string
	Country     string
	NotifyEmail bool
	NotifySMS   bool
	Relatives   []Relative
	Erased      bool
}

// PutPatient stores a patient snapshot unless the replica has the same or a
// newer version, or the patient was erased; it reports whether it did.
func (t *Tx) PutPatient(ctx context.Context, p Patient) (bool, error) {
	rel, err := json.Marshal(nonNil(p.Relatives))
	if err != nil {
		return false, err
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO patients (id, version, email, phone, first_name, last_name, locale, country,
			notify_email, notify_sms, relatives)
		VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, email = EXCLUDED.email, phone = EXCLUDED.phone,
			first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, locale = EXCLUDED.locale,
			country = EXCLUDED.country, notify_email = EXCLUDED.notify_email, notify_sms = EXCLUDED.notify_sms,
			relatives = EXCLUDED.relatives, updated_at = now(), erased_at = NULL
		WHERE patients.version < EXCLUDED.version`,
		p.ID, p.Version, p.Email, p.Phone, p.FirstName, p.LastName, p.Locale, p.Country, p.NotifyEmail, p.NotifySMS, rel)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// ErasePatient deletes everything held about a patient — their messages,
// appointment copies and contact data — and leaves a tombstone (the id and
// when) so that no replayed event brings the data back. It returns how many
// messages it deleted.
func (t *Tx) ErasePatient(ctx context.Context, id string, version int64) (int64, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM messages WHERE patient_id = $1`, id)
	if err != nil {
		return 0, err
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM appointments WHERE patient_id = $1`, id); err != nil {
		return 0, err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO patients (id, version, erased_at) VALUES ($1, $2, now())
		ON CONFLICT (id) DO UPDATE SET version = greatest(patients.version, EXCLUDED.version), email = NULL, phone = NULL,
			first_name = NULL, last_name = NULL, locale = NULL,
			country = NULL, notify_email = false, notify_sms = false, relatives = '[]',
			erased_at = coalesce(patients.erased_at, now()), updated_at = now()`, id, version)
	return tag.RowsAffected(), err
}

// ForgetAppointment deletes the copy of an appointment (its patient erased
// their account: booking keeps it anonymised, and it is no longer theirs).
func (t *Tx) ForgetAppointment(ctx context.Context, id string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM appointments WHERE id = $1`, id)
	return err
}

// PracticeMessage is what a practice is told about one of its appointments.
type PracticeMessage struct {
	ID, PractitionerID, AppointmentID, Kind, Reason string
	StartsAt, EndsAt, CreatedAt                     time.Time
}

// AddPracticeMessage records a practice message unless the appointment has
// one of that kind already; it reports whether it did.
func (t *Tx) AddPracticeMessage(ctx context.Context, m PracticeMessage) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO practice_messages (id, practitioner_id, appointment_id, kind, reason, starts_at, ends_at)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7) ON CONFLICT DO NOTHING`,
		m.ID, m.PractitionerID, m.AppointmentID, m.Kind, m.Reason, m.StartsAt, m.EndsAt)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// PracticeMessages reads a page of a practice's messages, latest first,
// after (createdAt, id) when afterAt is not nil.
func (s *Store) PracticeMessages(ctx context.Context, practitionerID string, afterAt *time.Time, afterID string, limit int) ([]PracticeMessage, error) {
	b := psql.Select("id::text, practitioner_id::text, appointment_id::text, kind, coalesce(reason, ''), starts_at, ends_at, created_at").
		From("practice_messages").Where(sq.Eq{"practitioner_id": practitionerID})
	if afterAt != nil {
		b = b.Where("(created_at, id) < (?, ?::uuid)", *afterAt, afterID)
	}
	sql, args, err := b.OrderBy("created_at DESC", "id DESC").Limit(uint64(limit)).ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PracticeMessage, error) {
		var m PracticeMessage
		err := r.Scan(&m.ID, &m.PractitionerID, &m.AppointmentID, &m.Kind, &m.Reason, &m.StartsAt, &m.EndsAt, &m.CreatedAt)
		return m, err
	})
}

const patientCols = `id::text, version, coalesce(email, ''), coalesce(phone, ''), coalesce(first_name, ''),
	coalesce(last_name, ''), coalesce(locale, ''), coalesce(country, ''), notify_email, notify_sms, relatives,
	erased_at IS NOT NULL`

func scanPatient(row pgx.Row) (Patient, error) {
	var p Patient
	var rel []byte
	err := row.Scan(&p.ID, &p.Version, &p.Email, &p.Phone, &p.FirstName, &p.LastName, &p.Locale, &p.Country,
		&p.NotifyEmail, &p.NotifySMS, &rel, &p.Erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(rel, &p.Relatives)
}

// Patient reads a patient replica (ErrNotFound when none).
func (s *Store) Patient(ctx context.Context, id string) (Patient, error) {
	return scanPatient(s.pool.QueryRow(ctx, `SELECT `+patientCols+` FROM patients WHERE id = $1`, id))
}

// Patient reads a patient replica inside the transaction.
func (t *Tx) Patient(ctx context.Context, id string) (Patient, error) {
	return scanPatient(t.tx.QueryRow(ctx, `SELECT `+patientCols+` FROM patients WHERE id = $1`, id))
}

// ---- practitioners ----

// Location is a practitioner's location in the replica.
type Location struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	PostalCode string `json:"postalCode"`
	City       string `json:"city"`
	TimeZone   string `json:"timeZone"`
}

// AppointmentType is an appointment type's name in the replica.
type AppointmentType struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Practitioner is the replica of what messages say about a practitioner.
type Practitioner struct {
	ID               string
	Version          int64
	Country          string
	DisplayName      string
	Locations        []Location
	AppointmentTypes []AppointmentType
}

// PutPractitioner stores a practitioner snapshot unless the replica has the
// same or a newer version; it reports whether it did.
func (s *Store) PutPractitioner(ctx context.Context, p Practitioner) (bool, error) {
	locs, err := json.Marshal(nonNil(p.Locations))
	if err != nil {
		return false, err
	}
	types, err := json.Marshal(nonNil(p.AppointmentTypes))
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO practitioners (id, version, country, display_name, locations, appointment_types)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, country = EXCLUDED.country,
			display_name = EXCLUDED.display_name, locations = EXCLUDED.locations,
			appointment_types = EXCLUDED.appointment_types, updated_at = now()
		WHERE practitioners.version < EXCLUDED.version`,
		p.ID, p.Version, p.Country, p.DisplayName, locs, types)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Practitioner reads a practitioner replica (ErrNotFound when none).
func (s *Store) Practitioner(ctx context.Context, id string) (Practitioner, error) {
	p := Practitioner{ID: id}
	var locs, types []byte
	err := s.pool.QueryRow(ctx, `SELECT version, country, display_name, locations, appointment_types
		FROM practitioners WHERE id = $1`, id).Scan(&p.Version, &p.Country, &p.DisplayName, &locs, &types)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(locs, &p.Locations); err != nil {
		return p, err
	}
	return p, json.Unmarshal(types, &p.AppointmentTypes)
}

// ---- appointments ----

// Appointment is an appointment as booking-events last described it.
type Appointment struct {
	ID             string
	Version        int64
	PatientID      string
	PractitionerID string
	Country        string
	Status         string
	StartsAt       time.Time
	EndsAt         time.Time
}

// PutAppointment stores an appointment unless the copy has the same or a
// newer version; it reports whether it did (false: a stale event).
func (t *Tx) PutAppointment(ctx context.Context, a Appointment) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO appointments (id, version, patient_id, practitioner_id, country, status, starts_at, ends_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, patient_id = EXCLUDED.patient_id,
			practitioner_id = EXCLUDED.practitioner_id, country = EXCLUDED.country, status = EXCLUDED.status,
			starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, updated_at = now()
		WHERE appointments.version < EXCLUDED.version`,
		a.ID, a.Version, a.PatientID, a.PractitionerID, a.Country, a.Status, a.StartsAt, a.EndsAt)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Appointment reads an appointment copy (ErrNotFound when none).
func (s *Store) Appointment(ctx context.Context, id string) (Appointment, error) {
	a := Appointment{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT version, patient_id::text, practitioner_id::text, country, status, starts_at, ends_at
		FROM appointments WHERE id = $1`, id).Scan(&a.Version, &a.PatientID, &a.PractitionerID, &a.Country, &a.Status,
		&a.StartsAt, &a.EndsAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// ---- messages ----

// Message statuses.
const (
	StatusPending = "PENDING"
	StatusSent    = "SENT"
	StatusFailed  = "FAILED"
	StatusSkipped = "SKIPPED"
)

// Message is one message about one appointment on one channel.
type Message struct {
	ID            string
	PatientID     string
	AppointmentID string
	Kind          string
	Channel       string
	DedupeKey     string
	Status        string
	Facts         json.RawMessage // eventdata.Appointment
	DueAt         time.Time
	NextAttemptAt time.Time
	Attempts      int
	LastError     string
	Recipient     string
	Subject       string
	Body          string
	SentAt        *time.Time
	CreatedAt     time.Time
}

// AddMessage records a message unless one with the same appointment, kind,
// channel and dedupe key exists; it reports whether it did.
func (t *Tx) AddMessage(ctx context.Context, m Message) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO messages (id, patient_id, appointment_id, kind, channel, dedupe_key, facts, due_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT ON CONSTRAINT messages_once DO NOTHING`,
		m.ID, m.PatientID, m.AppointmentID, m.Kind, m.Channel, m.DedupeKey, []byte(m.Facts), m.DueAt)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// DropPendingReminders deletes an appointment's reminders not sent yet (the
// appointment moved or was cancelled); sent ones stay on record.
func (t *Tx) DropPendingReminders(ctx context.Context, appointmentID string) (int64, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM messages WHERE appointment_id = $1 AND kind = 'REMINDER' AND status = 'PENDING'`,
		appointmentID)
	return tag.RowsAffected(), err
}

const messageCols = `id::text, patient_id::text, appointment_id::text, kind, channel, dedupe_key, status, facts, due_at,
	next_attempt_at, attempts, coalesce(last_error, ''), coalesce(recipient, ''), coalesce(subject, ''),
	coalesce(body, ''), sent_at, created_at`

func scanMessage(r pgx.CollectableRow) (Message, error) {
	var m Message
	var facts []byte
	err := r.Scan(&m.ID, &m.PatientID, &m.AppointmentID, &m.Kind, &m.Channel, &m.DedupeKey, &m.Status, &facts, &m.DueAt,
		&m.NextAttemptAt, &m.Attempts, &m.LastError, &m.Recipient, &m.Subject, &m.Body, &m.SentAt, &m.CreatedAt)
	m.Facts = facts
	return m, err
}

// ClaimDue takes up to limit pending messages whose next attempt is due at
// now, counts the attempt and leases them until now+lease so that no other
// worker takes them meanwhile (a crashed sender's messages come back when the
// lease ends).
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Message, error) {
	rows, err := s.pool.Query(ctx, `UPDATE messages SET attempts = attempts + 1, next_attempt_at = $2, updated_at = now()
		WHERE id IN (SELECT id FROM messages WHERE status = 'PENDING' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+messageCols, now, now.Add(lease), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMessage)
}

// Outcome is what became of one send attempt.
type Outcome struct {
	Status        string
	Recipient     string
	Subject       string
	Body          string
	Error         string
	SentAt        *time.Time
	NextAttemptAt time.Time // for a retry (status PENDING)
	// Uncounted gives the attempt back: the message waited for a replica
	// (patient, practitioner) rather than failed.
	Uncounted bool
}

// Finished is the outcome of one claimed message.
type Finished struct {
	ID      string
	Outcome Outcome
}

// FinishAll records the outcomes of a batch of attempts, each only while its
// message is still the pending one that was claimed (an erasure may have
// deleted it meanwhile), in one round trip and one commit (the batch's
// statements run as one implicit transaction):
// either every outcome is recorded or none is, and the messages of a batch
// that failed come back when their lease ends.
func (s *Store) FinishAll(ctx context.Context, done []Finished) error {
	if len(done) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, d := range done {
		sql, args, err := finishSQL(d.ID, d.Outcome)
		if err != nil {
			return err
		}
		batch.Queue(sql, args...)
	}
	return s.pool.SendBatch(ctx, batch).Close()
}

func finishSQL(id string, o Outcome) (string, []any, error) {
	q := psql.Update("messages").
		Set("status", o.Status).
		Set("recipient", nullIfEmpty(o.Recipient)).
		Set("subject", nullIfEmpty(o.Subject)).
		Set("body", nullIfEmpty(o.Body)).
		Set("last_error", nullIfEmpty(o.Error)).
		Set("sent_at", o.SentAt).
		Set("next_attempt_at", sq.Expr("coalesce(?::timestamptz, next_attempt_at)", nullTime(o.NextAttemptAt))).
		Set("updated_at", sq.Expr("now()"))
	if o.Uncounted {
		q = q.Set("attempts", sq.Expr("greatest(attempts - 1, 0)"))
	}
	return q.Where(sq.Eq{"id": id, "status": StatusPending}).ToSql()
}

// MessagePage selects a page of a patient's messages, latest due first.
type MessagePage struct {
	PatientID string
	AfterDue  *time.Time
	AfterID   string
	Limit     int
}

// Messages reads a page of a patient's messages (Limit 0: all of them).
func (s *Store) Messages(ctx context.Context, q MessagePage) ([]Message, error) {
	b := psql.Select(messageCols).From("messages").Where(sq.Eq{"patient_id": q.PatientID})
	if q.AfterDue != nil {
		b = b.Where("(due_at, id) < (?, ?::uuid)", *q.AfterDue, q.AfterID)
	}
	b = b.OrderBy("due_at DESC", "id DESC")
	if q.Limit > 0 {
		b = b.Limit(uint64(q.Limit))
	}
	sql, args, err := b.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMessage)
}

// MessagesOfAppointment reads an appointment's messages, due order.
func (s *Store) MessagesOfAppointment(ctx context.Context, appointmentID string) ([]Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageCols+` FROM messages WHERE appointment_id = $1
		ORDER BY due_at, kind, channel, dedupe_key`, appointmentID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMessage)
}

// NextDue is when the earliest pending message is next due (nil when none).
func (s *Store) NextDue(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM messages WHERE status = 'PENDING'`).Scan(&t)
	return t, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

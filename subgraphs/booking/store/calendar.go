package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// CalendarFeed is a practitioner's calendar feed, without its token (the
// store keeps only the token's SHA-256).
type CalendarFeed struct {
	PractitionerID string
	CreatedBy      string
	CreatedAt      time.Time
}

// PutCalendarFeed gives the practitioner a feed whose token hashes to
// tokenSHA256, replacing the one they had (whose address then stops working).
func (s *Store) PutCalendarFeed(ctx context.Context, practitionerID string, tokenSHA256 []byte, createdBy string, now time.Time) (CalendarFeed, error) {
	f := CalendarFeed{PractitionerID: practitionerID}
	err := s.pool.QueryRow(ctx, `INSERT INTO calendar_feeds (practitioner_id, token_sha256, created_by, created_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (practitioner_id) DO UPDATE
		SET token_sha256 = EXCLUDED.token_sha256, created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at
		RETURNING created_by, created_at`, practitionerID, tokenSHA256, createdBy, now).Scan(&f.CreatedBy, &f.CreatedAt)
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// DeleteCalendarFeed ends the practitioner's feed; it reports whether there was one.
func (s *Store) DeleteCalendarFeed(ctx context.Context, practitionerID string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM calendar_feeds WHERE practitioner_id = $1`, practitionerID)
	return tag.RowsAffected() > 0, err
}

// CalendarFeed reads the practitioner's feed (ErrNotFound when they have none).
func (s *Store) CalendarFeed(ctx context.Context, practitionerID string) (CalendarFeed, error) {
	f := CalendarFeed{PractitionerID: practitionerID}
	err := s.pool.QueryRow(ctx, `SELECT created_by, created_at FROM calendar_feeds WHERE practitioner_id = $1`,
		practitionerID).Scan(&f.CreatedBy, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// FeedSource is what a feed is made from: whose it is, and the practice's
// snapshot from the schedule replica (Country and Snapshot empty when the
// replica does not know the practice).
type FeedSource struct {
	PractitionerID string
	Country        string
	Snapshot       []byte
}

// CalendarFeedByToken finds the feed whose token hashes to tokenSHA256, with
// its practice's snapshot, in one statement (ErrNotFound for no such feed).
func (s *Store) CalendarFeedByToken(ctx context.Context, tokenSHA256 []byte) (FeedSource, error) {
	var src FeedSource
	err := s.pool.QueryRow(ctx, `SELECT f.practitioner_id::text, coalesce(s.country, ''), s.snapshot
		FROM calendar_feeds f LEFT JOIN practitioner_schedules s ON s.practitioner_id = f.practitioner_id
		WHERE f.token_sha256 = $1`, tokenSHA256).Scan(&src.PractitionerID, &src.Country, &src.Snapshot)
	if errors.Is(err, pgx.ErrNoRows) {
		return src, ErrNotFound
	}
	return src, err
}

// FeedAppointment is an appointment with when it last changed.
type FeedAppointment struct {
	Appointment
	UpdatedAt time.Time
}

// CalendarAppointments lists the practitioner's appointments (confirmed,
// cancelled, no-shows; not holds) starting in [from, to), in start order, at
// most limit. country, when known, keeps the scan to that country's
// partition; each partition answers from its (practitioner_id, starts_at)
// index.
func (s *Store) CalendarAppointments(ctx context.Context, practitionerID, country string, from, to time.Time, limit int) ([]FeedAppointment, error) {
	b := psql.Select(selectCols, "a.updated_at").From("appointments"+fromJoined).
		Where("a.practitioner_id = ?", practitionerID).
		Where("a.starts_at >= ? AND a.starts_at < ?", from, to).
		Where("a.status IN ('CONFIRMED', 'CANCELLED', 'NO_SHOW')").
		OrderBy("a.starts_at", "a.id").Limit(uint64(limit))
	if country != "" {
		b = b.Where("a.country = ?", country)
	}
	q, args, err := b.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FeedAppointment, error) {
		var f FeedAppointment
		a, err := scanAppointmentAnd(r, &f.UpdatedAt)
		f.Appointment, f.UpdatedAt = a, f.UpdatedAt.UTC()
		return f, err
	})
}

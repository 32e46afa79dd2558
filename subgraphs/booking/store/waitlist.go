package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/outbox"
)

// Earlier-slot offers (ADR 21): waitlist entries, and offers — hold rows of
// appointments marked by a waitlist_offers row — made in the transaction
// that freed their slot.

// Entry statuses.
const (
	EntryWaiting   = "WAITING"
	EntryFulfilled = "FULFILLED"
	EntryLeft      = "LEFT"
)

// Offer statuses. An OFFERED offer whose hold is no longer live has expired.
const (
	OfferOffered   = "OFFERED"
	OfferAccepted  = "ACCEPTED"
	OfferDeclined  = "DECLINED"
	OfferExpired   = "EXPIRED"
	OfferWithdrawn = "WITHDRAWN"
)

// ErrOfferTaken is Book's answer for a booking that takes an offer no longer
// on offer (accepted, declined, withdrawn, or its hold ended): nothing was
// written.
var ErrOfferTaken = errors.New("the offer is no longer on offer")

// Entry is a waitlist entry. Times are the practice's local wall clock:
// minutes since midnight, ISO weekdays (empty: any), a local date.
type Entry struct {
	ID                   string    `json:"id"`
	Seq                  int64     `json:"-"`
	Country              string    `json:"country"`
	PractitionerID       string    `json:"practitionerId"`
	AppointmentTypeID    string    `json:"appointmentTypeId"`
	PatientID            string    `json:"patientId"`
	RelativeID           string    `json:"relativeId,omitempty"`
	PersonID             string    `json:"personId"`
	CurrentAppointmentID string    `json:"currentAppointmentId,omitempty"`
	LatestDate           time.Time `json:"latestDate"` // a date: year, month and day count
	EarliestMinute       int       `json:"earliestMinute"`
	LatestMinute         int       `json:"latestMinute"`
	Weekdays             []int     `json:"weekdays,omitempty"`
	Status               string    `json:"status"`
	CreatedAt            time.Time `json:"createdAt"`
	// CurrentStartsAt is the current appointment's start while it is still
	// confirmed (nil otherwise), where a query reads it.
	CurrentStartsAt *time.Time `json:"-"`
}

// Offer is an earlier-slot offer: its decision row and its hold.
type Offer struct {
	ID        string
	EntryID   string
	StartsAt  time.Time
	Status    string // as recorded: OFFERED may have expired (see Live)
	CreatedAt time.Time
	DecidedAt *time.Time
	Hold      Appointment
}

// Live reports whether the offer still holds its slot at now.
func (o Offer) Live(now time.Time) bool {
	return o.Status == OfferOffered && o.Hold.Status == StatusHeld && o.Hold.HoldExpiresAt != nil && o.Hold.HoldExpiresAt.After(now)
}

// Effective is the offer's status at now: EXPIRED for an OFFERED one whose
// hold is no longer live.
func (o Offer) Effective(now time.Time) string {
	if o.Status == OfferOffered && !o.Live(now) {
		return OfferExpired
	}
	return o.Status
}

const entryCols = `e.id::text, e.seq, e.country, e.practitioner_id::text, e.appointment_type_id::text, e.patient_id::text,
	coalesce(e.relative_id::text, ''), e.person_id::text, coalesce(e.current_appointment_id::text, ''), e.latest_date,
	e.earliest_minute, e.latest_minute, e.weekdays, e.status, e.created_at`

func scanEntryAnd(row pgx.Row, extra ...any) (Entry, error) {
	var e Entry
	var days []int16
	var earliest, latest int16
	err := row.Scan(append([]any{&e.ID, &e.Seq, &e.Country, &e.PractitionerID, &e.AppointmentTypeID, &e.PatientID,
		&e.RelativeID, &e.PersonID, &e.CurrentAppointmentID, &e.LatestDate, &earliest, &latest, &days, &e.Status,
		&e.CreatedAt}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	e.EarliestMinute, e.LatestMinute = int(earliest), int(latest)
	for _, d := range days {
		e.Weekdays = append(e.Weekdays, int(d))
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, err
}

func weekdaysArg(days []int) []int16 {
	out := make([]int16, len(days))
	for i, d := range days {
		out[i] = int16(d)
	}
	return out
}

// PutEntry records a waiting entry, or, when the person already waits for
// that practitioner and type, gives that entry the new terms (it keeps its
// place in line) and returns it.
func (t *Tx) PutEntry(ctx context.Context, e Entry) (Entry, error) {
	return scanEntryAnd(t.tx.QueryRow(ctx, `WITH e AS (INSERT INTO waitlist_entries AS w (id, country, practitioner_id,
			appointment_type_id, patient_id, relative_id, person_id, current_appointment_id, latest_date, earliest_minute,
			latest_minute, weekdays, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, nullif($6, '')::uuid, $7, nullif($8, '')::uuid, $9, $10, $11, $12, $13, $13)
		ON CONFLICT (person_id, practitioner_id, appointment_type_id) WHERE status = 'WAITING' DO UPDATE SET
			current_appointment_id = EXCLUDED.current_appointment_id, latest_date = EXCLUDED.latest_date,
			earliest_minute = EXCLUDED.earliest_minute, latest_minute = EXCLUDED.latest_minute,
			weekdays = EXCLUDED.weekdays, updated_at = EXCLUDED.updated_at
		RETURNING *) SELECT `+entryCols+` FROM e`,
		e.ID, e.Country, e.PractitionerID, e.AppointmentTypeID, e.PatientID, e.RelativeID, e.PersonID,
		e.CurrentAppointmentID, e.LatestDate, e.EarliestMinute, e.LatestMinute, weekdaysArg(e.Weekdays), e.CreatedAt))
}

// CountWaiting counts the account's waiting entries other than the one of
// (person, practitioner, type), which joining again would update.
func (t *Tx) CountWaiting(ctx context.Context, patientID, personID, practitionerID, typeID string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM waitlist_entries WHERE patient_id = $1 AND status = 'WAITING'
		AND NOT (person_id = $2 AND practitioner_id = $3 AND appointment_type_id = $4)`,
		patientID, personID, practitionerID, typeID).Scan(&n)
	return n, err
}

// LockPatient serialises one account's waitlist changes for the transaction.
func (t *Tx) LockPatient(ctx context.Context, patientID string) error {
	_, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('booking-waitlist:' || $1, 0))`, patientID)
	return err
}

// LockEntry reads an entry for update.
func (t *Tx) LockEntry(ctx context.Context, id string) (Entry, error) {
	return scanEntryAnd(t.tx.QueryRow(ctx, `SELECT `+entryCols+` FROM waitlist_entries e WHERE e.id = $1 FOR UPDATE`, id))
}

// LockWaitingEntry reads an entry that is still waiting for update, with its
// current appointment's start while confirmed; ErrNotFound when it is not
// waiting or another transaction holds it.
func (t *Tx) LockWaitingEntry(ctx context.Context, id string) (Entry, error) {
	var cur *time.Time
	e, err := scanEntryAnd(t.tx.QueryRow(ctx, `SELECT `+entryCols+`, c.starts_at FROM waitlist_entries e
		LEFT JOIN appointments c ON c.country = e.country AND c.id = e.current_appointment_id AND c.status = 'CONFIRMED'
		WHERE e.id = $1 AND e.status = 'WAITING' FOR UPDATE OF e SKIP LOCKED`, id), &cur)
	e.CurrentStartsAt = utcPtr(cur)
	return e, err
}

// SetEntryStatus changes an entry's status.
func (t *Tx) SetEntryStatus(ctx context.Context, id, status string, now time.Time) (Entry, error) {
	return scanEntryAnd(t.tx.QueryRow(ctx, `WITH e AS (UPDATE waitlist_entries SET status = $2, updated_at = $3
		WHERE id = $1 RETURNING *) SELECT `+entryCols+` FROM e`, id, status, now))
}

// CandidateQuery asks which waiting entries of a practitioner a freed start
// may be offered to.
type CandidateQuery struct {
	PractitionerID string
	// Start is the start to offer; ExceptPerson the person whose row freed it.
	Start        time.Time
	ExceptPerson string
	Now          time.Time
	Limit        int
}

// OfferCandidates returns, in fair order (first come first), the
// practitioner's waiting entries that could be offered q.Start: not of the
// person who freed it, not offered that start before, holding no live
// offer, not past their latest date, whose current appointment (when still
// confirmed) starts after it, and whose account no no-show restriction with
// the practice stops (it could not accept: restrictions.go). The caller locks the one it offers to
// (LockWaitingEntry: another transaction may be offering it a slot) and
// checks the rest (the local window, the type's rules) per entry.
func (t *Tx) OfferCandidates(ctx context.Context, q CandidateQuery) ([]Entry, error) {
	// The latest date is local: a day's margin either side of UTC.
	earliestDate := q.Start.UTC().AddDate(0, 0, -1)
	rows, err := t.tx.Query(ctx, `SELECT `+entryCols+`, c.starts_at FROM waitlist_entries e
		LEFT JOIN appointments c ON c.country = e.country AND c.id = e.current_appointment_id AND c.status = 'CONFIRMED'
		WHERE e.practitioner_id = $1 AND e.status = 'WAITING' AND e.person_id <> $2 AND e.latest_date >= $3::date
			AND (c.starts_at IS NULL OR c.starts_at > $4)
			AND NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.entry_id = e.id AND o.starts_at = $4)
			AND NOT EXISTS (SELECT 1 FROM waitlist_offers o JOIN appointments h ON h.id = o.id
				WHERE o.entry_id = e.id AND o.status = 'OFFERED' AND h.status = 'HELD' AND h.hold_expires_at > $5)
			AND NOT `+activeRestriction("e.patient_id", "e.practitioner_id", "$5")+`
		ORDER BY e.seq LIMIT $6`,
		q.PractitionerID, orZeroUUID(q.ExceptPerson), earliestDate, q.Start, q.Now, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var cur *time.Time
		e, err := scanEntryAnd(r, &cur)
		e.CurrentStartsAt = utcPtr(cur)
		return e, err
	})
}

// OfferFacts are what deciding an offer reads besides the schedule.
type OfferFacts struct {
	// Blocked are the practitioner's occupied ranges (the entry's current
	// appointment excluded: accepting moves it).
	Blocked [][2]time.Time
	// Seen: the person had an appointment with the practitioner before.
	Seen bool
	// PersonBusy: the person has another confirmed appointment then.
	PersonBusy bool
}

// OfferFactsQuery says what ReadOfferFacts reads.
type OfferFactsQuery struct {
	Country, PractitionerID, PersonID string
	// ExcludeID is the entry's current appointment ("" when none).
	ExcludeID              string
	BlockedFrom, BlockedTo time.Time
	Start, End, Now        time.Time
}

// ReadOfferFacts reads, in one round trip, what deciding an offer needs.
func (t *Tx) ReadOfferFacts(ctx context.Context, q OfferFactsQuery) (OfferFacts, error) {
	var f OfferFacts
	b := &pgx.Batch{}
	if q.BlockedFrom.Before(q.BlockedTo) {
		b.Queue(`SELECT lower(blocked), upper(blocked) FROM appointments
			WHERE country = $1 AND practitioner_id = $2 AND status IN ('HELD', 'CONFIRMED')
			AND (status = 'CONFIRMED' OR hold_expires_at > $5) AND blocked && tstzrange($3, $4) AND id <> $6`,
			q.Country, q.PractitionerID, q.BlockedFrom, q.BlockedTo, q.Now, orZeroUUID(q.ExcludeID)).Query(func(rows pgx.Rows) error {
			var err error
			f.Blocked, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]time.Time, error) {
				var iv [2]time.Time
				err := r.Scan(&iv[0], &iv[1])
				return iv, err
			})
			return err
		})
	}
	b.Queue(`SELECT EXISTS (SELECT 1 FROM appointments WHERE country = $1 AND person_id = $2
		AND practitioner_id = $3 AND status IN ('CONFIRMED', 'NO_SHOW') AND starts_at < $4 AND id <> $5),
		EXISTS (SELECT 1 FROM person_appointments WHERE person_id = $2 AND during && tstzrange($4, $6) AND appointment_id <> $5)`,
		q.Country, q.PersonID, q.PractitionerID, q.Start, orZeroUUID(q.ExcludeID), q.End).QueryRow(func(row pgx.Row) error {
		return row.Scan(&f.Seen, &f.PersonBusy)
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return OfferFacts{}, err
	}
	return f, nil
}

// insertOfferSQL holds a slot for an entry: the hold ($1–$13) unless a
// constraint says no or the entry ($14) holds a live offer at $15 already
// (read after the entry's lock: no other offer of it can be in flight),
// then its offer row and its outbox event ($16 on) only if the hold was
// written.
var insertOfferSQL = `WITH ins AS (INSERT INTO appointments
		(country, id, practitioner_id, patient_id, relative_id, person_id, appointment_type_id, location_id,
		 status, starts_at, ends_at, blocked, hold_expires_at)
		SELECT $1, $2, $3, $4, nullif($5, '')::uuid, $6, $7, $8, 'HELD', $9, $10, tstzrange($11, $12), $13
		WHERE NOT EXISTS (SELECT 1 FROM waitlist_offers o JOIN appointments h ON h.id = o.id
			WHERE o.entry_id = $14 AND o.status = 'OFFERED' AND h.status = 'HELD' AND h.hold_expires_at > $15)
		ON CONFLICT DO NOTHING RETURNING *
	), off AS (
		INSERT INTO waitlist_offers (id, entry_id, starts_at, created_at) SELECT id, $14, starts_at, $15 FROM ins
	), o AS (` + outbox.InsertFromSQL("ins", 16) + `)
	SELECT ` + selectCols + ` FROM ins a` + joinPatient

// InsertOffer holds h (a new hold, Version 1) for entryID as an offer,
// with its event ev (on topic, keyed by the practitioner id), in one
// statement; false (nothing written) when a constraint refused the hold or
// the entry already holds a live offer. Lock the entry first.
func (t *Tx) InsertOffer(ctx context.Context, h Appointment, entryID string, now time.Time, topic string, ev events.Envelope) (Appointment, bool, error) {
	if h.Status != StatusHeld || h.HoldExpiresAt == nil || h.Version != 1 {
		return Appointment{}, false, fmt.Errorf("store: InsertOffer writes new holds only")
	}
	row, err := outbox.NewRow(ctx, topic, h.PractitionerID, ev)
	if err != nil {
		return Appointment{}, false, err
	}
	out, err := scanAppointment(t.tx.QueryRow(ctx, insertOfferSQL, append([]any{
		h.Country, h.ID, h.PractitionerID, h.PatientID, h.RelativeID, h.PersonID, h.AppointmentTypeID, h.LocationID,
		h.StartsAt, h.EndsAt, h.BlockedFrom, h.BlockedUntil, h.HoldExpiresAt, entryID, now}, row.Args()...)...))
	if errors.Is(err, ErrNotFound) {
		return Appointment{}, false, nil
	}
	return out, err == nil, overlapError(err)
}

// offerByIDSQL reads an offer with its entry and the entry's current
// appointment's start while confirmed.
const offerByIDSQL = `SELECT ` + entryCols + `, c.starts_at, o.id::text, o.entry_id::text, o.starts_at, o.status,
		o.created_at, o.decided_at
	FROM waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id
	LEFT JOIN appointments c ON c.country = e.country AND c.id = e.current_appointment_id AND c.status = 'CONFIRMED'
	WHERE o.id = $1`

// OfferByID reads an offer with its entry (and the entry's current
// appointment's start while confirmed) and its hold.
func (s *Store) OfferByID(ctx context.Context, id string) (Offer, Entry, error) {
	return offerByID(ctx, s.pool, id, "")
}

// LockOffer is OfferByID with the offer row locked for update: offers are
// decided one at a time.
func (t *Tx) LockOffer(ctx context.Context, id string) (Offer, Entry, error) {
	return offerByID(ctx, t.tx, id, " FOR UPDATE OF o")
}

func offerByID(ctx context.Context, q querier, id, lock string) (Offer, Entry, error) {
	var (
		o   Offer
		cur *time.Time
	)
	e, err := scanEntryAnd(q.QueryRow(ctx, offerByIDSQL+lock, id), &cur, &o.ID, &o.EntryID, &o.StartsAt, &o.Status,
		&o.CreatedAt, &o.DecidedAt)
	if err != nil {
		return Offer{}, Entry{}, err
	}
	e.CurrentStartsAt = utcPtr(cur)
	o.StartsAt, o.CreatedAt, o.DecidedAt = o.StartsAt.UTC(), o.CreatedAt.UTC(), utcPtr(o.DecidedAt)
	if o.Hold, err = scanAppointment(q.QueryRow(ctx, `SELECT `+selectCols+` FROM appointments`+fromJoined+`
		WHERE a.id = $1`, id)); err != nil {
		return Offer{}, Entry{}, err
	}
	return o, e, nil
}

// DecideOffer records an offer's outcome if it is still OFFERED; false when
// it was decided already.
func (t *Tx) DecideOffer(ctx context.Context, id, status string, now time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE waitlist_offers SET status = $2, decided_at = $3 WHERE id = $1 AND status = 'OFFERED'`,
		id, status, now)
	return tag.RowsAffected() == 1, err
}

// takeOfferSQL accepts an offer still OFFERED and fulfils its entry, still
// waiting: one row when both happened. The offer row's lock serialises
// concurrent accepts: the second finds it ACCEPTED.
const takeOfferSQL = `WITH o AS (UPDATE waitlist_offers SET status = 'ACCEPTED', decided_at = $2
		WHERE id = $1 AND status = 'OFFERED' RETURNING entry_id)
	UPDATE waitlist_entries e SET status = 'FULFILLED', updated_at = $2 FROM o
	WHERE e.id = o.entry_id AND e.status = 'WAITING' RETURNING e.id`

// TakeOffer accepts an offer and fulfils its entry; false when the offer is
// no longer OFFERED or its entry no longer waits (nothing changed then).
func (t *Tx) TakeOffer(ctx context.Context, id string, now time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, takeOfferSQL, id, now)
	return tag.RowsAffected() == 1, err
}

// OffersAmong returns which of the holds ids are offers, marking those still
// OFFERED as EXPIRED (skipping any another transaction is deciding: its
// hold has ended anyway, so it cannot be accepted).
func (t *Tx) OffersAmong(ctx context.Context, ids []string, now time.Time) (map[string]bool, error) {
	rows, err := t.tx.Query(ctx, `WITH x AS (SELECT id FROM waitlist_offers WHERE id = ANY($1::uuid[])),
		u AS (UPDATE waitlist_offers SET status = 'EXPIRED', decided_at = $2 WHERE id IN (
			SELECT id FROM waitlist_offers WHERE id = ANY($1::uuid[]) AND status = 'OFFERED' FOR UPDATE SKIP LOCKED))
		SELECT id::text FROM x`, ids, now)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(got))
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// LiveOfferOf returns the id of the entry's live offer at now, if any.
func (t *Tx) LiveOfferOf(ctx context.Context, entryID string, now time.Time) (string, bool, error) {
	var id string
	err := t.tx.QueryRow(ctx, `SELECT o.id::text FROM waitlist_offers o JOIN appointments h ON h.id = o.id
		WHERE o.entry_id = $1 AND o.status = 'OFFERED' AND h.status = 'HELD' AND h.hold_expires_at > $2`, entryID, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

// OfferedStarts lists the starts an entry was offered.
func (t *Tx) OfferedStarts(ctx context.Context, entryID string) (map[time.Time]bool, error) {
	rows, err := t.tx.Query(ctx, `SELECT starts_at FROM waitlist_offers WHERE entry_id = $1`, entryID)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return nil, err
	}
	out := make(map[time.Time]bool, len(got))
	for _, t := range got {
		out[t.UTC()] = true
	}
	return out, nil
}

// EntriesWithoutOffer lists, in fair order, the practitioner's waiting
// entries that hold no live offer at now and whose account is not
// restricted with the practice then (at most limit).
func (s *Store) EntriesWithoutOffer(ctx context.Context, practitionerID string, now time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT e.id::text FROM waitlist_entries e
		WHERE e.practitioner_id = $1 AND e.status = 'WAITING'
		AND NOT EXISTS (SELECT 1 FROM waitlist_offers o JOIN appointments h ON h.id = o.id
			WHERE o.entry_id = e.id AND o.status = 'OFFERED' AND h.status = 'HELD' AND h.hold_expires_at > $2)
		AND NOT `+activeRestriction("e.patient_id", "e.practitioner_id", "$2")+`
		ORDER BY e.seq LIMIT $3`, practitionerID, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// WaitingWithOffers lists the account's waiting entries (oldest first), each
// with its latest offer, if any.
func (s *Store) WaitingWithOffers(ctx context.Context, patientID string) ([]Entry, []*Offer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+entryCols+`, o.id::text FROM waitlist_entries e
		LEFT JOIN LATERAL (SELECT id FROM waitlist_offers WHERE entry_id = e.id ORDER BY created_at DESC, id LIMIT 1) o ON true
		WHERE e.patient_id = $1 AND e.status = 'WAITING' ORDER BY e.seq`, patientID)
	if err != nil {
		return nil, nil, err
	}
	var entries []Entry
	var offerIDs []*string
	for rows.Next() {
		var offerID *string
		e, err := scanEntryAnd(rows, &offerID)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		entries = append(entries, e)
		offerIDs = append(offerIDs, offerID)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	offers := make([]*Offer, len(entries))
	for i, id := range offerIDs {
		if id == nil {
			continue
		}
		o, _, err := s.OfferByID(ctx, *id)
		if err != nil {
			return nil, nil, err
		}
		offers[i] = &o
	}
	return entries, offers, nil
}

// EntriesOf lists every entry of an account, whatever its status, oldest
// first (the account's data export).
func (s *Store) EntriesOf(ctx context.Context, patientID string) ([]Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+entryCols+` FROM waitlist_entries e WHERE e.patient_id = $1 ORDER BY e.seq`, patientID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntryAnd(r) })
}

// DeleteWaitlistOf deletes an account's entries and their offers (an
// erasure; the offers' holds are ended with the account's other holds).
func (t *Tx) DeleteWaitlistOf(ctx context.Context, patientID string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM waitlist_entries WHERE patient_id = $1`, patientID)
	return err
}

// PutScheduleSeeingWaitlist is PutSchedule that also says, in the same
// round trip, whether the practitioner has waiting entries and, if so, the
// snapshot the replica had before (nil when none).
func (s *Store) PutScheduleSeeingWaitlist(ctx context.Context, sc Schedule) (applied, waiting bool, before []byte, err error) {
	err = s.pool.QueryRow(ctx, `WITH old AS (SELECT snapshot FROM practitioner_schedules WHERE practitioner_id = $1),
		w AS (SELECT EXISTS (SELECT 1 FROM waitlist_entries WHERE practitioner_id = $1 AND status = 'WAITING') AS waiting),
		up AS (INSERT INTO practitioner_schedules (practitioner_id, country, version, snapshot)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (practitioner_id) DO UPDATE SET country = EXCLUDED.country, version = EXCLUDED.version,
				snapshot = EXCLUDED.snapshot, updated_at = now()
			WHERE practitioner_schedules.version < EXCLUDED.version
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM up), w.waiting, CASE WHEN w.waiting THEN (SELECT snapshot FROM old) END FROM w`,
		sc.PractitionerID, sc.Country, sc.Version, []byte(sc.Snapshot)).Scan(&applied, &waiting, &before)
	return applied, waiting, before, err
}

// ScheduleIfNewer is Store.ScheduleIfNewer in the transaction.
func (t *Tx) ScheduleIfNewer(ctx context.Context, practitionerID string, knownVersion *int64) (Schedule, error) {
	sc := Schedule{PractitionerID: practitionerID}
	var snap []byte
	err := t.tx.QueryRow(ctx, scheduleIfNewerSQL, practitionerID, knownVersion).Scan(&sc.Country, &sc.Version, &snap)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrNotFound
	}
	sc.Snapshot = snap
	return sc, err
}

// IsRelative reports whether relativeID is one of the patient's relatives
// in the replica.
func (t *Tx) IsRelative(ctx context.Context, patientID, relativeID string) (bool, error) {
	var ok bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM patients p, jsonb_array_elements(p.relatives) r
		WHERE p.id = $1 AND p.erased_at IS NULL AND r->>'id' = $2)`, patientID, relativeID).Scan(&ok)
	return ok, err
}

// OfferTaken is the offer a booking accepts (Booking.Offer).
type OfferTaken struct {
	OfferID string
}

// endOfferHoldSQL ends the offer's hold if it is still the live row read.
const endOfferHoldSQL = `UPDATE appointments SET status = 'EXPIRED', version = version + 1, updated_at = $5
	WHERE country = $1 AND id = $2 AND patient_id = $3 AND version = $4 AND status = 'HELD' AND hold_expires_at > $5`

// bookTakingOffer is Book's transaction for a booking that accepts an offer:
// the offer is taken (its entry fulfilled) and its hold ended, or nothing is
// written (ErrOfferTaken); then the booking; then the hold's HoldReleased,
// after the booking's event, so the slot never reads as open in between.
// Accepting is an online booking: it takes the account's restriction lock
// first, and a restricted account books nothing (restrictions.go).
func (s *Store) bookTakingOffer(ctx context.Context, b Booking, bookArgs []any, n *int) error {
	end := b.Replaces
	if end == nil {
		return ErrOfferTaken
	}
	h := end.Hold
	err := s.InTx(ctx, func(tx *Tx) error {
		if !b.AtDesk {
			if _, err := tx.tx.Exec(ctx, restrictionLockSQL, b.Appointment.PatientID, b.Appointment.PractitionerID); err != nil {
				return err
			}
		}
		taken, err := tx.TakeOffer(ctx, b.Offer.OfferID, end.Now)
		if err != nil {
			return err
		}
		if !taken {
			return ErrOfferTaken
		}
		tag, err := tx.tx.Exec(ctx, endOfferHoldSQL, h.Country, h.ID, h.PatientID, h.Version, end.Now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return ErrOfferTaken
		}
		if err := tx.tx.QueryRow(ctx, bookSQL, bookArgs...).Scan(n); err != nil {
			return err
		}
		if *n == 0 {
			return errNotBooked
		}
		return tx.Emit(ctx, b.Topic, h.PractitionerID, end.Event)
	})
	if errors.Is(err, errNotBooked) {
		return nil
	}
	return err
}

package business

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// Treatment series (ADR 21): a patient books count sessions of one type with
// one practitioner, every everyDays days at the same local time, all or
// nothing — every session holds or none does. The read and the decision are
// a booking's (readForBooking, decideStart per session, in decideSeries);
// the commit is one transaction (store.BookSeries). A session then moves and
// cancels as any appointment; CancelSeries and RescheduleSeries act on a
// session and every later one at once.

// Bounds of a series.
const (
	MinSeriesCount     = 2
	MaxSeriesCount     = 52
	MaxSeriesEveryDays = 28
)

// Idempotency operations of series.
const (
	opBookSeries       = "bookSeries"
	opRescheduleSeries = "rescheduleSeries"
)

// SeriesInput is a series to book.
type SeriesInput struct {
	PractitionerID    string
	AppointmentTypeID string
	FirstStartsAt     time.Time
	EveryDays, Count  int
	IdempotencyKey    string
	RelativeID        string // optional: one of the caller's relatives
	Note              string // for the practitioner, on every session
}

// BookedSeries is a series and its sessions, in index order.
type BookedSeries struct {
	Series   store.Series        `json:"series"`
	Sessions []store.Appointment `json:"sessions"`
}

// seriesRequest is a series request once checked: its first session as a
// booking request (carrying the series' key and hash), the step and count.
type seriesRequest struct {
	first        bookRequest
	every, count int
}

// BookSeries books a treatment series for the calling patient (or one of
// their relatives) in one transaction: every session is decided as a booking
// is (decideStart: opening hours, the type's rules, what is occupied), and
// either all are written or none. A refusal names the session:
// extensions.sessionIndex (1 to count) and sessionStartsAt, beside the code
// and reason a booking of that slot would get (SLOT_UNAVAILABLE with
// SLOT_TAKEN or PATIENT_OVERLAP, INVALID_INPUT with the rule). The series
// counts once against the country's bookings per account, practice and day.
// A retry with the same idempotency key returns the first answer.
func (s *Service) BookSeries(ctx context.Context, in SeriesInput) (BookedSeries, error) {
	me, err := auth.PatientAccount(ctx)
	if err != nil {
		return BookedSeries{}, err
	}
	req, err := checkSeries(me, in)
	if err != nil {
		return BookedSeries{}, err
	}
	return onceMoreIfConnectionLost(s, func() (BookedSeries, error) {
		return withFreshPractice(ctx, s, func() (BookedSeries, error) { return s.bookSeries(ctx, req) })
	})
}

// checkSeries checks a series request's input.
func checkSeries(me string, in SeriesInput) (seriesRequest, error) {
	if in.Count < MinSeriesCount || in.Count > MaxSeriesCount {
		return seriesRequest{}, apperr.Invalid("count", "must be between %d and %d", MinSeriesCount, MaxSeriesCount)
	}
	if in.EveryDays < 1 || in.EveryDays > MaxSeriesEveryDays {
		return seriesRequest{}, apperr.Invalid("everyDays", "must be between 1 and %d", MaxSeriesEveryDays)
	}
	first, err := checkBooking(me, BookInput{PractitionerID: in.PractitionerID, AppointmentTypeID: in.AppointmentTypeID,
		StartsAt: in.FirstStartsAt, IdempotencyKey: in.IdempotencyKey, RelativeID: in.RelativeID, Note: in.Note})
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "startsAt" {
			e.Field = "firstStartsAt"
		}
		return seriesRequest{}, err
	}
	first.hash = requestHash(opBookSeries, in.PractitionerID, in.AppointmentTypeID, first.start.Format(time.RFC3339Nano),
		strconv.Itoa(in.EveryDays), strconv.Itoa(in.Count), in.RelativeID, first.note)
	return seriesRequest{first: first, every: in.EveryDays, count: in.Count}, nil
}

// bookSeries is BookSeries once its input is checked: read, decide, commit.
func (s *Service) bookSeries(ctx context.Context, req seriesRequest) (BookedSeries, error) {
	now := s.now()
	// The first session's read is a booking's: key, practice, patient,
	// restriction, occupied ranges of its days; the others' ranges follow.
	r, p, err := s.readForBooking(ctx, req.first, now)
	if err != nil {
		return BookedSeries{}, err
	}
	if r.HasKey {
		return storedSeries(r.Key, req.first.hash)
	}
	starts := seriesStarts(p, req.first.start, req.every, req.count)
	windows := make([][2]time.Time, 0, len(starts)-1)
	for i, start := range starts[1:] {
		_, from, to, err := blockedWindow(p, start)
		if err != nil {
			return BookedSeries{}, atSession(err, i+2, start)
		}
		if from.Before(to) {
			windows = append(windows, [2]time.Time{from, to})
		}
	}
	more, err := s.store.BlockedIn(ctx, p.country, p.practitionerID, windows, now, nil)
	if err != nil {
		return BookedSeries{}, err
	}
	b, err := decideSeries(req, p, r, starts, append(r.Blocked, more...), now, s.dayLimit(p.country, now))
	if err != nil {
		return BookedSeries{}, err
	}
	return s.commitSeries(ctx, req, p, b, now)
}

// seriesStarts are the starts of a series: first, then every every days at
// the same local time in the practice's zone (a weekly 09:00 stays 09:00
// across a change of summer time).
func seriesStarts(p *plan, first time.Time, every, count int) []time.Time {
	local := first.In(p.zone)
	out := make([]time.Time, count)
	for i := range out {
		out[i] = time.Date(local.Year(), local.Month(), local.Day()+i*every, local.Hour(), local.Minute(),
			local.Second(), local.Nanosecond(), p.zone).UTC()
	}
	return out
}

// decideSeries is the decision of a series, pure: given the request, the
// practice's plan, what the first session's booking read found, the starts
// and the ranges occupied over every session's days at now, it refuses (an
// online series of a restricted account, a relative not the caller's, the
// first session refused by decideStart, with its index) or says what to
// write: the series, its sessions as PostgreSQL will return them, their
// events and the key's answer, counted once against limit.
func decideSeries(req seriesRequest, p *plan, r store.BookRead, starts []time.Time, blocked [][2]time.Time,
	now time.Time, limit store.DayLimit) (store.SeriesBooking, error) {
	in := req.first.in
	if r.Restriction != nil && !req.first.desk {
		return store.SeriesBooking{}, restricted(*r.Restriction)
	}
	person, relative := canonicalID(req.first.me), ""
	if in.RelativeID != "" {
		if !r.IsRelative {
			return store.SeriesBooking{}, apperr.Invalid("relativeId", "is not one of your relatives")
		}
		relative = canonicalID(in.RelativeID)
		person = relative
	}
	se := store.Series{ID: uid.New(), Country: p.country, PatientID: canonicalID(req.first.me), RelativeID: relative,
		PractitionerID: p.practitionerID, AppointmentTypeID: canonicalID(p.typ.ID), Count: req.count, EveryDays: req.every,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	sessions := make([]store.Appointment, len(starts))
	for i, start := range starts {
		dates, from, to, err := blockedWindow(p, start)
		if err != nil {
			return store.SeriesBooking{}, atSession(err, i+1, start)
		}
		// After the first session, the person is no longer new to the practice.
		d, err := decideStart(p, start, now, i == 0 && !r.Seen, dates, within(blocked, from, to))
		if err != nil {
			return store.SeriesBooking{}, atSession(err, i+1, start)
		}
		sessions[i] = store.Appointment{
			Country: p.country, ID: uid.New(), PractitionerID: p.practitionerID, PatientID: se.PatientID, RelativeID: relative,
			PersonID: person, AppointmentTypeID: se.AppointmentTypeID, LocationID: canonicalID(d.locationID),
			Status: store.StatusConfirmed, StartsAt: start, EndsAt: start.Add(p.typ.Duration),
			BlockedFrom: d.blocked.Start.UTC(), BlockedUntil: d.blocked.End.UTC(), Note: req.first.note,
			Version: 1, CreatedAt: se.CreatedAt, PatientName: r.PatientName, PatientPhone: r.PatientPhone,
			SeriesID: se.ID, SeriesIndex: i + 1, SeriesCount: req.count,
		}
	}
	evs := make([]events.Envelope, 0, len(sessions)+1)
	data := eventdata.Series{ID: se.ID, PractitionerID: se.PractitionerID, Country: se.Country, PatientID: se.PatientID,
		RelativeID: se.RelativeID, AppointmentTypeID: se.AppointmentTypeID, EveryDays: se.EveryDays, Count: se.Count}
	for _, a := range sessions {
		ev, err := newEvent(eventdata.AppointmentBooked, a, nil)
		if err != nil {
			return store.SeriesBooking{}, err
		}
		evs = append(evs, ev)
		data.Sessions = append(data.Sessions, Payload(a))
	}
	ev, err := events.New(Source, eventdata.SeriesBooked, se.ID, data)
	if err != nil {
		return store.SeriesBooking{}, err
	}
	resp, err := json.Marshal(BookedSeries{Series: se, Sessions: sessions})
	if err != nil {
		return store.SeriesBooking{}, err
	}
	return store.SeriesBooking{Series: se, Sessions: sessions, Limit: limit, Topic: events.BookingEvents,
		Events: append(evs, ev), AtDesk: req.first.desk, Now: now,
		Key: store.NewKey{Subject: req.first.me, Key: req.first.key, Operation: opBookSeries, RequestHash: req.first.hash, Response: resp},
	}, nil
}

// within keeps the ranges that overlap [from, to).
func within(ranges [][2]time.Time, from, to time.Time) [][2]time.Time {
	var out [][2]time.Time
	for _, r := range ranges {
		if r[0].Before(to) && from.Before(r[1]) {
			out = append(out, r)
		}
	}
	return out
}

// commitSeries writes the series decided (store.BookSeries). When a session
// was refused, it says which and why: the key was committed meanwhile (its
// answer), the account was restricted meanwhile, a due hold not yet swept
// stands in the way (expired, then the series is written once more), or the
// slot is taken.
func (s *Service) commitSeries(ctx context.Context, req seriesRequest, p *plan, b store.SeriesBooking, now time.Time) (BookedSeries, error) {
	expired := map[int]bool{}
	for {
		err := s.store.BookSeries(ctx, b)
		if err == nil {
			return BookedSeries{Series: b.Series, Sessions: b.Sessions}, nil
		}
		var refused *store.ErrSeriesRefused
		switch {
		case errors.Is(err, store.ErrKeyTaken):
			k, err := s.store.LookupKey(ctx, req.first.me, req.first.key)
			if err != nil {
				return BookedSeries{}, err
			}
			return storedSeries(k, req.first.hash)
		case errors.Is(err, store.ErrPersonOverlap):
			return BookedSeries{}, s.personOverlapAt(ctx, b)
		case !errors.As(err, &refused):
			return BookedSeries{}, conflict(err)
		}
		i := refused.Refused[0]
		a := b.Sessions[i-1]
		why, err := s.store.WhyNoRow(ctx, store.NoRowQuery{Subject: req.first.me, Key: req.first.key, Country: a.Country,
			PractitionerID: a.PractitionerID, BlockedFrom: a.BlockedFrom, BlockedUntil: a.BlockedUntil, Now: now,
			PatientID: a.PatientID, AtDesk: b.AtDesk})
		if err != nil {
			return BookedSeries{}, err
		}
		switch {
		case why.HasKey:
			return storedSeries(why.Key, req.first.hash)
		case why.Restriction != nil:
			return BookedSeries{}, restricted(*why.Restriction)
		case why.ExpiredHold && !expired[i]:
			expired[i] = true
			if err := s.store.InTx(ctx, func(tx *store.Tx) error { return s.expireOverlapping(ctx, tx, p, a.StartsAt, now) }); err != nil {
				return BookedSeries{}, err
			}
		default:
			return BookedSeries{}, atSession(slotTaken(), i, a.StartsAt)
		}
	}
}

// personOverlapAt is PATIENT_OVERLAP at the first session the person is
// busy at (as the database now says).
func (s *Service) personOverlapAt(ctx context.Context, b store.SeriesBooking) error {
	starts, ends := make([]time.Time, len(b.Sessions)), make([]time.Time, len(b.Sessions))
	for i, a := range b.Sessions {
		starts[i], ends[i] = a.StartsAt, a.EndsAt
	}
	at, err := s.store.PersonOverlaps(ctx, b.Sessions[0].PersonID, starts, ends)
	if err != nil {
		return err
	}
	if len(at) == 0 {
		return patientOverlap()
	}
	return atSession(patientOverlap(), at[0], starts[at[0]-1])
}

// storedSeries is the answer a used key gives a series request:
// INVALID_INPUT when it was used for a different request.
func storedSeries(k store.Key, hash []byte) (BookedSeries, error) {
	if k.Operation != opBookSeries || !bytes.Equal(k.RequestHash, hash) {
		return BookedSeries{}, apperr.Invalid("idempotencyKey", "was already used for a different request")
	}
	var out BookedSeries
	err := json.Unmarshal(k.Response, &out)
	return out, err
}

// atSession names the session a refusal is about: extensions.sessionIndex
// (1-based) and sessionStartsAt, and the message. A refusal the replica
// decided stays the replica's (withFreshPractice decides it again).
func atSession(err error, index int, start time.Time) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	c := *e
	c.Extensions = map[string]any{"sessionIndex": index, "sessionStartsAt": start.UTC().Format(time.RFC3339)}
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Message = fmt.Sprintf("session %d (%s): %s", index, start.UTC().Format(time.RFC3339), e.Message)
	if c.Field == "startsAt" {
		c.Field = ""
	}
	var stale *replicaRefusal
	if errors.As(err, &stale) {
		return byReplica(&c, stale.practitionerID, stale.version)
	}
	return &c
}

// ---- a session and every later one ----

// CancelSeriesInput cancels a session of a series and every later one.
type CancelSeriesInput struct {
	SeriesID          string
	FromAppointmentID string
	Reason            string
}

// CancelSeries cancels a session of a series and every later session still
// confirmed, in one transaction (one AppointmentCancelled each), with a
// reason: the patient who booked it until the country's cut-off before that
// session (CANCELLATION_CLOSED after), the practitioner or a secretary
// acting for them at any time. Each slot it frees is offered to a waiting
// patient (offerFreed) in the same transaction. It returns the sessions from
// that one on, as they are now; cancelling again changes nothing.
func (s *Service) CancelSeries(ctx context.Context, in CancelSeriesInput) ([]store.Appointment, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, err
	}
	if err := ids(field{"seriesId", in.SeriesID}, field{"fromAppointmentId", in.FromAppointmentID}); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		return nil, apperr.Invalid("reason", "is required")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return nil, apperr.Invalid("reason", "must be at most %d characters", MaxReasonLength)
	}
	from, by, err := s.session(ctx, caller, in.SeriesID, in.FromAppointmentID)
	if err != nil {
		return nil, err
	}
	var out []store.Appointment
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		sessions, err := tx.LockSessions(ctx, from.Country, from.SeriesID, from.SeriesIndex)
		if err != nil {
			return err
		}
		if len(sessions) == 0 || sessions[0].ID != from.ID {
			return apperr.NotFoundf("appointment %q not found", in.FromAppointmentID)
		}
		if sessions[0].Status == store.StatusNoShow {
			return &apperr.Error{Code: apperr.InvalidInput, Field: "fromAppointmentId", Reason: "NO_SHOW",
				Message: "a no-show cannot be cancelled"}
		}
		now := s.now()
		out = make([]store.Appointment, 0, len(sessions))
		for _, a := range sessions {
			if a.Status != store.StatusConfirmed {
				out = append(out, a)
				continue
			}
			if by == cancelledByPatient {
				if err := s.cancellationOpen(a, now); err != nil {
					return err
				}
			}
			c, err := tx.Cancel(ctx, a.Country, a.ID, by, reason, now)
			if err != nil {
				return err
			}
			// Each freed slot goes to a waiting patient first, its offer
			// written before the cancellation (as Cancel does).
			if err := s.offerFreed(ctx, tx, c, now); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, eventdata.AppointmentCancelled, c, nil); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RescheduleSeriesInput moves a session of a series and every later one.
type RescheduleSeriesInput struct {
	SeriesID          string
	FromAppointmentID string
	// StartsAt is the session's new start; every later session moves by the
	// same shift of local date and time.
	StartsAt       time.Time
	IdempotencyKey string
}

// seriesMoves is what a series move's idempotency key remembers.
type seriesMoves struct {
	Sessions []store.Appointment `json:"sessions"`
	Previous []store.Appointment `json:"previous"`
}

// RescheduleSeries moves a confirmed session of a series to StartsAt and
// every later confirmed session by the same shift of local date and time (a
// weekly Tuesday 09:00 moved to Wednesday 10:30 stays weekly on Wednesdays
// at 10:30), all or nothing, in one transaction: each new start is decided
// as a move is (decideStart), the sessions' old ranges do not stand in each
// other's way, and a refusal names the session (extensions.sessionIndex).
// For the patient who booked it (until the country's cut-off before that
// session) and the practitioner or a secretary acting for them (with the
// desk's rules, as Reschedule). The old slots are offered to waiting
// patients (offerFreed) in the same transaction. One
// AppointmentRescheduled per session; a retry with the same idempotency key
// returns the first answer. It returns the sessions moved, as they are now
// and as they were.
func (s *Service) RescheduleSeries(ctx context.Context, in RescheduleSeriesInput) ([]Moved, error) {
	caller, err := auth.RequireRole(ctx)
	if err != nil {
		return nil, err
	}
	if err := ids(field{"seriesId", in.SeriesID}, field{"fromAppointmentId", in.FromAppointmentID}); err != nil {
		return nil, err
	}
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	subject := caller.Account
	if subject == "" {
		subject = caller.Subject
	}
	start := in.StartsAt.UTC()
	hash := requestHash(opRescheduleSeries, in.SeriesID, in.FromAppointmentID, start.Format(time.RFC3339Nano))
	return onceMoreIfConnectionLost(s, func() ([]Moved, error) {
		return withFreshPractice(ctx, s, func() ([]Moved, error) {
			return s.rescheduleSeries(ctx, caller, subject, key, in, start, hash)
		})
	})
}

// rescheduleSeries is RescheduleSeries once its input is checked.
func (s *Service) rescheduleSeries(ctx context.Context, caller auth.Principal, subject, key string, in RescheduleSeriesInput,
	start time.Time, hash []byte) ([]Moved, error) {
	if out, ok, err := s.replaySeriesMoves(ctx, subject, key, hash); ok || err != nil {
		return out, err
	}
	from, by, err := s.session(ctx, caller, in.SeriesID, in.FromAppointmentID)
	if err != nil {
		return nil, err
	}
	p, err := s.loadPlan(ctx, from.PractitionerID, from.AppointmentTypeID)
	if err != nil {
		return nil, err
	}
	var out []Moved
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.ClaimKey(ctx, subject, key, opRescheduleSeries, hash, from.ID)
		if err != nil {
			return err
		}
		if !claimed {
			return errReplayed
		}
		locked, err := tx.LockSessions(ctx, from.Country, from.SeriesID, from.SeriesIndex)
		if err != nil {
			return err
		}
		if len(locked) == 0 || locked[0].ID != from.ID || locked[0].Status != store.StatusConfirmed {
			return &apperr.Error{Code: apperr.InvalidInput, Field: "fromAppointmentId", Reason: "NOT_CONFIRMED",
				Message: "only a confirmed session can be moved"}
		}
		now := s.now()
		if by == cancelledByPatient {
			if err := s.cancellationOpen(locked[0], now); err != nil {
				return err
			}
		}
		shift := wallClockShift(p.zone, from.StartsAt, start)
		var olds []store.Appointment
		var moving []string
		var windows [][2]time.Time
		var starts []time.Time
		for _, a := range locked {
			if a.Status != store.StatusConfirmed {
				continue
			}
			ns := shift(a.StartsAt)
			if err := s.expireOverlapping(ctx, tx, p, ns, now); err != nil {
				return err
			}
			_, wf, wt, err := blockedWindow(p, ns)
			if err != nil {
				return atSession(err, a.SeriesIndex, ns)
			}
			olds, moving, starts = append(olds, a), append(moving, a.ID), append(starts, ns)
			if wf.Before(wt) {
				windows = append(windows, [2]time.Time{wf, wt})
			}
		}
		// The sessions' own ranges do not count: they all move.
		blocked, err := tx.BlockedIn(ctx, p.country, p.practitionerID, windows, now, moving)
		if err != nil {
			return err
		}
		seen, err := tx.SeenBefore(ctx, p.country, p.practitionerID, from.PersonID, starts[0], from.ID)
		if err != nil {
			return err
		}
		nexts := make([]store.Appointment, len(olds))
		for i, old := range olds {
			dates, wf, wt, err := blockedWindow(p, starts[i])
			if err != nil {
				return atSession(err, old.SeriesIndex, starts[i])
			}
			rules := slots.Request{Now: now, NewPatient: i == 0 && !seen, Online: true}
			if by == cancelledByPractitioner {
				rules = deskRequest(now) // a staff move: the desk's rules, as Reschedule's
			}
			d, err := decideStartFor(p, starts[i], rules, dates, within(blocked, wf, wt))
			if err != nil {
				return atSession(err, old.SeriesIndex, starts[i])
			}
			next := old
			next.StartsAt, next.EndsAt = starts[i], starts[i].Add(p.typ.Duration)
			next.BlockedFrom, next.BlockedUntil = d.blocked.Start.UTC(), d.blocked.End.UTC()
			nexts[i] = next
		}
		// Move in the shift's direction, so that no session lands on the old
		// range of one not moved yet.
		order := make([]int, len(olds))
		for i := range order {
			order[i] = i
			if start.After(from.StartsAt) {
				order[i] = len(olds) - 1 - i
			}
		}
		out = make([]Moved, len(olds))
		for _, i := range order {
			a, err := tx.Move(ctx, nexts[i], now)
			if err != nil {
				return atSession(conflict(err), olds[i].SeriesIndex, starts[i])
			}
			out[i] = Moved{Appointment: a, Previous: olds[i]}
		}
		// The old slots are offered to waiting patients once every session
		// has moved (one may move onto another's old slot), and before the
		// moves' events: nobody sees them open in between.
		for _, m := range out {
			if err := s.offerFreed(ctx, tx, m.Previous, now); err != nil {
				return err
			}
		}
		for _, i := range order {
			old := olds[i]
			prev := &eventdata.Slot{StartsAt: old.StartsAt, EndsAt: old.EndsAt, BlockedFrom: old.BlockedFrom, BlockedUntil: old.BlockedUntil}
			if err := s.emit(ctx, tx, eventdata.AppointmentRescheduled, out[i].Appointment, prev); err != nil {
				return err
			}
		}
		remembered := seriesMoves{}
		for _, m := range out {
			remembered.Sessions = append(remembered.Sessions, m.Appointment)
			remembered.Previous = append(remembered.Previous, m.Previous)
		}
		resp, err := json.Marshal(remembered)
		if err != nil {
			return err
		}
		return tx.SaveResponse(ctx, subject, key, resp)
	})
	if errors.Is(err, errReplayed) {
		out, _, err := s.replaySeriesMoves(ctx, subject, key, hash)
		return out, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// replaySeriesMoves is the stored answer of a series move's key, if used.
func (s *Service) replaySeriesMoves(ctx context.Context, subject, key string, hash []byte) ([]Moved, bool, error) {
	k, err := s.store.LookupKey(ctx, subject, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if k.Operation != opRescheduleSeries || !bytes.Equal(k.RequestHash, hash) {
		return nil, false, apperr.Invalid("idempotencyKey", "was already used for a different request")
	}
	var m seriesMoves
	if err := json.Unmarshal(k.Response, &m); err != nil {
		return nil, false, err
	}
	out := make([]Moved, len(m.Sessions))
	for i := range m.Sessions {
		out[i] = Moved{Appointment: m.Sessions[i]}
		if i < len(m.Previous) {
			out[i].Previous = m.Previous[i]
		}
	}
	return out, true, nil
}

// wallClockShift is the move of from to to as a shift of local date and
// time in zone, applied to any start.
func wallClockShift(zone *time.Location, from, to time.Time) func(time.Time) time.Time {
	f, t := from.In(zone), to.In(zone)
	days := int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).
		Sub(time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	clock := (t.Hour()*60+t.Minute())*60 + t.Second() - ((f.Hour()*60+f.Minute())*60 + f.Second())
	return func(x time.Time) time.Time {
		l := x.In(zone)
		return time.Date(l.Year(), l.Month(), l.Day()+days, l.Hour(), l.Minute(), l.Second()+clock, l.Nanosecond(), zone).UTC()
	}
}

// session reads the appointment fromID, a session of seriesID that the
// caller may act on, and on whose behalf (NOT_FOUND otherwise).
func (s *Service) session(ctx context.Context, caller auth.Principal, seriesID, fromID string) (store.Appointment, string, error) {
	rows, err := s.store.ByIDs(ctx, []string{fromID})
	if err != nil {
		return store.Appointment{}, "", err
	}
	if len(rows) == 0 || rows[0].SeriesID != canonicalID(seriesID) {
		return store.Appointment{}, "", apperr.NotFoundf("appointment %q of series %q not found", fromID, seriesID)
	}
	by, ok := side(caller, rows[0])
	if !ok {
		return store.Appointment{}, "", apperr.NotFoundf("appointment %q of series %q not found", fromID, seriesID)
	}
	return rows[0], by, nil
}

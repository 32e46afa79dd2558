package business

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// maxScheduleReads bounds how often bookFast re-reads because the schedule
// replica changed under it.
const maxScheduleReads = 4

// bookFast is Book without a hold, in two round trips to PostgreSQL:
//
//  1. one batch reads the idempotency key (a used key answers at once), the
//     schedule replica's version (its snapshot only when the cached decoded
//     plan is not of that version), whether the person was seen before, the
//     occupied ranges of the days the booking touches, and the patient's name
//     and relatives;
//  2. the decision (internal/slots, as for every booking) turns away what is
//     plainly not bookable, and one statement inserts the appointment (ON
//     CONFLICT DO NOTHING against the exclusion constraints, which settle
//     every race) and, only if it did, the idempotency key with its answer
//     and the outbox event: one implicit transaction.
//
// When the insert wrote nothing: a retry with the same key that lost the
// race to the first request finds that request's key (the insert waited for
// its transaction) and gets its answer; a hold that has expired but is still
// HELD is expired (with its HoldReleased) and the insert tried once more;
// otherwise the slot, or the person, is busy. A refusal stores nothing.
func (s *Service) bookFast(ctx context.Context, me string, in BookInput, key, note string, start time.Time, hash []byte) (store.Appointment, error) {
	pid := canonicalID(in.PractitionerID)
	person, relative := canonicalID(me), ""
	if in.RelativeID != "" {
		relative = canonicalID(in.RelativeID)
		person = relative
	}
	now := s.now()
	pr := s.plans.get(pid)
	var (
		r store.BookRead
		p *plan
	)
	for attempt := 0; ; attempt++ {
		q := store.BookReadQuery{Subject: me, Key: key, PractitionerID: pid, KnownVersion: knownVersion(pr),
			PersonID: person, Start: start, Now: now, PatientID: me, RelativeID: relative, RelativeOf: in.RelativeID}
		var planErr error
		p = nil
		if pr != nil {
			if p, planErr = planOf(pr, pid, in.PractitionerID, in.AppointmentTypeID); planErr == nil {
				_, from, to, err := blockedWindow(p, start)
				if err != nil {
					return store.Appointment{}, err
				}
				q.Country, q.BlockedFrom, q.BlockedTo = p.country, from, to
			}
		}
		var err error
		if r, err = s.store.ReadForBooking(ctx, q); err != nil {
			return store.Appointment{}, err
		}
		if r.HasKey {
			a, err := storedAnswer(r.Key, opBook, hash)
			return a.Appointment, err
		}
		if !r.ScheduleFound {
			return store.Appointment{}, byReplica(apperr.NotFoundf("practitioner %q not found", in.PractitionerID), pid, 0)
		}
		if r.Schedule.Snapshot == nil && pr != nil && pr.version == r.Schedule.Version {
			if planErr != nil {
				return store.Appointment{}, planErr
			}
			break
		}
		// A plan not of the replica's version: decode this one and read again
		// with it (the occupied ranges depend on the plan).
		if attempt+1 == maxScheduleReads {
			return store.Appointment{}, fmt.Errorf("booking: practitioner %s schedule keeps changing", pid)
		}
		if pr, err = s.practiceOf(pid, r.Schedule, pr); err != nil {
			return store.Appointment{}, err
		}
		if _, err := planOf(pr, pid, in.PractitionerID, in.AppointmentTypeID); err != nil {
			return store.Appointment{}, err
		}
	}
	if in.RelativeID != "" && !r.IsRelative {
		return store.Appointment{}, apperr.Invalid("relativeId", "is not one of your relatives")
	}
	d, err := decideWith(p, start, now, !r.Seen, mustDates(p, start), r.Blocked)
	if err != nil {
		return store.Appointment{}, err
	}
	a := store.Appointment{
		Country: p.country, ID: uid.New(), PractitionerID: pid, PatientID: canonicalID(me), RelativeID: relative,
		PersonID: person, AppointmentTypeID: canonicalID(p.typ.ID), LocationID: canonicalID(d.locationID),
		Status: store.StatusConfirmed, StartsAt: start, EndsAt: start.Add(p.typ.Duration),
		BlockedFrom: d.blocked.Start.UTC(), BlockedUntil: d.blocked.End.UTC(), IdempotencyKey: key, Note: note,
		Version: 1, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		PatientName: r.PatientName, PatientPhone: r.PatientPhone,
	}
	resp, err := json.Marshal(answer{Appointment: a})
	if err != nil {
		return store.Appointment{}, err
	}
	ev, err := events.New(Source, eventdata.AppointmentBooked, a.ID, Payload(a))
	if err != nil {
		return store.Appointment{}, err
	}
	k := store.NewKey{Subject: me, Key: key, Operation: opBook, RequestHash: hash, Response: resp}
	expired := false
	for {
		ok, err := s.store.BookOnce(ctx, a, k, s.dayLimit(p.country, now), events.BookingEvents, ev)
		if errors.Is(err, store.ErrKeyTaken) {
			// Another request committed this key first (the insert waited
			// for it): its answer, or INVALID_INPUT for another request.
			got, found, err := s.replay(ctx, me, key, opBook, hash)
			if err == nil && !found {
				err = fmt.Errorf("booking: idempotency key %q vanished", key)
			}
			return got.Appointment, err
		}
		if err != nil {
			return store.Appointment{}, conflict(err)
		}
		if ok {
			return a, nil
		}
		why, err := s.store.WhyNoRow(ctx, store.NoRowQuery{Subject: me, Key: key, Country: a.Country,
			PractitionerID: a.PractitionerID, BlockedFrom: a.BlockedFrom, BlockedUntil: a.BlockedUntil, Now: now})
		if err != nil {
			return store.Appointment{}, err
		}
		switch {
		case why.HasKey:
			got, err := storedAnswer(why.Key, opBook, hash)
			return got.Appointment, err
		case why.ExpiredHold && !expired:
			// A hold that is due but not yet swept stands in the way: expire
			// it (and whatever else is due there), then try once more.
			expired = true
			if err := s.store.InTx(ctx, func(tx *store.Tx) error { return s.expireOverlapping(ctx, tx, p, start, now) }); err != nil {
				return store.Appointment{}, err
			}
		default:
			return store.Appointment{}, slotTaken()
		}
	}
}

// mustDates is blockedWindow's days (which bookFast computed without error
// before reading).
func mustDates(p *plan, start time.Time) []string {
	dates, _, _, _ := blockedWindow(p, start)
	return dates
}

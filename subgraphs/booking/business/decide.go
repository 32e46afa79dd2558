package business

import (
	"encoding/json"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/internal/events"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/internal/uid"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// The decisions, pure (no I/O): decideStart decides whether a start is
// bookable — the one decision function of internal/slots, the one
// availability lists with — for a hold, a booking and a move alike;
// decideBooking is the whole decision of a booking. What they are given was
// read before; what they decide is then written, and the constraints settle
// any race in between.

// decision is the outcome of deciding a start.
type decision struct {
	blocked    slots.Interval // what the booking occupies
	locationID string         // where, per the rule that accepted it
}

// blockedWindow is what a decision on start needs to know of the occupied
// ranges: the agenda days its blocked range covers and the span [from, to)
// of those days (empty without days).
func blockedWindow(p *plan, start time.Time) (dates []string, from, to time.Time, err error) {
	br := slots.BlockedRange(start, p.typ)
	dates = slots.DaysCovering(p.zone, br.Start, br.End)
	if len(dates) == 0 {
		return nil, time.Time{}, time.Time{}, nil
	}
	// A day the calendar cannot name (past year 9999) is a start no client means.
	first, err := slots.NewDay(dates[0], p.zone)
	if err != nil {
		return nil, time.Time{}, time.Time{}, apperr.Invalid("startsAt", "%s is not a bookable time", start.Format(time.RFC3339))
	}
	last, err := slots.NewDay(dates[len(dates)-1], p.zone)
	if err != nil {
		return nil, time.Time{}, time.Time{}, apperr.Invalid("startsAt", "%s is not a bookable time", start.Format(time.RFC3339))
	}
	return dates, first.Start, last.End(), nil
}

// blockedRange is what a booking of p's type at start occupies.
func blockedRange(p *plan, start time.Time) slots.Interval { return slots.BlockedRange(start, p.typ) }

// decideStart decides whether start is bookable at now given the ranges
// occupied over the days of blockedWindow. A refusal is an *apperr.Error
// (refusals.go): SLOT_UNAVAILABLE for a taken slot, INVALID_INPUT with the
// reason for anything else, marked as the replica's when the practice's
// snapshot decided it (readthrough.go).
func decideStart(p *plan, start time.Time, now time.Time, newPatient bool, dates []string, ranges [][2]time.Time) (decision, error) {
	return decideStartFor(p, start, slots.Request{Now: now, NewPatient: newPatient, Online: true}, dates, ranges)
}

// decideStartFor is decideStart in the context req: a patient's online
// request, or the desk's (deskRequest), which the online-only rules do not
// bind.
func decideStartFor(p *plan, start time.Time, req slots.Request, dates []string, ranges [][2]time.Time) (decision, error) {
	br := slots.BlockedRange(start, p.typ)
	sched := slots.Schedule{Rules: p.rules, Absences: p.absences}
	for _, r := range ranges {
		sched.Blocked = append(sched.Blocked, slots.Interval{Start: r[0], End: r[1]})
	}
	days := make([]slots.Day, 0, len(dates))
	for _, date := range dates {
		d, err := slots.BuildDay(sched, date, p.zone)
		if err != nil {
			return decision{}, err
		}
		days = append(days, d)
	}
	if r := slots.CheckWithSchedule(sched, days, p.rules, p.typ, start, req); r != "" {
		if snapshotDecides(r) {
			return decision{}, byReplica(refusal(r), p.practitionerID, p.version)
		}
		return decision{}, refusal(r)
	}
	d := decision{blocked: br, locationID: p.fallbackLocation}
	// The slot as availability lists it tells the location it is at.
	if open := slots.Open(days, p.rules, p.typ, req, start, start.Add(time.Nanosecond)); len(open) == 1 && open[0].LocationID != "" {
		d.locationID = open[0].LocationID
	}
	return d, nil
}

// decideBooking is the decision of a booking: given the request, the plan
// of the practice snapshot and what ReadForBooking found at now, it refuses
// (an online booking of an account the practice's no-show policy restricts,
// the relative is not the caller's, the hold not theirs or on another slot,
// the start not bookable: decideStart) or says what to write — the
// appointment as PostgreSQL will return it, so that its event and the
// answer its key remembers say the same, counted against limit, and the end
// of the hold it replaces.
func decideBooking(req bookRequest, p *plan, r store.BookRead, now time.Time, limit store.DayLimit) (store.Booking, error) {
	if r.Restriction != nil && !req.desk {
		return store.Booking{}, restricted(*r.Restriction)
	}
	person, relative := canonicalID(req.patientID()), ""
	if req.in.RelativeID != "" {
		if !r.IsRelative {
			return store.Booking{}, apperr.Invalid("relativeId", "is not one of your relatives")
		}
		relative = canonicalID(req.in.RelativeID)
		person = relative
	}
	var replaced *store.HoldEnd
	if req.in.HoldID != "" {
		var err error
		if replaced, err = replacedHold(req, p, r, now); err != nil {
			return store.Booking{}, err
		}
	}
	if req.offer != nil && replaced == nil {
		// An offer is its hold: once that ended, there is nothing to accept.
		return store.Booking{}, offerUnavailable()
	}
	dates, _, _, err := blockedWindow(p, req.start)
	if err != nil {
		return store.Booking{}, err
	}
	rules := slots.Request{Now: now, NewPatient: !r.Seen, Online: true}
	if req.desk {
		rules = deskRequest(now)
	}
	d, err := decideStartFor(p, req.start, rules, dates, r.Blocked)
	if err != nil {
		return store.Booking{}, err
	}
	a := store.Appointment{
		Country: p.country, ID: uid.New(), PractitionerID: p.practitionerID, PatientID: canonicalID(req.patientID()), RelativeID: relative,
		PersonID: person, AppointmentTypeID: canonicalID(p.typ.ID), LocationID: canonicalID(d.locationID),
		Status: store.StatusConfirmed, StartsAt: req.start, EndsAt: req.start.Add(p.typ.Duration),
		BlockedFrom: d.blocked.Start.UTC(), BlockedUntil: d.blocked.End.UTC(), IdempotencyKey: req.key, Note: req.note,
		Version: 1, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		PatientName: r.PatientName, PatientPhone: r.PatientPhone, DeskPatient: req.deskPatient,
	}
	resp, err := json.Marshal(answer{Appointment: a})
	if err != nil {
		return store.Booking{}, err
	}
	ev, err := newEvent(eventdata.AppointmentBooked, a, nil)
	if err != nil {
		return store.Booking{}, err
	}
	return store.Booking{Appointment: a, Limit: limit, Topic: events.BookingEvents, Event: ev, Replaces: replaced, Offer: req.offer,
		Key:    store.NewKey{Subject: req.me, Key: req.key, Operation: req.operation(), RequestHash: req.hash, Response: resp},
		AtDesk: req.desk, Now: now}, nil
}

// replacedHold checks the hold a booking names against its row as read: the
// caller's (NOT_FOUND otherwise), on this very slot (INVALID_INPUT
// otherwise). A live hold is ended with the booking (HoldReleased, saying
// what the ended row will); one that has ended or expired meanwhile is no
// error: the booking then competes for the slot like any (nil).
func replacedHold(req bookRequest, p *plan, r store.BookRead, now time.Time) (*store.HoldEnd, error) {
	h := r.Hold
	if !r.HasHold || h.PatientID != canonicalID(req.me) || h.HoldExpiresAt == nil {
		return nil, apperr.NotFoundf("hold %q not found", req.in.HoldID)
	}
	if h.PractitionerID != p.practitionerID || h.AppointmentTypeID != p.typ.ID || !h.StartsAt.Equal(req.start) {
		return nil, apperr.Invalid("holdId", "is a hold on another slot")
	}
	if h.Status != store.StatusHeld || !h.HoldExpiresAt.After(now) {
		return nil, nil
	}
	ended := h
	ended.Status, ended.Version = store.StatusExpired, h.Version+1
	ev, err := newEvent(eventdata.HoldReleased, ended, nil)
	if err != nil {
		return nil, err
	}
	return &store.HoldEnd{Hold: h, Now: now, Event: ev}, nil
}

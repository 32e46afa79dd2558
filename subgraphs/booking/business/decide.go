package business

import (
	"context"
	"errors"
	"time"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/slots"
	"github.com/careslot/careslot/subgraphs/booking/store"
)

// plan is what deciding a start for one practitioner and type needs, built
// from the practitioner's schedule replica.
type plan struct {
	practitionerID string
	// version is that of the practice snapshot the plan was built from.
	version  int64
	country  string
	typ      slots.Type
	rules    []slots.Rule
	absences []slots.Interval
	// zone is the agenda's zone: the first location's (the country's when
	// the practitioner has no location yet).
	zone *time.Location
	// fallbackLocation is the location recorded when no rule names one.
	fallbackLocation string
}

// loadPlan reads the practitioner's schedule replica and the appointment
// type: NOT_FOUND when the practitioner is unknown here or the type is not
// one of theirs. The snapshot is decoded once per version (the plan cache):
// the read only carries it when the cached version is not the replica's.
func (s *Service) loadPlan(ctx context.Context, practitionerID, typeID string) (*plan, error) {
	id := canonicalID(practitionerID)
	cached := s.plans.get(id)
	sc, err := s.store.ScheduleIfNewer(ctx, practitionerID, knownVersion(cached))
	if errors.Is(err, store.ErrNotFound) {
		return nil, byReplica(apperr.NotFoundf("practitioner %q not found", practitionerID), id, 0)
	}
	if err != nil {
		return nil, err
	}
	pr, err := s.practiceOf(id, sc, cached)
	if err != nil {
		return nil, err
	}
	return planOf(pr, id, practitionerID, typeID)
}

// planOf is the practice's plan for typeID, or the NOT_FOUND a client sees
// (marked as the replica's: a newer snapshot may know the type).
func planOf(pr *practice, id, practitionerID, typeID string) (*plan, error) {
	if pr.country == "" {
		return nil, byReplica(apperr.NotFoundf("practitioner %q not found", practitionerID), id, pr.version)
	}
	p, ok := pr.plan(id, typeID)
	if !ok {
		return nil, byReplica(apperr.NotFoundf("appointment type %q not found", typeID), id, pr.version)
	}
	return p, nil
}

// decision is the outcome of deciding a start.
type decision struct {
	blocked    slots.Interval // what the booking occupies
	locationID string         // where, per the rule that accepted it
}

// decide asks the one decision function (internal/slots) whether start is
// bookable now, against the practitioner's confirmed appointments and live
// holds as this transaction sees them (excludeID, the appointment being
// moved, does not count). A refusal is an *apperr.Error: SLOT_UNAVAILABLE
// for a taken slot, INVALID_INPUT with the reason for anything else. The
// insert that follows is what finally decides a race: the constraint.
func (s *Service) decide(ctx context.Context, tx *store.Tx, p *plan, start time.Time, now time.Time, newPatient bool, excludeID string) (decision, error) {
	dates, from, to, err := blockedWindow(p, start)
	if err != nil {
		return decision{}, err
	}
	var ranges [][2]time.Time
	if len(dates) > 0 {
		if ranges, err = tx.Blocked(ctx, p.country, p.practitionerID, from, to, now, excludeID); err != nil {
			return decision{}, err
		}
	}
	return decideWith(p, start, now, newPatient, dates, ranges)
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

// decideWith decides start given the ranges occupied over the days of
// blockedWindow (the decision itself: internal/slots).
func decideWith(p *plan, start time.Time, now time.Time, newPatient bool, dates []string, ranges [][2]time.Time) (decision, error) {
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
	req := slots.Request{Now: now, NewPatient: newPatient, Online: true}
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

// refusal maps a decision's reason to the error a client sees.
func refusal(r slots.Reason) error {
	switch r {
	case "":
		return nil
	case slots.ReasonTaken:
		return slotTaken()
	}
	return &apperr.Error{Code: apperr.InvalidInput, Field: "startsAt", Reason: string(r), Message: reasonText(r)}
}

func slotTaken() error {
	return &apperr.Error{Code: apperr.SlotUnavailable, Reason: string(slots.ReasonTaken),
		Message: "this slot is no longer available"}
}

// ReasonPatientOverlap is the reason of SLOT_UNAVAILABLE when the person
// attending already has a confirmed appointment at that time.
const ReasonPatientOverlap = "PATIENT_OVERLAP"

func patientOverlap() error {
	return &apperr.Error{Code: apperr.SlotUnavailable, Reason: ReasonPatientOverlap,
		Message: "you already have an appointment at that time"}
}

// conflict maps the store's overlap errors to SLOT_UNAVAILABLE, and a
// booking past the day's limit to BOOKING_LIMIT_REACHED.
func conflict(err error) error {
	switch {
	case errors.Is(err, store.ErrBookingLimit):
		return apperr.E(apperr.BookingLimitReached,
			"you have booked the most appointments with this practice for today; please call the practice")
	case errors.Is(err, store.ErrPersonOverlap):
		return patientOverlap()
	case errors.Is(err, store.ErrPractitionerOverlap):
		return slotTaken()
	}
	return err
}

func reasonText(r slots.Reason) string {
	switch r {
	case slots.ReasonOutsideOpeningHours:
		return "the practitioner does not receive at that time"
	case slots.ReasonTypeNotAllowed:
		return "this appointment type cannot be booked at that time"
	case slots.ReasonWrongStep:
		return "appointments do not start at that time"
	case slots.ReasonInAbsence:
		return "the practitioner is absent at that time"
	case slots.ReasonTooSoon:
		return "too close to the start: this appointment type needs more notice"
	case slots.ReasonBeyondHorizon:
		return "too far ahead: this appointment type cannot be booked that early"
	case slots.ReasonNotOnline:
		return "this appointment type cannot be booked online"
	case slots.ReasonNewPatient:
		return "this appointment type is not open to new patients"
	case slots.ReasonInPast:
		return "that time has passed"
	case slots.ReasonNotOnTick:
		return "a start must be on a 5-minute mark"
	}
	return "that start cannot be booked (" + string(r) + ")"
}

// blockedRange is what a booking of p's type at start occupies.
func blockedRange(p *plan, start time.Time) slots.Interval { return slots.BlockedRange(start, p.typ) }

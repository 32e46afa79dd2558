// Package slots is the one decision function of design §3: it says whether a
// start time is bookable for an appointment type, and lists the open slots.
// Availability lists with it; booking accepts with it; they cannot disagree.
//
// Time model: a practitioner's local day (in the location's IANA zone) is cut
// into 5-minute ticks by elapsed time since that day's local midnight, so a
// DST day has 276 (spring) or 300 (autumn) ticks. Opening-hour rules are wall
// clock times; candidate starts are wall-clock times on the rule's step,
// converted to instants per day: a non-existent local time is skipped, a
// repeated one is used once (its first occurrence).
//
// A day's Free bitmap has a bit set for each tick that is inside an opening
// rule and not blocked by a confirmed appointment, a live hold or an absence.
// A start S for type T is bookable iff every tick of [S-bufferBefore,
// S+duration+bufferAfter) is free, S lies on the step of a rule (at S's
// location) that allows T, the appointment [S, S+duration) ends within that
// rule's window, S ≥ now+minNotice, S < now+horizon, T is bookable online and,
// for a new patient, T accepts new patients. Buffers are part of the
// blocked range, so they too must lie inside opening hours.
//
// Ticks are conservative: a tick is free only if it lies wholly inside the
// opening hours and overlaps no blocked interval or absence at all.
//
// Check is that predicate; Open lists the candidate starts Check accepts;
// BuildDay computes a day's Free bitmap; BlockedRange is what a booking
// occupies. See docs/adr/0005-slot-model.md.
package slots

import (
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // zones must not depend on the host's zoneinfo
)

// TickMinutes is the resolution of the availability bitmaps.
const TickMinutes = 5

// Tick is one tick's duration.
const Tick = TickMinutes * time.Minute

// Reason says why a start time is refused; stable codes a client can show.
type Reason string

const (
	ReasonOutsideOpeningHours Reason = "OUTSIDE_OPENING_HOURS"
	ReasonTypeNotAllowed      Reason = "TYPE_NOT_ALLOWED_HERE"
	ReasonWrongStep           Reason = "NOT_ON_STEP"
	ReasonInAbsence           Reason = "IN_ABSENCE"
	ReasonTaken               Reason = "SLOT_TAKEN"
	ReasonTooSoon             Reason = "BEFORE_MINIMUM_NOTICE"
	ReasonBeyondHorizon       Reason = "BEYOND_BOOKING_HORIZON"
	ReasonNotOnline           Reason = "NOT_BOOKABLE_ONLINE"
	ReasonNewPatient          Reason = "NEW_PATIENTS_NOT_ALLOWED"
	ReasonInPast              Reason = "IN_THE_PAST"
	ReasonNotOnTick           Reason = "NOT_ON_TICK"
)

// Rule is a weekly opening-hours rule at one location.
type Rule struct {
	LocationID string
	Zone       *time.Location
	Weekday    time.Weekday
	// StartMinute and EndMinute are wall-clock minutes since local midnight
	// (EndMinute may be 1440).
	StartMinute, EndMinute int
	StepMinutes            int
	// TypeIDs are the appointment types bookable in this rule.
	TypeIDs []string
}

// Allows reports whether typeID may be booked in r.
func (r Rule) Allows(typeID string) bool { return slices.Contains(r.TypeIDs, typeID) }

// Validate reports what makes r unusable. An invalid rule opens nothing:
// BuildDay, Check and Open ignore it.
func (r Rule) Validate() error {
	switch {
	case r.Zone == nil:
		return errors.New("slots: rule has no zone")
	case r.Weekday < time.Sunday || r.Weekday > time.Saturday:
		return fmt.Errorf("slots: weekday %d out of range", r.Weekday)
	case r.StartMinute < 0 || r.StartMinute >= 24*60:
		return fmt.Errorf("slots: start minute %d out of range", r.StartMinute)
	case r.EndMinute <= r.StartMinute || r.EndMinute > 24*60:
		return fmt.Errorf("slots: end minute %d must be after start %d and at most 1440", r.EndMinute, r.StartMinute)
	case r.StepMinutes <= 0:
		return fmt.Errorf("slots: step %d must be positive", r.StepMinutes)
	}
	return nil
}

// Type is an appointment type's booking rules.
type Type struct {
	ID                 string
	Duration           time.Duration
	BufferBefore       time.Duration
	BufferAfter        time.Duration
	MinNotice          time.Duration
	HorizonDays        int
	OnlineBookable     bool
	NewPatientsAllowed bool
}

// Validate reports what makes t unusable. A type with a non-positive
// duration is never bookable (Check answers ReasonTypeNotAllowed).
// Negative buffers and notice count as zero.
func (t Type) Validate() error {
	switch {
	case t.Duration <= 0:
		return fmt.Errorf("slots: type %q: duration must be positive", t.ID)
	case t.BufferBefore < 0 || t.BufferAfter < 0:
		return fmt.Errorf("slots: type %q: buffers must not be negative", t.ID)
	case t.MinNotice < 0:
		return fmt.Errorf("slots: type %q: minimum notice must not be negative", t.ID)
	case t.HorizonDays < 0:
		return fmt.Errorf("slots: type %q: horizon must not be negative", t.ID)
	}
	return nil
}

// Interval is a half-open span of time [Start, End).
type Interval struct {
	Start, End time.Time
}

// Overlaps reports whether i and j share an instant (empty intervals overlap
// nothing).
func (i Interval) Overlaps(j Interval) bool {
	return i.Start.Before(i.End) && j.Start.Before(j.End) && i.Start.Before(j.End) && j.Start.Before(i.End)
}

// Schedule is what the decision needs about a practitioner: rules and
// absences (from practitioner events) and blocked intervals (confirmed
// appointments and live holds, each including its buffers).
type Schedule struct {
	Rules    []Rule
	Absences []Interval
	Blocked  []Interval
}

// Slot is a bookable start.
type Slot struct {
	Start, End time.Time
	LocationID string
}

// Request is the context of a decision.
type Request struct {
	Now        time.Time
	NewPatient bool
	// Online is true for patient bookings (false when the practice books
	// for a patient, which may use types not bookable online).
	Online bool
}

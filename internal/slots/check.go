package slots

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BlockedRange is what a booking of t at start occupies:
// [start−BufferBefore, start+Duration+BufferAfter), widened outward to whole
// ticks from start (a no-op for durations and buffers in whole 5 minutes),
// so that the database exclusion constraint over this range and Check's tick
// test agree. Negative buffers count as zero.
func BlockedRange(start time.Time, t Type) Interval {
	before := ceilTick(max(t.BufferBefore, 0))
	after := ceilTick(max(t.Duration, 0) + max(t.BufferAfter, 0))
	return Interval{Start: start.Add(-before), End: start.Add(after)}
}

func ceilTick(d time.Duration) time.Duration { return (d + Tick - 1) / Tick * Tick }

// Check says whether start is bookable for t: "" when it is, else the first
// failing reason, checked in this order:
//
//  1. ReasonNotOnTick: start is not on a 5-minute tick of its day (the day
//     of days containing it; for a start on no day passed, a multiple of
//     5 minutes since the Unix epoch).
//  2. ReasonInPast: start < req.Now.
//  3. ReasonNotOnline: req.Online and t is not bookable online.
//  4. ReasonNewPatient: req.NewPatient and t does not accept new patients.
//  5. ReasonTooSoon: start < req.Now + t.MinNotice.
//  6. ReasonBeyondHorizon: start ≥ req.Now + t.HorizonDays×24h.
//  7. ReasonOutsideOpeningHours: no valid rule's window on start's local
//     date (in the rule's zone) contains [start, start+t.Duration).
//  8. ReasonTypeNotAllowed: none of those rules allows t.ID (or t has no
//     positive duration).
//  9. ReasonWrongStep: start is not a candidate start of any of those: the
//     first instant of the wall time StartMinute + k×StepMinutes
//     (< EndMinute) on that date. A wall time skipped by DST is no
//     candidate; a repeated one is a candidate only at its first instant.
//  10. ReasonTaken: some tick of BlockedRange(start, t) is not free in days
//     (a tick on a day not passed is not free).
//
// days must cover BlockedRange(start, t); rules are the practitioner's.
func Check(days []Day, rules []Rule, t Type, start time.Time, req Request) Reason {
	ev := newEvaluator(days, rules, t, req)
	r, _ := ev.eval(start)
	return r
}

// CheckWithSchedule is Check with a precise reason for a start whose ticks
// are not free: ReasonInAbsence when an absence of s overlaps the blocked
// range, ReasonTaken when a blocked interval does (or days do not cover it),
// else ReasonOutsideOpeningHours (the buffers leave the opening hours). It
// is "" exactly when Check is.
func CheckWithSchedule(s Schedule, days []Day, rules []Rule, t Type, start time.Time, req Request) Reason {
	r := Check(days, rules, t, start, req)
	if r != ReasonTaken {
		return r
	}
	br := BlockedRange(start, t)
	for _, iv := range s.Absences {
		if iv.Overlaps(br) {
			return ReasonInAbsence
		}
	}
	for _, iv := range s.Blocked {
		if iv.Overlaps(br) {
			return ReasonTaken
		}
	}
	for cur := br.Start; cur.Before(br.End); {
		i := slices.IndexFunc(days, func(d Day) bool { _, ok := d.TickAt(cur); return ok })
		if i < 0 {
			return ReasonTaken
		}
		cur = days[i].End()
	}
	return ReasonOutsideOpeningHours
}

// Open lists the bookable starts for t in [from, to): every candidate start
// (on the step of a valid rule allowing t, within its window with room for
// t.Duration) on the local dates touching [from, to), deduplicated, sorted,
// and kept iff Check accepts it. A slot's LocationID is that of the first
// rule (in rules order) under which Check accepts it.
func Open(days []Day, rules []Rule, t Type, req Request, from, to time.Time) []Slot {
	if !from.Before(to) || t.Duration <= 0 {
		return nil
	}
	ev := newEvaluator(days, rules, t, req)
	var cands []time.Time
	for zi := range ev.zones {
		z := &ev.zones[zi]
		first := civilOf(from.In(z.loc)).prev()
		for c := first; ; c = c.next() {
			z.load(c)
			if !z.start.Before(to) && c != first {
				break
			}
			for i, ri := range z.rules {
				if !z.winOK[i] || !ev.allows[ri] {
					continue
				}
				r := &ev.rules[ri]
				w := z.win[i]
				for m := r.StartMinute; m < r.EndMinute; m += r.StepMinutes {
					s, ok := z.instant(m)
					if !ok || s.Before(from) || !s.Before(to) || s.Before(w.Start) || s.Add(t.Duration).After(w.End) {
						continue
					}
					cands = append(cands, s)
				}
			}
		}
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	cands = slices.CompactFunc(cands, time.Time.Equal)
	var out []Slot
	for _, s := range cands {
		if r, ri := ev.eval(s); r == "" {
			if out == nil {
				out = make([]Slot, 0, len(cands))
			}
			out = append(out, Slot{Start: s, End: s.Add(t.Duration), LocationID: ev.rules[ri].LocationID})
		}
	}
	return out
}

// evaluator is Check's predicate with per-zone caches of the current local
// date and its rule windows, so that Open can evaluate many starts without
// recomputing them. Check and Open both decide through eval.
type evaluator struct {
	days    []Day
	rules   []Rule
	allows  []bool // per rule: valid and allows t
	t       Type
	req     Request
	zones   []zoneState
	lastDay int
}

// zoneState caches one rule zone's current local date.
type zoneState struct {
	loc     *time.Location
	all     []Rule
	have    bool
	c       civil
	start   time.Time // first instant of c
	end     time.Time // first instant of the next date
	uniform bool      // c starts at 00:00 and has one UTC offset throughout
	rules   []int     // indices of the valid rules in this zone
	win     []Interval
	winOK   []bool
}

func newEvaluator(days []Day, rules []Rule, t Type, req Request) *evaluator {
	ev := &evaluator{days: days, rules: rules, t: t, req: req, allows: make([]bool, len(rules))}
	for i := range rules {
		r := &rules[i]
		if r.Validate() != nil {
			continue
		}
		ev.allows[i] = t.Duration > 0 && r.Allows(t.ID)
		zi := slices.IndexFunc(ev.zones, func(z zoneState) bool { return z.loc == r.Zone })
		if zi < 0 {
			ev.zones = append(ev.zones, zoneState{loc: r.Zone, all: rules})
			zi = len(ev.zones) - 1
		}
		ev.zones[zi].rules = append(ev.zones[zi].rules, i)
	}
	for zi := range ev.zones {
		z := &ev.zones[zi]
		z.win = make([]Interval, len(z.rules))
		z.winOK = make([]bool, len(z.rules))
	}
	return ev
}

// load makes c the zone's current date.
func (z *zoneState) load(c civil) {
	if z.have && z.c == c {
		return
	}
	z.have, z.c = true, c
	z.start = dayStart(c, z.loc)
	z.end = dayStart(c.next(), z.loc)
	_, ze := z.start.ZoneBounds()
	z.uniform = wallIs(z.start, c, 0) && z.end.Sub(z.start) == 24*time.Hour && (ze.IsZero() || !ze.Before(z.end))
	for i, ri := range z.rules {
		z.win[i], z.winOK[i] = ruleWindow(&z.all[ri], c)
	}
}

// locate makes start's local date current and returns start's wall minute
// and whether start is on a whole minute.
func (z *zoneState) locate(start time.Time) (minute int, exact bool) {
	if z.have && z.uniform && !start.Before(z.start) && start.Before(z.end) {
		d := start.Sub(z.start)
		return int(d / time.Minute), d%time.Minute == 0
	}
	lt := start.In(z.loc)
	z.load(civilOf(lt))
	h, m, s := lt.Clock()
	return h*60 + m, s == 0 && lt.Nanosecond() == 0
}

// instant is the first instant of wall minute m on the current date.
func (z *zoneState) instant(m int) (time.Time, bool) {
	if z.uniform {
		return z.start.Add(time.Duration(m) * time.Minute), true
	}
	return firstInstant(z.c, m, z.loc)
}

// eval is the predicate: the reason start is refused ("" if bookable) and,
// when bookable, the index of the first rule it is bookable under.
func (ev *evaluator) eval(start time.Time) (Reason, int) {
	t, now := &ev.t, ev.req.Now
	if !ev.onTick(start) {
		return ReasonNotOnTick, -1
	}
	if start.Before(now) {
		return ReasonInPast, -1
	}
	if ev.req.Online && !t.OnlineBookable {
		return ReasonNotOnline, -1
	}
	if ev.req.NewPatient && !t.NewPatientsAllowed {
		return ReasonNewPatient, -1
	}
	if start.Before(now.Add(max(t.MinNotice, 0))) {
		return ReasonTooSoon, -1
	}
	if !start.Before(now.Add(time.Duration(t.HorizonDays) * 24 * time.Hour)) {
		return ReasonBeyondHorizon, -1
	}
	end := start.Add(t.Duration)
	inWindow, allowed, best := false, false, -1
	for zi := range ev.zones {
		z := &ev.zones[zi]
		minute, exact := z.locate(start)
		for i, ri := range z.rules {
			if !z.winOK[i] {
				continue
			}
			w := z.win[i]
			if start.Before(w.Start) || end.After(w.End) {
				continue
			}
			inWindow = true
			if !ev.allows[ri] {
				continue
			}
			allowed = true
			if best >= 0 && best < ri {
				continue // an earlier rule already accepts start
			}
			r := &ev.rules[ri]
			if !exact || minute < r.StartMinute || minute >= r.EndMinute || (minute-r.StartMinute)%r.StepMinutes != 0 {
				continue
			}
			if s, ok := z.instant(minute); !ok || !s.Equal(start) {
				continue
			}
			best = ri
		}
	}
	switch {
	case !inWindow:
		return ReasonOutsideOpeningHours, -1
	case !allowed:
		return ReasonTypeNotAllowed, -1
	case best < 0:
		return ReasonWrongStep, -1
	}
	if !ev.free(BlockedRange(start, *t)) {
		return ReasonTaken, -1
	}
	return "", best
}

// dayAt is the index of the day containing at, or -1.
func (ev *evaluator) dayAt(at time.Time) int {
	if ev.lastDay < len(ev.days) {
		if _, ok := ev.days[ev.lastDay].TickAt(at); ok {
			return ev.lastDay
		}
	}
	for i := range ev.days {
		if _, ok := ev.days[i].TickAt(at); ok {
			ev.lastDay = i
			return i
		}
	}
	return -1
}

func (ev *evaluator) onTick(start time.Time) bool {
	if i := ev.dayAt(start); i >= 0 {
		return start.Sub(ev.days[i].Start)%Tick == 0
	}
	r := start.UnixNano() % int64(Tick)
	return r == 0
}

// free reports whether every tick overlapping iv is free in ev.days.
func (ev *evaluator) free(iv Interval) bool {
	for cur := iv.Start; cur.Before(iv.End); {
		i := ev.dayAt(cur)
		if i < 0 {
			return false
		}
		d := &ev.days[i]
		from, to := d.TickSpan(Interval{cur, iv.End})
		if !d.Free.AllSet(from, to) {
			return false
		}
		cur = d.End()
	}
	return true
}

// ParseWallClock parses "HH:MM" (or "H:MM"), 00:00 to 24:00, into minutes
// since local midnight.
func ParseWallClock(s string) (int, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, fmt.Errorf("slots: wall clock %q: want HH:MM", s)
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || hs[0] == '+' || hs[0] == '-' || ms[0] == '+' || ms[0] == '-' ||
		h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("slots: wall clock %q: want HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

// ISOWeekday converts an ISO 8601 weekday (1 = Monday … 7 = Sunday) to a
// time.Weekday; anything else gives -1, which no date has (a rule with it
// is invalid).
func ISOWeekday(n int) time.Weekday {
	if n < 1 || n > 7 {
		return -1
	}
	return time.Weekday(n % 7)
}

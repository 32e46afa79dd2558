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
// rule (in rules order) under which Check accepts it; its times are in the
// zone of days[0] (UTC without days).
func Open(days []Day, rules []Rule, t Type, req Request, from, to time.Time) []Slot {
	ev := newEvaluator(days, rules, t, req)
	// Check refuses every start outside [now, horizon): narrowing the
	// enumeration to it changes nothing but the work done.
	if from.Before(req.Now) {
		from = req.Now
	}
	if ev.horizon.Before(to) {
		to = ev.horizon
	}
	if !from.Before(to) || t.Duration <= 0 {
		return nil
	}
	fromNs, toNs, dur := from.UnixNano(), to.UnixNano(), int64(t.Duration)
	weeks := int(to.Sub(from)/(7*24*time.Hour)) + 2
	n := 0
	for i := range rules {
		if ev.allows[i] {
			n += weeks * ((rules[i].EndMinute-rules[i].StartMinute)/rules[i].StepMinutes + 1)
		}
	}
	cands := make([]int64, 0, min(n, 1<<16))
	for zi := range ev.zones {
		z := &ev.zones[zi]
		first := civilOf(from.In(z.loc)).prev()
		for c := first; ; c = c.next() {
			z.load(c)
			if z.startNs >= toNs && c != first {
				break
			}
			for i, ri := range z.rules {
				if !z.winOK[i] || !ev.allows[ri] {
					continue
				}
				r := &ev.rules[ri]
				for m := r.StartMinute; m < r.EndMinute; m += r.StepMinutes {
					s, ok := z.instant(m)
					if ok && s >= fromNs && s < toNs && s >= z.winS[i] && s+dur <= z.winE[i] {
						cands = append(cands, s)
					}
				}
			}
		}
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	loc := time.UTC
	if len(days) > 0 && days[0].Zone != nil {
		loc = days[0].Zone
	}
	var out []Slot
	for _, ns := range cands {
		s := time.Unix(0, ns).In(loc)
		if r, ri := ev.eval(s); r == "" {
			if out == nil {
				out = make([]Slot, 0, len(cands))
			}
			out = append(out, Slot{Start: s, End: s.Add(t.Duration), LocationID: ev.rules[ri].LocationID})
		}
	}
	return out
}

// maxHorizonDays bounds HorizonDays so that the horizon stays a valid time.
const maxHorizonDays = 100 * 366

const (
	tickNs   = int64(Tick)
	minuteNs = int64(time.Minute)
)

// evaluator is Check's predicate with per-zone caches of the current local
// date and its rule windows, so that Open can evaluate many starts without
// recomputing them. Check and Open both decide through eval.
//
// Once a start has passed the InPast and horizon tests (done on time.Time),
// it is a sane instant and the rest works on Unix nanoseconds.
type evaluator struct {
	days      []Day
	dayS      []int64 // days[i].Start
	dayE      []int64 // days[i].End()
	lastDay   int
	rules     []Rule
	allows    []bool // per rule: valid and allows t
	t         Type
	req       Request
	notBefore time.Time // now + minimum notice
	horizon   time.Time // now + horizon
	before    int64     // BlockedRange(s, t) = [s-before, s+after)
	after     int64
	zones     []zoneState
}

// zoneState caches one rule zone's current local date.
type zoneState struct {
	loc     *time.Location
	all     []Rule
	have    bool
	c       civil
	startNs int64 // first instant of c
	endNs   int64 // first instant of the next date
	uniform bool  // c starts at 00:00 and has one UTC offset throughout
	rules   []int // indices of the valid rules in this zone
	winS    []int64
	winE    []int64
	winOK   []bool
}

func newEvaluator(days []Day, rules []Rule, t Type, req Request) *evaluator {
	ev := &evaluator{
		days: days, rules: rules, t: t, req: req,
		allows:    make([]bool, len(rules)),
		dayS:      make([]int64, len(days)),
		dayE:      make([]int64, len(days)),
		notBefore: req.Now.Add(max(t.MinNotice, 0)),
		horizon:   req.Now.Add(time.Duration(min(t.HorizonDays, maxHorizonDays)) * 24 * time.Hour),
	}
	br := BlockedRange(time.Unix(0, 0), t)
	ev.before, ev.after = -br.Start.UnixNano(), br.End.UnixNano()
	for i := range days {
		ev.dayS[i], ev.dayE[i] = days[i].Start.UnixNano(), days[i].End().UnixNano()
	}
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
		z.winS = make([]int64, len(z.rules))
		z.winE = make([]int64, len(z.rules))
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
	start := dayStart(c, z.loc)
	end := dayStart(c.next(), z.loc)
	_, ze := start.ZoneBounds()
	z.startNs, z.endNs = start.UnixNano(), end.UnixNano()
	z.uniform = wallIs(start, c, 0) && end.Sub(start) == 24*time.Hour && (ze.IsZero() || !ze.Before(end))
	wd := c.weekday()
	for i, ri := range z.rules {
		r := &z.all[ri]
		z.winOK[i] = false
		if r.Weekday != wd {
			continue
		}
		if w, ok := ruleWindow(r, c); ok {
			z.winS[i], z.winE[i], z.winOK[i] = w.Start.UnixNano(), w.End.UnixNano(), true
		}
	}
}

// locate makes start's local date current and returns start's wall minute
// and whether start is on a whole minute.
func (z *zoneState) locate(start time.Time, ns int64) (minute int, exact bool) {
	if z.have && z.uniform && ns >= z.startNs && ns < z.endNs {
		d := ns - z.startNs
		return int(d / minuteNs), d%minuteNs == 0
	}
	lt := start.In(z.loc)
	z.load(civilOf(lt))
	h, m, s := lt.Clock()
	return h*60 + m, s == 0 && lt.Nanosecond() == 0
}

// instant is the first instant (Unix ns) of wall minute m on the current
// date; false when m does not exist that day.
func (z *zoneState) instant(m int) (int64, bool) {
	if z.uniform {
		return z.startNs + int64(m)*minuteNs, true
	}
	t, ok := firstInstant(z.c, m, z.loc)
	return t.UnixNano(), ok
}

// eval is the predicate: the reason start is refused ("" if bookable) and,
// when bookable, the index of the first rule it is bookable under.
func (ev *evaluator) eval(start time.Time) (Reason, int) {
	t := &ev.t
	ns := start.UnixNano()
	if !ev.onTick(ns) {
		return ReasonNotOnTick, -1
	}
	if start.Before(ev.req.Now) {
		return ReasonInPast, -1
	}
	if ev.req.Online && !t.OnlineBookable {
		return ReasonNotOnline, -1
	}
	if ev.req.NewPatient && !t.NewPatientsAllowed {
		return ReasonNewPatient, -1
	}
	if start.Before(ev.notBefore) {
		return ReasonTooSoon, -1
	}
	if !start.Before(ev.horizon) {
		return ReasonBeyondHorizon, -1
	}
	end := ns + int64(t.Duration)
	inWindow, allowed, best := false, false, -1
	for zi := range ev.zones {
		z := &ev.zones[zi]
		minute, exact := z.locate(start, ns)
		for i, ri := range z.rules {
			if !z.winOK[i] || ns < z.winS[i] || end > z.winE[i] {
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
			if s, ok := z.instant(minute); !ok || s != ns {
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
	if !ev.free(ns-ev.before, ns+ev.after) {
		return ReasonTaken, -1
	}
	return "", best
}

// dayAt is the index of the day containing ns, or -1.
func (ev *evaluator) dayAt(ns int64) int {
	if i := ev.lastDay; i < len(ev.days) && ns >= ev.dayS[i] && ns < ev.dayE[i] {
		return i
	}
	for i := range ev.days {
		if ns >= ev.dayS[i] && ns < ev.dayE[i] {
			ev.lastDay = i
			return i
		}
	}
	return -1
}

// onTick: on a tick of the day containing ns, or, on no day passed, on a
// multiple of 5 minutes since the Unix epoch.
func (ev *evaluator) onTick(ns int64) bool {
	if i := ev.dayAt(ns); i >= 0 {
		return (ns-ev.dayS[i])%tickNs == 0
	}
	return ns%tickNs == 0
}

// free reports whether every tick overlapping [from, to) is free in days.
func (ev *evaluator) free(from, to int64) bool {
	for cur := from; cur < to; {
		i := ev.dayAt(cur)
		if i < 0 {
			return false
		}
		d := &ev.days[i]
		ft, tt := int((cur-ev.dayS[i])/tickNs), d.Ticks
		if to < ev.dayE[i] {
			tt = int((to - ev.dayS[i] + tickNs - 1) / tickNs)
		}
		if !d.Free.AllSet(ft, tt) {
			return false
		}
		cur = ev.dayE[i]
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

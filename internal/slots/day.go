package slots

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Day is one local day of a practitioner's agenda and its free ticks.
type Day struct {
	Date string         // YYYY-MM-DD, local to Zone
	Zone *time.Location // the agenda's zone
	// Start is the day's first instant: local midnight, or, where midnight
	// does not exist (a DST gap at 00:00), the first instant of the date.
	Start time.Time
	// Ticks is (next day's Start − Start) / 5 min: 288, or 276/300 on DST
	// days.
	Ticks int
	Free  Bitmap
}

// NewDay returns the day date (YYYY-MM-DD) in zone with an all-clear Free.
func NewDay(date string, zone *time.Location) (Day, error) {
	if zone == nil {
		return Day{}, errors.New("slots: nil zone")
	}
	c, err := parseCivil(date)
	if err != nil {
		return Day{}, err
	}
	start := dayStart(c, zone)
	ticks := int(dayStart(c.next(), zone).Sub(start) / Tick)
	return Day{Date: c.String(), Zone: zone, Start: start, Ticks: ticks, Free: NewBitmap(ticks)}, nil
}

// End is the first instant after the day (the next day's Start).
func (d Day) End() time.Time { return d.Start.Add(time.Duration(d.Ticks) * Tick) }

// TickAt returns the tick containing t and whether t lies within the day.
func (d Day) TickAt(t time.Time) (int, bool) {
	if t.Before(d.Start) || !t.Before(d.End()) {
		return 0, false
	}
	return int(t.Sub(d.Start) / Tick), true
}

// TimeOf returns the instant tick starts at, in the day's zone.
func (d Day) TimeOf(tick int) time.Time {
	t := d.Start.Add(time.Duration(tick) * Tick)
	if d.Zone != nil {
		t = t.In(d.Zone)
	}
	return t
}

// TickSpan returns the ticks [from, to) of d that overlap iv at all (a
// partially covered tick counts), clamped to the day; from == to when none.
func (d Day) TickSpan(iv Interval) (from, to int) {
	s, e := iv.Start.Sub(d.Start), iv.End.Sub(d.Start)
	if s >= e || e <= 0 || s >= time.Duration(d.Ticks)*Tick {
		return 0, 0
	}
	from = int(max(s, 0) / Tick)
	to = min(int((e+Tick-1)/Tick), d.Ticks)
	return from, to
}

// Block clears the ticks of d that overlap iv (a booking's BlockedRange, a
// hold, an absence).
func (d *Day) Block(iv Interval) {
	if from, to := d.TickSpan(iv); from < to {
		d.Free.SetRange(from, to, false)
	}
}

// DaysCovering returns the local dates (YYYY-MM-DD) in zone that [from, to)
// touches, in order; none for an empty range.
func DaysCovering(zone *time.Location, from, to time.Time) []string {
	if zone == nil || !from.Before(to) {
		return nil
	}
	var out []string
	c := civilOf(from.In(zone))
	for {
		out = append(out, c.String())
		c = c.next()
		if !dayStart(c, zone).Before(to) {
			return out
		}
	}
}

// BuildDay computes the day date in zone from s: a tick is free when it lies
// entirely inside the union of the opening windows of s.Rules (each rule
// expanded by wall clock in its own zone on every local date that can reach
// this day) and overlaps no absence and no blocked interval, even partly.
//
// A window is [time.Date(date, StartMinute), time.Date(date, EndMinute)) in
// the rule's zone. A boundary that falls in a DST gap or a repeated hour is
// the instant time.Date picks, which depends on the zone (see the ADR).
func BuildDay(s Schedule, date string, zone *time.Location) (Day, error) {
	d, err := NewDay(date, zone)
	if err != nil {
		return Day{}, err
	}
	dayIv := Interval{d.Start, d.End()}
	var wins []Interval
	for i := range s.Rules {
		r := &s.Rules[i]
		if r.Validate() != nil {
			continue
		}
		first := civilOf(dayIv.Start.In(r.Zone)).prev()
		last := civilOf(dayIv.End.Add(-time.Nanosecond).In(r.Zone)).next()
		for c := first; !last.before(c); c = c.next() {
			if c.weekday() != r.Weekday {
				continue
			}
			if w, ok := ruleWindow(r, c); ok && w.Overlaps(dayIv) {
				wins = append(wins, w)
			}
		}
	}
	slices.SortFunc(wins, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	for i := 0; i < len(wins); {
		u := wins[i]
		j := i + 1
		for ; j < len(wins) && !wins[j].Start.After(u.End); j++ {
			if wins[j].End.After(u.End) {
				u.End = wins[j].End
			}
		}
		i = j
		// Only ticks entirely inside the window are open.
		ws, we := u.Start.Sub(d.Start), u.End.Sub(d.Start)
		from := int((max(ws, 0) + Tick - 1) / Tick)
		to := min(int(max(we, 0)/Tick), d.Ticks)
		if from < to {
			d.Free.SetRange(from, to, true)
		}
	}
	for _, iv := range s.Absences {
		d.Block(iv)
	}
	for _, iv := range s.Blocked {
		d.Block(iv)
	}
	return d, nil
}

// BuildDays builds every day in zone that [from, to) touches.
func BuildDays(s Schedule, zone *time.Location, from, to time.Time) ([]Day, error) {
	dates := DaysCovering(zone, from, to)
	days := make([]Day, 0, len(dates))
	for _, date := range dates {
		d, err := BuildDay(s, date, zone)
		if err != nil {
			return nil, err
		}
		days = append(days, d)
	}
	return days, nil
}

// ruleWindow is r's opening window on local date c, if r opens that weekday.
func ruleWindow(r *Rule, c civil) (Interval, bool) {
	if c.weekday() != r.Weekday {
		return Interval{}, false
	}
	s := time.Date(c.y, c.m, c.d, 0, r.StartMinute, 0, 0, r.Zone)
	e := time.Date(c.y, c.m, c.d, 0, r.EndMinute, 0, 0, r.Zone)
	if !s.Before(e) {
		return Interval{}, false
	}
	return Interval{s, e}, true
}

// civil is a calendar date.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

func parseCivil(s string) (civil, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return civil{}, fmt.Errorf("slots: date %q: want YYYY-MM-DD", s)
	}
	return civilOf(t), nil
}

func (c civil) noon() time.Time { return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC) }
func (c civil) next() civil     { return civilOf(time.Date(c.y, c.m, c.d+1, 12, 0, 0, 0, time.UTC)) }
func (c civil) prev() civil     { return civilOf(time.Date(c.y, c.m, c.d-1, 12, 0, 0, 0, time.UTC)) }
func (c civil) String() string  { return c.noon().Format(time.DateOnly) }

func (c civil) weekday() time.Weekday { return c.noon().Weekday() }

func (c civil) before(o civil) bool {
	if c.y != o.y {
		return c.y < o.y
	}
	if c.m != o.m {
		return c.m < o.m
	}
	return c.d < o.d
}

// wallIs reports whether t's wall clock in its location is minute of c.
func wallIs(t time.Time, c civil, minute int) bool {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return y == c.y && m == c.m && d == c.d && h*60+mi == minute && s == 0 && t.Nanosecond() == 0
}

// firstInstant is the first instant whose wall clock in loc reads minute
// (0 ≤ minute < 1440) of date c; false when that wall time does not exist.
func firstInstant(c civil, minute int, loc *time.Location) (time.Time, bool) {
	t := time.Date(c.y, c.m, c.d, 0, minute, 0, 0, loc)
	if !wallIs(t, c, minute) {
		return time.Time{}, false // in a gap
	}
	// time.Date may have picked the later of two occurrences: look for the
	// same wall time in the preceding offset period(s).
	for range 2 {
		zs, _ := t.ZoneBounds()
		if zs.IsZero() {
			break
		}
		_, off := t.Zone()
		_, prev := zs.Add(-time.Nanosecond).Zone()
		if prev <= off {
			break
		}
		e := t.Add(-time.Duration(prev-off) * time.Second)
		if !e.Before(zs) || !wallIs(e, c, minute) {
			break
		}
		t = e
	}
	return t, true
}

// dayStart is the first instant of date c in loc.
func dayStart(c civil, loc *time.Location) time.Time {
	if t, ok := firstInstant(c, 0, loc); ok {
		return t
	}
	// Midnight is in a gap: the day starts at the transition skipping it.
	t := time.Date(c.y, c.m, c.d, 0, 0, 0, 0, loc)
	zs, ze := t.ZoneBounds()
	if civilOf(t) == c {
		return zs // time.Date moved forward past the gap
	}
	return ze // time.Date moved back before the gap
}

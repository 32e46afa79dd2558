package slots

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func seq(from, to, step int, skip func(m int) bool, zoneOf func(m int) string) []string {
	var out []string
	for m := from; m < to; m += step {
		if skip != nil && skip(m) {
			continue
		}
		out = append(out, time.Date(2000, 1, 1, 0, m, 0, 0, time.UTC).Format("15:04 ")+zoneOf(m))
	}
	return out
}

func TestOpenDST(t *testing.T) {
	night := func(loc *time.Location, wd time.Weekday) []Rule {
		return []Rule{
			{LocationID: "l", Zone: loc, Weekday: wd, StartMinute: hm(8, 0), EndMinute: hm(12, 0), StepMinutes: 15, TypeIDs: []string{"consult"}},
			{LocationID: "l", Zone: loc, Weekday: wd, StartMinute: hm(1, 0), EndMinute: hm(4, 0), StepMinutes: 15, TypeIDs: []string{"consult"}},
		}
	}
	in2 := func(m int) bool { return m >= hm(2, 0) && m < hm(3, 0) }
	before := func(std, dst string, fwd bool, change int) func(int) string {
		return func(m int) string {
			if (m < change) == fwd {
				return std
			}
			return dst
		}
	}
	for _, tc := range []struct {
		name          string
		loc           *time.Location
		date          string
		want          []string
		notCandidates []time.Time // instants inside a window, free, yet not candidates
	}{
		{
			name: "Paris spring", loc: paris, date: "2026-03-29",
			want: append(seq(hm(1, 0), hm(4, 0), 15, in2, before("CET", "CEST", true, hm(2, 0))),
				seq(hm(8, 0), hm(12, 0), 15, nil, func(int) string { return "CEST" })...),
		},
		{
			name: "Paris autumn", loc: paris, date: "2026-10-25",
			// 02:xx appears once, at its first (CEST) instant.
			want: append(seq(hm(1, 0), hm(4, 0), 15, nil, before("CET", "CEST", false, hm(3, 0))),
				seq(hm(8, 0), hm(12, 0), 15, nil, func(int) string { return "CET" })...),
			notCandidates: []time.Time{atOff("2026-10-25", 2, 0, 1), atOff("2026-10-25", 2, 15, 1), atOff("2026-10-25", 2, 45, 1)},
		},
		{
			name: "New York spring", loc: newYork, date: "2026-03-08",
			want: append(seq(hm(1, 0), hm(4, 0), 15, in2, before("EST", "EDT", true, hm(2, 0))),
				seq(hm(8, 0), hm(12, 0), 15, nil, func(int) string { return "EDT" })...),
		},
		{
			name: "New York autumn", loc: newYork, date: "2026-11-01",
			// 01:xx appears once, at its first (EDT) instant.
			want: append(seq(hm(1, 0), hm(4, 0), 15, nil, before("EST", "EDT", false, hm(2, 0))),
				seq(hm(8, 0), hm(12, 0), 15, nil, func(int) string { return "EST" })...),
			notCandidates: []time.Time{atOff("2026-11-01", 1, 0, -5), atOff("2026-11-01", 1, 30, -5), atOff("2026-11-01", 1, 45, -5)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := night(tc.loc, time.Sunday)
			s := Schedule{Rules: rules}
			days := mustDays(t, s, tc.loc, at(t, tc.loc, tc.date, 0, 0), at(t, tc.loc, tc.date, 23, 0))
			d := days[0]
			req := Request{Now: d.Start.Add(-48 * time.Hour)}
			slots := Open(days, rules, consult, req, d.Start, d.End())
			if got := walls(slots, tc.loc); !slices.Equal(got, tc.want) {
				t.Fatalf("slots\n got %v\nwant %v", got, tc.want)
			}
			for i, sl := range slots {
				if i > 0 && !sl.Start.After(slots[i-1].Start) {
					t.Errorf("slot %d not after previous", i)
				}
				if sl.End.Sub(sl.Start) != 15*time.Minute || sl.LocationID != "l" {
					t.Errorf("slot %v", sl)
				}
				if r := Check(days, rules, consult, sl.Start, req); r != "" {
					t.Errorf("listed %s refused: %s", wall(sl.Start, tc.loc), r)
				}
			}
			for _, nc := range tc.notCandidates {
				if k, _ := d.TickAt(nc); !d.Free.Get(k) {
					t.Errorf("%s should be free", wall(nc, tc.loc))
				}
				if r := Check(days, rules, consult, nc, req); r != ReasonWrongStep {
					t.Errorf("repeated %s: %q, want %q", wall(nc, tc.loc), r, ReasonWrongStep)
				}
			}
		})
	}
}

// A rule 09:00–12:00 stays 09:00–12:00 local on both sides of a transition.
func TestWallClockStableAcrossTransitions(t *testing.T) {
	for _, tc := range []struct {
		loc   *time.Location
		dates []string
	}{
		{paris, []string{"2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"}},
		{newYork, []string{"2026-03-07", "2026-03-08", "2026-03-09", "2026-10-31", "2026-11-01", "2026-11-02"}},
	} {
		rules := everyDay(tc.loc, hm(9, 0), hm(12, 0), 30, "consult")
		for _, date := range tc.dates {
			days := mustDays(t, Schedule{Rules: rules}, tc.loc, at(t, tc.loc, date, 0, 0), at(t, tc.loc, date, 23, 0))
			d := days[0]
			slots := Open(days, rules, consult, Request{Now: d.Start.Add(-time.Hour)}, d.Start, d.End())
			got := walls(slots, tc.loc)
			if len(got) != 6 || !strings.HasPrefix(got[0], "09:00") || !strings.HasPrefix(got[5], "11:30") {
				t.Errorf("%s %s: %v", tc.loc, date, got)
			}
			if k, _ := d.TickAt(at(t, tc.loc, date, 9, 0)); d.Free.Count() != 36 || !d.Free.AllSet(k, k+36) {
				t.Errorf("%s %s: free ticks %d", tc.loc, date, d.Free.Count())
			}
		}
	}
}

func TestReasons(t *testing.T) {
	const date = "2026-05-04" // a Monday
	mon := func(h, m int) time.Time { return at(t, paris, date, h, m) }
	rules := []Rule{
		{LocationID: "cab", Zone: paris, Weekday: time.Monday, StartMinute: hm(9, 0), EndMinute: hm(12, 0), StepMinutes: 15, TypeIDs: []string{"consult", "long"}},
		{LocationID: "tele", Zone: paris, Weekday: time.Monday, StartMinute: hm(14, 0), EndMinute: hm(16, 0), StepMinutes: 20, TypeIDs: []string{"video"}},
	}
	long := Type{ID: "long", Duration: 20 * time.Minute, BufferBefore: 5 * time.Minute, BufferAfter: 10 * time.Minute,
		MinNotice: 2 * time.Hour, HorizonDays: 7, OnlineBookable: true, NewPatientsAllowed: false}
	practiceOnly := consult
	practiceOnly.OnlineBookable = false
	s := Schedule{
		Rules:    rules,
		Absences: []Interval{{mon(11, 0), mon(11, 12)}},
		Blocked:  []Interval{BlockedRange(mon(10, 0), long)}, // [09:55, 10:30)
	}
	days := mustDays(t, s, paris, mon(0, 0), mon(23, 0))
	now := mon(7, 0)
	online := Request{Now: now, Online: true}
	for _, tc := range []struct {
		name  string
		typ   Type
		start time.Time
		req   Request
		want  Reason
	}{
		{"ok", consult, mon(9, 0), online, ""},
		{"ok, new patient", consult, mon(9, 15), Request{Now: now, Online: true, NewPatient: true}, ""},
		{"ok with buffers", long, mon(9, 15), online, ""},
		{"not on tick", consult, mon(9, 2), online, ReasonNotOnTick},
		{"not on tick, seconds", consult, mon(9, 0).Add(time.Second), online, ReasonNotOnTick},
		{"in the past", consult, mon(6, 0), online, ReasonInPast},
		{"not online", practiceOnly, mon(9, 0), online, ReasonNotOnline},
		{"practice may book it", practiceOnly, mon(9, 0), Request{Now: now}, ""},
		{"new patient", long, mon(9, 15), Request{Now: now, Online: true, NewPatient: true}, ReasonNewPatient},
		{"too soon", long, mon(9, 15), Request{Now: mon(7, 30), Online: true}, ReasonTooSoon},
		{"minimum notice reached exactly", long, mon(9, 15), Request{Now: mon(7, 15), Online: true}, ""},
		{"beyond horizon", long, mon(9, 15), Request{Now: mon(9, 15).Add(-7 * 24 * time.Hour), Online: true}, ReasonBeyondHorizon},
		{"just inside horizon", long, mon(9, 15), Request{Now: mon(9, 15).Add(-7*24*time.Hour + time.Minute), Online: true}, ""},
		{"outside opening hours", consult, mon(13, 0), online, ReasonOutsideOpeningHours},
		{"runs past closing", consult, mon(11, 50), online, ReasonOutsideOpeningHours},
		{"type not allowed here", consult, mon(14, 0), online, ReasonTypeNotAllowed},
		{"wrong step", consult, mon(9, 5), online, ReasonWrongStep},
		{"taken", consult, mon(10, 15), online, ReasonTaken},
		{"taken by buffer after", long, mon(10, 30), online, ReasonTaken},    // [10:25, 11:00) meets [09:55, 10:30)
		{"taken by buffer before", long, mon(9, 30), online, ReasonTaken},    // [09:25, 10:00) meets 09:55
		{"buffer meets absence", long, mon(10, 45), online, ReasonInAbsence}, // [10:40, 11:15) meets [11:00, 11:12)
		{"in absence", consult, mon(11, 0), online, ReasonInAbsence},
		{"after unaligned absence", consult, mon(11, 15), online, ""},
		{"buffer before outside hours", long, mon(9, 0), Request{Now: mon(6, 0), Online: true}, ReasonOutsideOpeningHours},
		{"buffer after outside hours", long, mon(11, 45), online, ReasonOutsideOpeningHours},
		{"last start with buffers", long, mon(11, 30), online, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckWithSchedule(s, days, rules, tc.typ, tc.start, tc.req)
			if got != tc.want {
				t.Errorf("CheckWithSchedule = %q, want %q", got, tc.want)
			}
			plain := Check(days, rules, tc.typ, tc.start, tc.req)
			if (plain == "") != (got == "") {
				t.Errorf("Check = %q, CheckWithSchedule = %q", plain, got)
			}
			switch tc.want {
			case ReasonInAbsence, ReasonTaken:
				if plain != ReasonTaken {
					t.Errorf("Check = %q, want %q", plain, ReasonTaken)
				}
			default:
				if plain != tc.want && !(tc.want == ReasonOutsideOpeningHours && plain == ReasonTaken) {
					t.Errorf("Check = %q", plain)
				}
			}
		})
	}
	// Days not passed count as not free.
	if r := CheckWithSchedule(s, nil, rules, consult, mon(9, 0), online); r != ReasonTaken {
		t.Errorf("no days: %q", r)
	}
	// Invalid rules and types open nothing.
	bad := []Rule{{Zone: nil, Weekday: time.Monday, StartMinute: 0, EndMinute: 1440, StepMinutes: 5, TypeIDs: []string{"consult"}}}
	if r := Check(days, bad, consult, mon(9, 0), online); r != ReasonOutsideOpeningHours {
		t.Errorf("nil-zone rule: %q", r)
	}
	if r := Check(days, rules, Type{ID: "consult", HorizonDays: 9, OnlineBookable: true}, mon(9, 0), online); r != ReasonTypeNotAllowed {
		t.Errorf("zero duration: %q", r)
	}
	// Open lists exactly what the table says is bookable.
	got := walls(Open(days, rules, long, online, mon(0, 0), mon(23, 0)), paris)
	if want := []string{"09:15 CEST", "11:30 CEST"}; !slices.Equal(got, want) {
		t.Errorf("Open(long) = %v, want %v", got, want)
	}
	if got := Open(days, rules, Type{ID: "video", Duration: 20 * time.Minute, HorizonDays: 1, OnlineBookable: true}, online, mon(0, 0), mon(23, 0)); len(got) != 6 || got[0].LocationID != "tele" {
		t.Errorf("Open(video) = %v", got)
	}
}

func TestBlockedRange(t *testing.T) {
	s := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		typ        Type
		start, end time.Duration
	}{
		{Type{Duration: 20 * time.Minute}, 0, 20 * time.Minute},
		{Type{Duration: 20 * time.Minute, BufferBefore: 5 * time.Minute, BufferAfter: 10 * time.Minute}, -5 * time.Minute, 30 * time.Minute},
		{Type{Duration: 7 * time.Minute, BufferBefore: 2 * time.Minute}, -5 * time.Minute, 10 * time.Minute},
		{Type{Duration: 15 * time.Minute, BufferBefore: -5 * time.Minute}, 0, 15 * time.Minute},
	} {
		got := BlockedRange(s, tc.typ)
		if got.Start.Sub(s) != tc.start || got.End.Sub(s) != tc.end {
			t.Errorf("%+v: [%v, %v)", tc.typ, got.Start.Sub(s), got.End.Sub(s))
		}
	}
}

func TestParseWallClockAndWeekday(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "09:30": 570, "9:05": 545, "23:59": 1439, "24:00": 1440} {
		if got, err := ParseWallClock(in); err != nil || got != want {
			t.Errorf("ParseWallClock(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "9", "24:01", "25:00", "12:60", "12:5", "-1:00", "+1:00", "1:-5", "ab:cd", "123:00", "12:00:00"} {
		if _, err := ParseWallClock(in); err == nil {
			t.Errorf("ParseWallClock(%q) accepted", in)
		}
	}
	want := []time.Weekday{-1, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday, -1}
	for n, w := range want {
		if got := ISOWeekday(n); got != w {
			t.Errorf("ISOWeekday(%d) = %v", n, got)
		}
	}
}

func TestRuleAndTypeValidate(t *testing.T) {
	ok := Rule{Zone: paris, Weekday: time.Monday, StartMinute: 0, EndMinute: 1440, StepMinutes: 5}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
	for _, mut := range []func(*Rule){
		func(r *Rule) { r.Zone = nil }, func(r *Rule) { r.Weekday = 7 }, func(r *Rule) { r.Weekday = -1 },
		func(r *Rule) { r.StartMinute = -5 }, func(r *Rule) { r.EndMinute = 0 }, func(r *Rule) { r.EndMinute = 1445 },
		func(r *Rule) { r.StepMinutes = 0 },
	} {
		r := ok
		mut(&r)
		if r.Validate() == nil {
			t.Errorf("%+v valid", r)
		}
	}
	if consult.Validate() != nil || (Type{}).Validate() == nil || (Type{Duration: time.Minute, BufferAfter: -1}).Validate() == nil {
		t.Error("Type.Validate")
	}
}

// Window boundaries off the tick grid or inside a DST gap.
func TestWindowEdges(t *testing.T) {
	// 08:03–12:00: the 08:00 tick is only partly open, so a buffer reaching
	// into it leaves the opening hours.
	rules := []Rule{{LocationID: "l", Zone: paris, Weekday: time.Monday, StartMinute: hm(8, 3), EndMinute: hm(12, 0), StepMinutes: 7, TypeIDs: []string{"consult"}}}
	s := Schedule{Rules: rules}
	mon := func(h, m int) time.Time { return at(t, paris, "2026-05-04", h, m) }
	days := mustDays(t, s, paris, mon(0, 0), mon(23, 0))
	req := Request{Now: mon(0, 0)}
	buffered := consult
	buffered.BufferBefore = 6 * time.Minute // rounds up to 10
	if r := CheckWithSchedule(s, days, rules, buffered, mon(8, 10), req); r != ReasonOutsideOpeningHours {
		t.Errorf("08:10 with buffer: %q", r)
	}
	if r := Check(days, rules, buffered, mon(8, 17), req); r != ReasonNotOnTick {
		t.Errorf("08:17: %q", r)
	}
	if r := Check(days, rules, consult, mon(8, 10), req); r != "" {
		t.Errorf("08:10 without buffer: %q", r)
	}
	if r := Check(days, rules, buffered, mon(8, 45), req); r != "" {
		t.Errorf("08:45 with buffer: %q", r)
	}

	// A window ending in the gap: time.Date maps 02:30 to 03:30 CEST in
	// Paris, but wall times from 02:30 on are no candidates of the rule.
	night := []Rule{{LocationID: "l", Zone: paris, Weekday: time.Sunday, StartMinute: hm(1, 0), EndMinute: hm(2, 30), StepMinutes: 30, TypeIDs: []string{"consult"}}}
	sun := func(h, m int) time.Time { return at(t, paris, "2026-03-29", h, m) }
	ndays := mustDays(t, Schedule{Rules: night}, paris, sun(0, 0), sun(23, 0))
	req = Request{Now: sun(0, 0)}
	if got := walls(Open(ndays, night, consult, req, sun(0, 0), sun(23, 0)), paris); !slices.Equal(got, []string{"01:00 CET", "01:30 CET"}) {
		t.Errorf("Paris gap-end window: %v", got)
	}
	if r := Check(ndays, night, consult, sun(3, 0), req); r != ReasonWrongStep {
		t.Errorf("03:00 CEST: %q", r)
	}
	// In New York time.Date maps 02:30 back to 01:30 EST: the window shrinks.
	nyNight := []Rule{{LocationID: "l", Zone: newYork, Weekday: time.Sunday, StartMinute: hm(1, 0), EndMinute: hm(2, 30), StepMinutes: 15, TypeIDs: []string{"consult"}}}
	nySun := func(h, m int) time.Time { return at(t, newYork, "2026-03-08", h, m) }
	nyDays := mustDays(t, Schedule{Rules: nyNight}, newYork, nySun(0, 0), nySun(23, 0))
	if got := walls(Open(nyDays, nyNight, consult, Request{Now: nySun(0, 0)}, nySun(0, 0), nySun(23, 0)), newYork); !slices.Equal(got, []string{"01:00 EST", "01:15 EST"}) {
		t.Errorf("New York gap-end window: %v", got)
	}
}

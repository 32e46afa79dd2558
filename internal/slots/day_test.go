package slots

import (
	"slices"
	"testing"
	"time"
)

func TestNewDayTicks(t *testing.T) {
	for _, tc := range []struct {
		zone  *time.Location
		date  string
		ticks int
		start string // RFC 3339
	}{
		{paris, "2026-03-28", 288, "2026-03-28T00:00:00+01:00"},
		{paris, "2026-03-29", 276, "2026-03-29T00:00:00+01:00"},
		{paris, "2026-03-30", 288, "2026-03-30T00:00:00+02:00"},
		{paris, "2026-10-25", 300, "2026-10-25T00:00:00+02:00"},
		{newYork, "2026-03-08", 276, "2026-03-08T00:00:00-05:00"},
		{newYork, "2026-11-01", 300, "2026-11-01T00:00:00-04:00"},
		{time.UTC, "2026-02-28", 288, "2026-02-28T00:00:00Z"},
		{lordHowe, "2026-10-04", 282, "2026-10-04T00:00:00+10:30"}, // 30-minute DST
		// Chile springs forward at midnight: the date starts at 01:00.
		{santiago, "2026-09-06", 276, "2026-09-06T01:00:00-03:00"},
		// ... and falls back at midnight: Saturday has 25 hours.
		{santiago, "2026-04-04", 300, "2026-04-04T00:00:00-03:00"},
		{santiago, "2026-04-05", 288, "2026-04-05T00:00:00-04:00"},
	} {
		d, err := NewDay(tc.date, tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		if d.Ticks != tc.ticks || d.Start.Format(time.RFC3339) != tc.start || len(d.Free) != (tc.ticks+7)/8 || d.Date != tc.date {
			t.Errorf("%s %s: start %s ticks %d, want %s %d", tc.zone, tc.date, d.Start.Format(time.RFC3339), d.Ticks, tc.start, tc.ticks)
		}
		for _, k := range []int{0, 1, d.Ticks - 1} {
			if got, ok := d.TickAt(d.TimeOf(k)); !ok || got != k {
				t.Errorf("%s: TickAt(TimeOf(%d)) = %d %v", tc.date, k, got, ok)
			}
		}
		if _, ok := d.TickAt(d.End()); ok {
			t.Errorf("%s: End inside the day", tc.date)
		}
		if _, ok := d.TickAt(d.Start.Add(-time.Nanosecond)); ok {
			t.Errorf("%s: before Start inside the day", tc.date)
		}
		if k, _ := d.TickAt(d.Start.Add(7 * time.Minute)); k != 1 {
			t.Errorf("%s: TickAt(+7m) = %d", tc.date, k)
		}
	}
	if _, err := NewDay("2026-02-30", paris); err == nil {
		t.Error("2026-02-30 accepted")
	}
	if _, err := NewDay("2026-03-29", nil); err == nil {
		t.Error("nil zone accepted")
	}
}

func TestDaysCovering(t *testing.T) {
	for _, tc := range []struct {
		from, to time.Time
		want     []string
	}{
		{at(t, paris, "2026-03-28", 23, 0), at(t, paris, "2026-03-30", 0, 0), []string{"2026-03-28", "2026-03-29"}},
		{at(t, paris, "2026-03-28", 23, 0), at(t, paris, "2026-03-30", 0, 5), []string{"2026-03-28", "2026-03-29", "2026-03-30"}},
		{at(t, paris, "2026-10-25", 0, 0), at(t, paris, "2026-10-25", 0, 0), nil},
		{atOff("2026-10-25", 23, 30, 1), atOff("2026-10-26", 0, 30, 1), []string{"2026-10-25", "2026-10-26"}},
	} {
		if got := DaysCovering(paris, tc.from, tc.to); !slices.Equal(got, tc.want) {
			t.Errorf("DaysCovering(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestBlockUnalignedIsConservative(t *testing.T) {
	d, _ := NewDay("2026-05-04", paris)
	d.Free.SetRange(0, d.Ticks, true)
	d.Block(Interval{at(t, paris, "2026-05-04", 9, 3), at(t, paris, "2026-05-04", 9, 11)})
	for k := hm(8, 55) / 5; k < hm(9, 25)/5; k++ {
		want := k < hm(9, 0)/5 || k >= hm(9, 15)/5
		if d.Free.Get(k) != want {
			t.Errorf("tick %s free = %v, want %v", wall(d.TimeOf(k), paris), !want, want)
		}
	}
	if d.Free.Count() != 288-3 {
		t.Errorf("count %d", d.Free.Count())
	}
}

func TestBuildDayDST(t *testing.T) {
	rules := []Rule{
		{LocationID: "l", Zone: paris, Weekday: time.Sunday, StartMinute: hm(8, 0), EndMinute: hm(12, 0), StepMinutes: 15},
		{LocationID: "l", Zone: paris, Weekday: time.Sunday, StartMinute: hm(1, 0), EndMinute: hm(4, 0), StepMinutes: 15},
	}
	for _, tc := range []struct {
		date              string
		night, nightTicks int // first tick and tick count of 01:00–04:00
		morning           int // first tick of 08:00
	}{
		{"2026-03-29", 12, 24, 12 * 7}, // 01:00 CET → 04:00 CEST is 2 h
		{"2026-10-25", 12, 48, 12 * 9}, // 01:00 CEST → 04:00 CET is 4 h
		{"2026-05-03", 12, 36, 12 * 8}, // an ordinary Sunday
	} {
		d, err := BuildDay(Schedule{Rules: rules}, tc.date, paris)
		if err != nil {
			t.Fatal(err)
		}
		for k := range d.Ticks {
			want := (k >= tc.night && k < tc.night+tc.nightTicks) || (k >= tc.morning && k < tc.morning+48)
			if d.Free.Get(k) != want {
				t.Fatalf("%s tick %d (%s) free = %v", tc.date, k, wall(d.TimeOf(k), paris), !want)
			}
		}
		if got := wall(d.TimeOf(tc.morning), paris); got[:5] != "08:00" {
			t.Errorf("%s: morning starts %s", tc.date, got)
		}
	}
}

func TestBuildDayAbsenceAcrossMidnight(t *testing.T) {
	s := Schedule{
		Rules: []Rule{
			{Zone: paris, Weekday: time.Saturday, StartMinute: hm(20, 0), EndMinute: 1440, StepMinutes: 30, TypeIDs: []string{"consult"}},
			{Zone: paris, Weekday: time.Sunday, StartMinute: 0, EndMinute: hm(12, 0), StepMinutes: 30, TypeIDs: []string{"consult"}},
		},
		Absences: []Interval{{at(t, paris, "2026-05-02", 22, 0), at(t, paris, "2026-05-03", 9, 2)}},
	}
	sat, _ := BuildDay(s, "2026-05-02", paris)
	sun, _ := BuildDay(s, "2026-05-03", paris)
	if sat.Free.Count() != 24 || !sat.Free.AllSet(hm(20, 0)/5, hm(22, 0)/5) {
		t.Errorf("saturday free %d", sat.Free.Count())
	}
	if sun.Free.Count() != 12*3-1 || !sun.Free.AllSet(hm(9, 5)/5, hm(12, 0)/5) || sun.Free.Get(hm(9, 0)/5) {
		t.Errorf("sunday free %d", sun.Free.Count())
	}
	days := []Day{sat, sun}
	req := Request{Now: at(t, paris, "2026-05-01", 0, 0), Online: true}
	slots := Open(days, s.Rules, consult, req, sat.Start, sun.End())
	if got := walls(slots, paris); !slices.Equal(got, []string{"20:00 CEST", "20:30 CEST", "21:00 CEST", "21:30 CEST",
		"09:30 CEST", "10:00 CEST", "10:30 CEST", "11:00 CEST", "11:30 CEST"}) {
		t.Errorf("slots %v", got)
	}
	for _, hhmm := range [][2]int{{23, 30}} {
		if r := CheckWithSchedule(s, days, s.Rules, consult, at(t, paris, "2026-05-02", hhmm[0], hhmm[1]), req); r != ReasonInAbsence {
			t.Errorf("23:30 sat: %q", r)
		}
	}
	if r := CheckWithSchedule(s, days, s.Rules, consult, at(t, paris, "2026-05-03", 9, 0), req); r != ReasonInAbsence {
		t.Errorf("09:00 sun: %q", r)
	}
	// A rule window of a different zone is expanded on its own dates.
	s2 := Schedule{Rules: []Rule{{Zone: newYork, Weekday: time.Saturday, StartMinute: hm(20, 0), EndMinute: 1440, StepMinutes: 60}}}
	sun2, _ := BuildDay(s2, "2026-05-03", paris) // 20:00–24:00 EDT is 02:00–06:00 CEST
	if sun2.Free.Count() != 48 || !sun2.Free.AllSet(hm(2, 0)/5, hm(6, 0)/5) {
		t.Errorf("cross-zone free %d", sun2.Free.Count())
	}
}

package slots

import (
	"testing"
	"time"
)

var (
	paris    = mustLoc("Europe/Paris")
	newYork  = mustLoc("America/New_York")
	santiago = mustLoc("America/Santiago")
	lordHowe = mustLoc("Australia/Lord_Howe")
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func hm(h, m int) int { return h*60 + m }

// at is the instant of a local wall time; it fails the test if the wall time
// does not exist or is ambiguous-and-not-first (use atOff for those).
func at(tb testing.TB, loc *time.Location, date string, h, m int) time.Time {
	tb.Helper()
	c, err := parseCivil(date)
	if err != nil {
		tb.Fatal(err)
	}
	t, ok := firstInstant(c, hm(h, m), loc)
	if !ok {
		tb.Fatalf("%s %02d:%02d does not exist in %s", date, h, m, loc)
	}
	return t
}

// atOff is the instant of a wall time with an explicit UTC offset (hours).
func atOff(date string, h, m int, offHours float64) time.Time {
	c, _ := parseCivil(date)
	off := time.Duration(offHours * float64(time.Hour))
	return time.Date(c.y, c.m, c.d, h, m, 0, 0, time.UTC).Add(-off)
}

func mustDays(tb testing.TB, s Schedule, zone *time.Location, from, to time.Time) []Day {
	tb.Helper()
	days, err := BuildDays(s, zone, from, to)
	if err != nil {
		tb.Fatal(err)
	}
	return days
}

func wall(t time.Time, loc *time.Location) string { return t.In(loc).Format("15:04 MST") }

func walls(slots []Slot, loc *time.Location) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = wall(s.Start, loc)
	}
	return out
}

// consult is an ordinary 15-minute, online, new-patient type.
var consult = Type{ID: "consult", Duration: 15 * time.Minute, HorizonDays: 60, OnlineBookable: true, NewPatientsAllowed: true}

func everyDay(loc *time.Location, start, end, step int, types ...string) []Rule {
	var rs []Rule
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		rs = append(rs, Rule{LocationID: "loc-1", Zone: loc, Weekday: wd, StartMinute: start, EndMinute: end, StepMinutes: step, TypeIDs: types})
	}
	return rs
}

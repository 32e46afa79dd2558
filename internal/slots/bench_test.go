package slots

import (
	"math/rand"
	"testing"
	"time"
)

// busyPractitioner: Monday–Saturday 08:00–12:00 and 14:00–19:00 (Saturday
// morning only), 15-minute step, 20-minute consultations booked at a quarter
// of the starts (which leaves about 40% of the starts open), and four weeks
// of days across the spring DST change.
func busyPractitioner(tb testing.TB) (days []Day, rules []Rule, typ Type, req Request, from, to time.Time) {
	typ = Type{ID: "consult", Duration: 20 * time.Minute, HorizonDays: 60, OnlineBookable: true, NewPatientsAllowed: true, MinNotice: time.Hour}
	for wd := time.Monday; wd <= time.Saturday; wd++ {
		rules = append(rules, Rule{LocationID: "cab", Zone: paris, Weekday: wd, StartMinute: hm(8, 0), EndMinute: hm(12, 0), StepMinutes: 15, TypeIDs: []string{"consult", "long"}})
		if wd != time.Saturday {
			rules = append(rules, Rule{LocationID: "cab", Zone: paris, Weekday: wd, StartMinute: hm(14, 0), EndMinute: hm(19, 0), StepMinutes: 15, TypeIDs: []string{"consult"}})
		}
	}
	from = at(tb, paris, "2026-03-16", 0, 0)
	to = at(tb, paris, "2026-04-13", 0, 0)
	s := Schedule{Rules: rules}
	rng := rand.New(rand.NewSource(1))
	for st := from; st.Before(to); st = st.Add(15 * time.Minute) {
		if rng.Intn(4) == 0 {
			s.Blocked = append(s.Blocked, BlockedRange(st, typ))
		}
	}
	days = mustDays(tb, s, paris, from, to)
	return days, rules, typ, Request{Now: from.Add(-time.Hour), Online: true}, from, to
}

func BenchmarkOpenFourWeeks(b *testing.B) {
	days, rules, typ, req, from, to := busyPractitioner(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(Open(days, rules, typ, req, from, to))
	}
	b.ReportMetric(float64(n), "slots")
}

func BenchmarkCheck(b *testing.B) {
	days, rules, typ, req, _, _ := busyPractitioner(b)
	start := at(b, paris, "2026-03-30", 10, 15)
	b.ReportAllocs()
	for b.Loop() {
		Check(days, rules, typ, start, req)
	}
}

func BenchmarkBuildDay(b *testing.B) {
	_, rules, _, _, _, _ := busyPractitioner(b)
	s := Schedule{Rules: rules}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildDay(s, "2026-03-29", paris); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpenFourWeeksIsFast(t *testing.T) {
	days, rules, typ, req, from, to := busyPractitioner(t)
	slots := Open(days, rules, typ, req, from, to)
	if len(slots) < 100 || len(slots) > 1200 {
		t.Fatalf("%d slots", len(slots))
	}
	if allocs := testing.AllocsPerRun(20, func() { Open(days, rules, typ, req, from, to) }); allocs > 20 {
		t.Errorf("%v allocations per Open", allocs)
	}
}

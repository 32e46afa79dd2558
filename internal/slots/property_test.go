package slots

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"
)

// TestOpenAgreesWithCheck: over a few hundred random schedules (random
// zones, many around DST changes; random rules, types, bookings, absences,
// now), every listed slot is accepted by Check, every other 5-minute start
// is refused with a reason, and both match a naive reference model.
func TestOpenAgreesWithCheck(t *testing.T) {
	zones := []*time.Location{paris, newYork, santiago, lordHowe, time.UTC, mustLoc("Asia/Kathmandu")}
	dstDates := []string{"2026-03-29", "2026-10-25", "2026-03-08", "2026-11-01", "2026-04-04", "2026-09-06", "2026-10-04", "2026-04-05", "2026-06-17"}
	listed, refused := 0, 0
	reasons := map[Reason]int{}
	for seed := range int64(300) {
		rng := rand.New(rand.NewSource(seed))
		zone := zones[rng.Intn(len(zones))]
		base, _ := parseCivil(dstDates[rng.Intn(len(dstDates))])
		c := base
		for range rng.Intn(3) {
			c = c.prev()
		}
		from := dayStart(c, zone)
		to := dayStart(c.next().next().next(), zone)

		s, typ, req := randomCase(rng, zone, from, to)
		days := mustDays(t, s, zone, from.Add(-24*time.Hour), to.Add(48*time.Hour))
		ref := newReference(s, days)

		slots := Open(days, s.Rules, typ, req, from, to)
		byStart := map[int64]Slot{}
		for i, sl := range slots {
			if i > 0 && !sl.Start.After(slots[i-1].Start) {
				t.Fatalf("seed %d: slots not strictly increasing at %d", seed, i)
			}
			if sl.End != sl.Start.Add(typ.Duration) || sl.Start.Before(from) || !sl.Start.Before(to) {
				t.Fatalf("seed %d: bad slot %+v", seed, sl)
			}
			byStart[sl.Start.UnixNano()] = sl
		}
		for _, d := range days {
			for k := range d.Ticks {
				st := d.TimeOf(k)
				if st.Before(from) || !st.Before(to) {
					continue
				}
				r := Check(days, s.Rules, typ, st, req)
				rs := CheckWithSchedule(s, days, s.Rules, typ, st, req)
				want, loc := ref.bookable(typ, req, st)
				_, isListed := byStart[st.UnixNano()]
				ctx := func() string {
					return fmt.Sprintf("seed %d %s %s (%s): listed=%v Check=%q CheckWithSchedule=%q reference=%v\nrules=%+v\ntype=%+v", seed, zone, st.In(zone).Format(time.RFC3339), st.UTC().Format(time.RFC3339), isListed, r, rs, want, s.Rules, typ)
				}
				if isListed != (r == "") || (r == "") != (rs == "") {
					t.Fatal(ctx())
				}
				if isListed != want {
					t.Fatal(ctx())
				}
				if isListed && byStart[st.UnixNano()].LocationID != loc {
					t.Fatalf("%s: location %q, reference %q", ctx(), byStart[st.UnixNano()].LocationID, loc)
				}
				if isListed {
					listed++
				} else {
					refused++
					reasons[rs]++
				}
			}
		}
	}
	t.Logf("%d listed, %d refused: %v", listed, refused, reasons)
	if listed < 1000 {
		t.Errorf("only %d slots listed: the generator is too strict", listed)
	}
	for _, r := range []Reason{ReasonOutsideOpeningHours, ReasonTypeNotAllowed, ReasonWrongStep, ReasonInAbsence, ReasonTaken,
		ReasonTooSoon, ReasonBeyondHorizon, ReasonNotOnline, ReasonNewPatient, ReasonInPast} {
		if reasons[r] == 0 {
			t.Errorf("no start refused with %s", r)
		}
	}
}

func randomCase(rng *rand.Rand, zone *time.Location, from, to time.Time) (Schedule, Type, Request) {
	var s Schedule
	typeIDs := []string{"a", "b"}
	for i := range 1 + rng.Intn(8) {
		rz := zone
		if rng.Intn(10) == 0 {
			rz = []*time.Location{paris, newYork, time.UTC}[rng.Intn(3)]
		}
		start := 5 * rng.Intn(24*12)
		offGrid := rng.Intn(3) == 0
		if offGrid {
			start = rng.Intn(24 * 60) // off the tick grid
		}
		if rng.Intn(5) == 0 {
			start = []int{hm(1, 0), hm(2, 0), hm(2, 30), hm(0, 0), hm(23, 0)}[rng.Intn(5)] // around DST changes
		}
		end := min(start+5*(1+rng.Intn(60)), 1440)
		if offGrid && rng.Intn(2) == 0 {
			end = min(start+1+rng.Intn(300), 1440)
		}
		if rng.Intn(6) == 0 {
			end = 1440
		}
		ids := []string{typeIDs[rng.Intn(2)]}
		if rng.Intn(2) == 0 {
			ids = typeIDs
		}
		s.Rules = append(s.Rules, Rule{
			LocationID: fmt.Sprintf("loc-%d", i%3), Zone: rz, Weekday: time.Weekday(rng.Intn(7)),
			StartMinute: start, EndMinute: end, StepMinutes: 5 + rng.Intn(26), TypeIDs: ids,
		})
	}
	// Many days see every weekday: give the range's own weekdays a fair chance.
	for c := civilOf(from.In(zone)); dayStart(c, zone).Before(to); c = c.next() {
		if rng.Intn(2) == 0 {
			s.Rules = append(s.Rules, Rule{LocationID: "loc-main", Zone: zone, Weekday: c.weekday(),
				StartMinute: 5 * rng.Intn(12*12), EndMinute: 5 * (12*12 + rng.Intn(12*12+1)), StepMinutes: 5 + rng.Intn(26), TypeIDs: typeIDs})
		}
	}
	span := to.Sub(from)
	randInterval := func(maxLen time.Duration) Interval {
		st := from.Add(-3 * time.Hour).Add(time.Duration(rng.Int63n(int64(span + 6*time.Hour))))
		if rng.Intn(2) == 0 {
			st = st.Truncate(Tick)
		}
		return Interval{st, st.Add(time.Duration(rng.Int63n(int64(maxLen))))}
	}
	for range rng.Intn(15) {
		s.Blocked = append(s.Blocked, randInterval(2*time.Hour))
	}
	for range rng.Intn(3) {
		s.Absences = append(s.Absences, randInterval(20*time.Hour))
	}
	minutes := func(maxN int) time.Duration { return time.Duration(rng.Intn(maxN+1)) * time.Minute }
	typ := Type{
		ID:                 []string{"a", "b", "c"}[rng.Intn(3)],
		Duration:           5 * time.Duration(1+rng.Intn(18)) * time.Minute,
		HorizonDays:        1 + rng.Intn(7),
		OnlineBookable:     rng.Intn(6) > 0,
		NewPatientsAllowed: rng.Intn(4) > 0,
	}
	if rng.Intn(4) == 0 {
		typ.Duration = minutes(60) + time.Minute // not a whole number of ticks
	}
	if rng.Intn(2) == 0 {
		typ.BufferBefore, typ.BufferAfter = minutes(15), minutes(15)
	}
	if rng.Intn(2) == 0 {
		typ.MinNotice = minutes(24 * 60)
	}
	req := Request{
		Now:        from.Add(-time.Duration(rng.Int63n(int64(36 * time.Hour)))),
		NewPatient: rng.Intn(5) == 0,
		Online:     rng.Intn(5) > 0,
	}
	if rng.Intn(4) == 0 {
		req.Now = from.Add(time.Duration(rng.Int63n(int64(span))))
	}
	return s, typ, req
}

// reference is a deliberately naive model of the package doc, minute by
// minute, sharing no code with the package beyond time.Date.
type reference struct {
	s       Schedule
	first   time.Time
	minutes []bool // minute i after first: open and not blocked
}

func newReference(s Schedule, days []Day) *reference {
	first, last := days[0].Start, days[len(days)-1].End()
	ref := &reference{s: s, first: first, minutes: make([]bool, int(last.Sub(first)/time.Minute))}
	var wins []Interval
	for _, r := range s.Rules {
		if r.Validate() != nil {
			continue
		}
		for d := first.Add(-48 * time.Hour); d.Before(last.Add(48 * time.Hour)); d = d.Add(12 * time.Hour) {
			y, m, dd := d.In(r.Zone).Date()
			if time.Date(y, m, dd, 12, 0, 0, 0, time.UTC).Weekday() != r.Weekday {
				continue
			}
			w := Interval{time.Date(y, m, dd, 0, r.StartMinute, 0, 0, r.Zone), time.Date(y, m, dd, 0, r.EndMinute, 0, 0, r.Zone)}
			if !slices.Contains(wins, w) {
				wins = append(wins, w)
			}
		}
	}
	for i := range ref.minutes {
		a := first.Add(time.Duration(i) * time.Minute)
		b := a.Add(time.Minute)
		open := false
		for _, w := range wins {
			if !a.Before(w.Start) && !b.After(w.End) {
				open = true
			}
		}
		for _, iv := range append(slices.Clone(s.Absences), s.Blocked...) {
			if a.Before(iv.End) && iv.Start.Before(b) && iv.Start.Before(iv.End) {
				open = false
			}
		}
		ref.minutes[i] = open
	}
	return ref
}

// tickFree: every minute of the 5-minute tick starting at a is open.
func (ref *reference) tickFree(a time.Time) bool {
	i := int(a.Sub(ref.first) / time.Minute)
	if a.Before(ref.first) || i+5 > len(ref.minutes) {
		return false
	}
	for j := i; j < i+5; j++ {
		if !ref.minutes[j] {
			return false
		}
	}
	return true
}

func (ref *reference) bookable(t Type, req Request, st time.Time) (bool, string) {
	if st.Before(req.Now) || (req.Online && !t.OnlineBookable) || (req.NewPatient && !t.NewPatientsAllowed) ||
		st.Before(req.Now.Add(t.MinNotice)) || !st.Before(req.Now.Add(time.Duration(t.HorizonDays)*24*time.Hour)) {
		return false, ""
	}
	end := st.Add(t.Duration)
	loc := ""
	for _, r := range ref.s.Rules {
		if r.Validate() != nil || !slices.Contains(r.TypeIDs, t.ID) {
			continue
		}
		lt := st.In(r.Zone)
		y, m, d := lt.Date()
		if lt.Weekday() != r.Weekday {
			continue
		}
		ws, we := time.Date(y, m, d, 0, r.StartMinute, 0, 0, r.Zone), time.Date(y, m, d, 0, r.EndMinute, 0, 0, r.Zone)
		if st.Before(ws) || end.After(we) {
			continue
		}
		mm := lt.Hour()*60 + lt.Minute()
		if mm < r.StartMinute || mm >= r.EndMinute || (mm-r.StartMinute)%r.StepMinutes != 0 {
			continue
		}
		// the first instant with this wall time: nothing earlier reads the same
		first := true
		for back := time.Minute; back <= 3*time.Hour; back += time.Minute {
			e := st.Add(-back).In(r.Zone)
			if ey, em, ed := e.Date(); ey == y && em == m && ed == d && e.Hour()*60+e.Minute() == mm {
				first = false
			}
		}
		if first {
			loc = r.LocationID
			break
		}
	}
	if loc == "" {
		return false, ""
	}
	// ticks from st - ceil(before) to st + ceil(duration+after)
	before := (t.BufferBefore + Tick - 1) / Tick * Tick
	after := (t.Duration + t.BufferAfter + Tick - 1) / Tick * Tick
	for a := st.Add(-before); a.Before(st.Add(after)); a = a.Add(Tick) {
		if !ref.tickFree(a) {
			return false, ""
		}
	}
	return true, loc
}

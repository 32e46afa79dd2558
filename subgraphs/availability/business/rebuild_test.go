package business

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/slots"
)

var testZones = func() []*time.Location {
	var out []*time.Location
	for _, name := range []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		z, ok := slots.LoadZone(name)
		if !ok {
			panic(name)
		}
		out = append(out, z)
	}
	return out
}()

// randomAgenda is a practice with a few weekly rules (some in another zone,
// some invalid), two appointment types, absences and occupied ranges around
// now; hours from one of a few shapes, so that practices share them.
func randomAgenda(rng *rand.Rand, now time.Time) (*Agenda, map[string]occupied) {
	zone := testZones[rng.IntN(len(testZones))]
	ag := &Agenda{Zone: zone}
	shape := rng.IntN(3)
	for wd := range 7 {
		if rng.IntN(4) == 0 {
			continue
		}
		rz := zone
		if shape == 2 && wd%2 == 0 {
			rz = testZones[(wd/2)%len(testZones)]
		}
		start := []int{8*60 + 30, 9 * 60, 23 * 60}[shape]
		ag.Rules = append(ag.Rules,
			slots.Rule{LocationID: "l", Zone: rz, Weekday: time.Weekday(wd), StartMinute: start, EndMinute: min(start+5*60, 1440), StepMinutes: 15, TypeIDs: []string{"a", "b"}},
			slots.Rule{LocationID: "l", Zone: rz, Weekday: time.Weekday(wd), StartMinute: 14 * 60, EndMinute: 18*60 + 30, StepMinutes: 20, TypeIDs: []string{"b"}})
	}
	if rng.IntN(5) == 0 {
		ag.Rules = append(ag.Rules, slots.Rule{LocationID: "l", Zone: zone, Weekday: 1, StartMinute: 600, EndMinute: 500, StepMinutes: 15})
	}
	ag.Types = []slots.Type{
		{ID: "a", Duration: 15 * time.Minute, MinNotice: time.Duration(rng.IntN(3)) * time.Hour, HorizonDays: 30 + rng.IntN(60), OnlineBookable: true, NewPatientsAllowed: true},
		{ID: "b", Duration: 20 * time.Minute, BufferAfter: 5 * time.Minute, HorizonDays: 45, OnlineBookable: true, NewPatientsAllowed: rng.IntN(2) == 0},
	}
	for range rng.IntN(3) {
		s := now.Add(time.Duration(rng.IntN(20*24)) * time.Hour)
		ag.Absences = append(ag.Absences, slots.Interval{Start: s, End: s.Add(time.Duration(1+rng.IntN(5*24)) * time.Hour)})
	}
	busy := map[string]occupied{}
	for i := range rng.IntN(200) {
		s := now.Truncate(time.Hour).Add(time.Duration(rng.IntN(40*24*12)) * 5 * time.Minute)
		busy[fmt.Sprint(i)] = occupied{Version: 1, Range: slots.Interval{Start: s, End: s.Add(time.Duration(1+rng.IntN(48)) * 5 * time.Minute)}}
	}
	return ag, busy
}

// TestOpeningCacheBuildsWhatBuildDayBuilds: a rebuild's days, built through
// the opening-hours cache that practices share, equal slots.BuildDay's.
func TestOpeningCacheBuildsWhatBuildDayBuilds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	// Around the spring and autumn changes of both hemispheres.
	base := []time.Time{
		time.Date(2027, 3, 20, 7, 0, 0, 0, time.UTC), time.Date(2027, 10, 20, 22, 0, 0, 0, time.UTC),
		time.Date(2027, 3, 30, 15, 0, 0, 0, time.UTC),
	}
	open := &openingCache{days: map[string]map[string]slots.Day{}}
	for i := range 300 {
		now := base[i%len(base)].Add(time.Duration(rng.IntN(72)) * time.Hour)
		ag, busy := randomAgenda(rng, now)
		cached := newModel(ag, busy, nil, now)
		cached.open = open
		direct := newModel(ag, busy, nil, now)
		today := dateOf(now, ag.Zone)
		for _, date := range dateRange(today.add(-1), today.add(30)) {
			got, err := cached.build(date)
			if err != nil {
				t.Fatal(err)
			}
			want, err := direct.build(date)
			if err != nil {
				t.Fatal(err)
			}
			if got.Date != want.Date || got.Zone != want.Zone || !got.Start.Equal(want.Start) || got.Ticks != want.Ticks ||
				!slices.Equal(got.Free, want.Free) {
				t.Fatalf("case %d, %s in %s: cached %+v, BuildDay %+v", i, date, ag.Zone, got, want)
			}
		}
	}
	if len(open.days) == 0 || len(open.days) >= 300 {
		t.Errorf("%d opening-hours keys for 300 practices: none shared", len(open.days))
	}
}

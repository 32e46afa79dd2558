package business

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/slots"
)

// TestNextSlotIsTheSoonestOverTheHorizon: the chunked search finds what one
// slots.Open over the whole horizon finds first, and until when it holds.
func TestNextSlotIsTheSoonestOverTheHorizon(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	for i := range 300 {
		now := time.Date(2027, 3, 22, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(14*24*12)) * 5 * time.Minute)
		ag, busy := randomAgenda(rng, now)
		if rng.IntN(3) == 0 { // fully booked for a while
			for d := range 10 + rng.IntN(20) {
				s := now.Add(time.Duration(d) * 24 * time.Hour)
				busy[fmt.Sprint("full", d)] = occupied{Version: 1, Range: slots.Interval{Start: s, End: s.Add(24 * time.Hour)}}
			}
		}
		m := newModel(ag, busy, nil, now)
		got, gotUntil, err := nextSlot(ag, now, m.day)
		if err != nil {
			t.Fatal(err)
		}

		// The reference: every day of the longest horizon at once.
		limit := 0
		for _, ty := range ag.Types {
			if ty.NewPatientsAllowed {
				limit = max(limit, ty.HorizonDays+1)
			}
		}
		var want *time.Time
		var wantUntil time.Time
		if limit > 0 && len(ag.Rules) > 0 {
			today := dateOf(now, ag.Zone)
			var days []slots.Day
			for _, date := range dateRange(today.add(-1), today.add(limit)) {
				d, err := slots.BuildDay(schedule(ag, busy), date, ag.Zone)
				if err != nil {
					t.Fatal(err)
				}
				days = append(days, d)
			}
			from := days[1].Start
			if now.After(from) {
				from = now
			}
			for _, ty := range ag.Types {
				if !ty.NewPatientsAllowed {
					continue
				}
				open := slots.Open(days, ag.Rules, ty, slots.Request{Now: now, Online: true, NewPatient: true}, from, days[len(days)-1].Start)
				if len(open) == 0 {
					continue
				}
				st, valid := open[0].Start.UTC(), open[0].Start.Add(-ty.MinNotice)
				switch {
				case want == nil || st.Before(*want):
					want, wantUntil = &st, valid
				case st.Equal(*want) && valid.After(wantUntil):
					wantUntil = valid
				}
			}
		}
		if (got == nil) != (want == nil) || got != nil && (!got.Equal(*want) || !gotUntil.Equal(wantUntil)) {
			t.Fatalf("case %d (now %v, %s): next %v until %v, want %v until %v", i, now, ag.Zone, got, gotUntil, want, wantUntil)
		}
	}
}

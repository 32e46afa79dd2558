package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type slotsResult struct {
	Practitioner struct {
		ID             string
		AvailableSlots []struct {
			StartsAt, EndsAt time.Time
			Location         struct{ ID string }
		}
	}
}

// listSlots runs the contract's PractitionerSlots for one local day.
func listSlots(t testing.TB, s *stack, prID, typeID, day string) slotsResult {
	t.Helper()
	out, err := tryListSlots(t, s, prID, typeID, day)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryListSlots is listSlots for polling: availability may not know the
// practice's latest schedule (its appointment type) yet.
func tryListSlots(t testing.TB, s *stack, prID, typeID, day string) (slotsResult, error) {
	t.Helper()
	var out slotsResult
	res, err := s.client.Do(t.Context(), "", s.op(t, "PractitionerSlots"), map[string]any{"id": prID, "appointmentTypeId": typeID, "from": day, "to": day})
	if err == nil {
		err = res.Err()
	}
	if err == nil {
		err = res.Decode(&out)
	}
	return out, err
}

// eventually retries check until it returns "" or the deadline passes.
func eventually(t testing.TB, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startsOf(r slotsResult) map[time.Time]bool {
	m := map[time.Time]bool{}
	for _, sl := range r.Practitioner.AvailableSlots {
		m[sl.StartsAt.UTC()] = true
	}
	return m
}

// TestSlotsSearchAndRebuildThroughTheRouter: opening hours become listed
// slots and a next available slot; every listed slot books; a booked slot
// leaves the list; search finds the practice near its city; and with the
// Redis read model flushed, bookings stay correct and `rebuild availability`
// restores exactly the same slots.
func TestSlotsSearchAndRebuildThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, typeID, prTok := registerPractice(t, s, "Zoé", "Lambert")
	openEveryDay(t, s, prTok, locID, typeID)
	day := tomorrowAt(0, 0).Format(time.DateOnly)

	var listed slotsResult
	eventually(t, "slots listed", func() string {
		var err error
		if listed, err = tryListSlots(t, s, prID, typeID, day); err != nil {
			return err.Error()
		}
		// 08:00–20:00, step 15, 20 min + 5 min buffer after: 47 starts.
		if n := len(listed.Practitioner.AvailableSlots); n != 47 {
			return fmt.Sprintf("%d slots", n)
		}
		return ""
	})
	if sl := listed.Practitioner.AvailableSlots[0]; sl.Location.ID != locID || !sl.StartsAt.Equal(tomorrowAt(8, 0)) || sl.EndsAt.Sub(sl.StartsAt) != 20*time.Minute {
		t.Fatalf("first slot %+v", sl)
	}

	var profile struct {
		Practitioner struct {
			NextAvailableSlot *time.Time
			Locations         []struct{ ID string }
		}
	}
	eventually(t, "next available slot", func() string {
		s.run(t, "", s.op(t, "PractitionerProfile"), map[string]any{"id": prID}, &profile)
		if profile.Practitioner.NextAvailableSlot == nil {
			return "none yet"
		}
		return ""
	})

	// Every listed slot of the day is bookable: book them all, by three patients.
	var tokens []string
	for i := 0; i < 3; i++ {
		_, tok := registerPatient(t, s, fmt.Sprintf("Lister%d", i))
		tokens = append(tokens, tok)
	}
	var bookedStarts []time.Time
	for i, sl := range listed.Practitioner.AvailableSlots {
		if i%4 != 0 { // every hour of the day: enough to prove the point quickly
			continue
		}
		s.run(t, tokens[len(bookedStarts)%3], s.op(t, "BookAppointment"), bookVars(prID, typeID, sl.StartsAt, fmt.Sprintf("all-%d", i)), nil)
		bookedStarts = append(bookedStarts, sl.StartsAt.UTC())
	}
	bookedStart := bookedStarts[0]
	eventually(t, "booked slots leave the list", func() string {
		now := startsOf(listSlots(t, s, prID, typeID, day))
		for _, b := range bookedStarts {
			// The start, and the start a step later (its 5-minute buffer), are taken.
			if now[b] || now[b.Add(15*time.Minute)] {
				return fmt.Sprintf("%s still listed (%d slots)", b, len(now))
			}
		}
		return ""
	})
	before := listSlots(t, s, prID, typeID, day)

	// Search finds the practice near its city, with its next slot.
	var found struct {
		SearchPractitioners struct {
			TotalCount int
			Edges      []struct {
				DistanceKm        *float64
				NextAvailableSlot *time.Time
				Location          struct{ ID, City string }
				Practitioner      struct{ ID, DisplayName string }
			}
		}
	}
	eventually(t, "search finds the practice", func() string {
		s.run(t, "", s.op(t, "SearchPractitioners"), map[string]any{"first": 20, "input": map[string]any{
			"country": "fr", "specialty": "general-practice", "text": "lambert",
			"near": map[string]any{"lat": 48.8566, "lon": 2.3522, "radiusKm": 10}, "sort": "DISTANCE",
		}}, &found)
		for _, e := range found.SearchPractitioners.Edges {
			if e.Practitioner.ID == prID && e.Location.City == "Paris" && e.DistanceKm != nil && e.NextAvailableSlot != nil {
				return ""
			}
		}
		return fmt.Sprintf("%+v", found.SearchPractitioners)
	})
	if codes := s.errorCodes(t, "", s.op(t, "SearchPractitioners"), map[string]any{"input": map[string]any{"country": "zz"}}); len(codes) == 0 || codes[0] != "INVALID_INPUT" {
		t.Fatalf("unknown country: %v", codes)
	}

	// Flush the availability read model: listings go empty, bookings stay
	// correct (PostgreSQL decides), and a rebuild restores the same slots.
	opts, _ := redis.ParseURL(s.cfg.RedisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, s.cfg.RedisPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	if n := len(listSlots(t, s, prID, typeID, day).Practitioner.AvailableSlots); n != 0 {
		t.Fatalf("%d slots listed from a flushed read model", n)
	}
	if codes := s.errorCodes(t, tokens[0], s.op(t, "BookAppointment"), bookVars(prID, typeID, bookedStart, "again-after-flush")); len(codes) == 0 || codes[0] != "SLOT_UNAVAILABLE" {
		t.Fatalf("booking a taken slot with Redis flushed: %v", codes)
	}
	if err := rebuild(ctx, s.cfg, "availability", ""); err != nil {
		t.Fatal(err)
	}
	after := listSlots(t, s, prID, typeID, day)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("rebuild differs:\nbefore %v\nafter  %v", before, after)
	}
}

package availability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/availability/business"
)

// busyPractitioner opens 08:00–20:00 every day for 15-minute consultations
// every 15 minutes (5-minute buffer after) and 30-minute visits every 30.
func busyPractitioner(id string) eventdata.Practitioner {
	p := snapshot(id, 1)
	loc := p.Locations[0].ID
	p.AppointmentTypes = []eventdata.AppointmentType{
		{ID: "c15", Name: "Consultation", DurationMinutes: 15, BufferAfterMinutes: 5, OnlineBookable: true, NewPatientsAllowed: true, BookingHorizonDays: 90},
		{ID: "v30", Name: "Visite", DurationMinutes: 30, OnlineBookable: true, BookingHorizonDays: 90},
	}
	p.OpeningHours = nil
	for wd := 1; wd <= 7; wd++ {
		p.OpeningHours = append(p.OpeningHours,
			eventdata.OpeningHours{ID: fmt.Sprint("m", wd), LocationID: loc, Weekday: wd, StartTime: "08:00", EndTime: "13:00", StepMinutes: 15, AppointmentTypeIDs: []string{"c15", "v30"}},
			eventdata.OpeningHours{ID: fmt.Sprint("a", wd), LocationID: loc, Weekday: wd, StartTime: "14:00", EndTime: "20:00", StepMinutes: 15, AppointmentTypeIDs: []string{"c15", "v30"}})
	}
	p.Absences = nil
	return p
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func report(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(percentile(ds, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(ds, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkAvailableSlotsFourWeeks lists 4 weeks of a busy practitioner
// (two thirds of 28 days of 15-minute slots booked) against real Redis:
// through the business layer (one Redis round trip + slots.Open) and
// through the subgraph's GraphQL handler (an _entities request over HTTP).
func BenchmarkAvailableSlotsFourWeeks(b *testing.B) {
	e := newEnv(b, nil, "")
	ctx := context.Background()
	p := busyPractitioner("busy")
	rng := rand.New(rand.NewPCG(1, 2))
	var occ []eventdata.Appointment
	for d := range 28 {
		for m := 8 * 60; m < 20*60; m += 20 {
			if m >= 13*60 && m < 14*60 || rng.IntN(3) == 0 {
				continue
			}
			occ = append(occ, appointment(p, fmt.Sprint("ap", d, "-", m), "c15", at(d, m/60, m%60), 1, eventdata.StatusConfirmed))
		}
	}
	err := e.sg.Rebuild(ctx,
		func(fn func([]eventdata.Practitioner) error) error { return fn([]eventdata.Practitioner{p}) },
		func(fn func([]eventdata.Appointment) error) error { return fn(occ) })
	if err != nil {
		b.Fatal(err)
	}
	from, to := date(0), date(27)
	q := []business.SlotsQuery{{PractitionerID: "busy", TypeID: "c15", From: from, To: to}}
	want := expected(b, e.svc, p, occ, "c15", from, to, start)
	if got := list(b, e.svc, "busy", "c15", from, to); !sameSlots(got, want) || len(want) < 100 {
		b.Fatalf("listing: %d slots, want %d", len(got), len(want))
	}
	b.Logf("%d booked ranges, %d open slots listed over 28 days", len(occ), len(want))

	b.Run("service", func(b *testing.B) {
		ds := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			t0 := time.Now()
			out, errs := e.svc.ListSlots(ctx, q)
			ds = append(ds, time.Since(t0))
			if errs[0] != nil || len(out[0]) != len(want) {
				b.Fatal(errs[0], len(out[0]))
			}
		}
		report(b, ds)
	})

	b.Run("graphql", func(b *testing.B) {
		srv := httptest.NewServer(e.sg.Handler())
		defer srv.Close()
		body, _ := json.Marshal(map[string]any{
			"query": `query($reps: [_Any!]!, $from: Date!, $to: Date!) { _entities(representations: $reps) {
			  ... on Practitioner { id nextAvailableSlot availableSlots(appointmentTypeId: "c15", from: $from, to: $to) { startsAt endsAt location { id } } } } }`,
			"variables": map[string]any{"reps": []map[string]any{{"__typename": "Practitioner", "id": "busy"}}, "from": from, "to": to},
		})
		client := srv.Client()
		ds := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			t0 := time.Now()
			res, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Data struct {
					Entities []struct {
						AvailableSlots []json.RawMessage `json:"availableSlots"`
					} `json:"_entities"`
				} `json:"data"`
			}
			err = json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			ds = append(ds, time.Since(t0))
			if err != nil || len(out.Data.Entities) != 1 || len(out.Data.Entities[0].AvailableSlots) != len(want) {
				b.Fatalf("graphql: %v %+v", err, out)
			}
		}
		report(b, ds)
	})
}

package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// openEveryDay gives the practice's location opening hours 08:00–20:00 every
// day, step 15, for the given types, with the contract's SetOpeningHours.
func openEveryDay(t testing.TB, s *stack, token, locationID string, typeIDs ...string) {
	t.Helper()
	var rules []map[string]any
	for _, d := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"} {
		rules = append(rules, map[string]any{"weekday": d, "startTime": "08:00", "endTime": "20:00", "stepMinutes": 15, "appointmentTypeIds": typeIDs})
	}
	s.run(t, token, s.op(t, "SetOpeningHours"), map[string]any{"input": map[string]any{"locationId": locationID, "rules": rules}}, nil)
}

// addType saves another appointment type and returns its id.
func addType(t *testing.T, s *stack, token string, minutes int) string {
	t.Helper()
	var out struct {
		SaveAppointmentType struct{ AppointmentType struct{ ID string } }
	}
	s.run(t, token, s.op(t, "SaveAppointmentType"), map[string]any{"input": map[string]any{
		"name": fmt.Sprintf("Consultation %d min", minutes), "durationMinutes": minutes, "visitMode": "IN_PERSON",
		"newPatientsAllowed": true, "onlineBookable": true, "minNoticeMinutes": 60, "bookingHorizonDays": 60,
	}}, &out)
	return out.SaveAppointmentType.AppointmentType.ID
}

// tomorrowAt is a wall-clock time tomorrow in Paris.
func tomorrowAt(hour, minute int) time.Time {
	paris, _ := time.LoadLocation("Europe/Paris")
	d := time.Now().In(paris).AddDate(0, 0, 1)
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, 0, 0, paris)
}

func bookVars(practitionerID, typeID string, at time.Time, key string) map[string]any {
	return map[string]any{"input": map[string]any{
		"practitionerId": practitionerID, "appointmentTypeId": typeID, "startsAt": at.Format(time.RFC3339), "idempotencyKey": key,
	}}
}

type bookResult struct {
	BookAppointment struct {
		Appointment struct {
			ID, Status string
			StartsAt   time.Time
		}
	}
}

// TestBookingThroughTheRouter: opening hours set in the portal become
// bookable; 50 patients racing on one slot through the router get exactly
// one booking; overlapping unequal intervals never both book; retries,
// moves, cancels, no-shows and the agenda behave; and the database holds no
// overlap afterwards (checked by SQL).
func TestBookingThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, type20, prTok := registerPractice(t, s, "Inès", "Moreau")
	type30 := addType(t, s, prTok, 30)
	openEveryDay(t, s, prTok, locID, type20, type30)

	const racers = 50
	patients := make([]string, racers)
	tokens := make([]string, racers)
	for i := range patients {
		patients[i], tokens[i] = registerPatient(t, s, fmt.Sprintf("Racer%d", i))
	}

	// The booking service learns the schedule from practitioner events; wait
	// until a booking at 08:00 goes through (it is the first appointment).
	first := tomorrowAt(8, 0)
	var firstBooking bookResult
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := s.client.Do(context.Background(), tokens[0], s.op(t, "BookAppointment"), bookVars(prID, type20, first, "warmup-0"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) == 0 {
			if err := res.Decode(&firstBooking); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule never reached booking: %v", res.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A retry with the same key answers the first booking again.
	var retry bookResult
	s.run(t, tokens[0], s.op(t, "BookAppointment"), bookVars(prID, type20, first, "warmup-0"), &retry)
	if retry.BookAppointment.Appointment.ID != firstBooking.BookAppointment.Appointment.ID {
		t.Fatalf("retry booked again: %s vs %s", retry.BookAppointment.Appointment.ID, firstBooking.BookAppointment.Appointment.ID)
	}

	// 50 patients released at once on 10:00.
	race := func(name string, vars func(i int) map[string]any) (ok int, codes map[string]int) {
		codes = map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := s.client.Do(context.Background(), tokens[i], s.op(t, "BookAppointment"), vars(i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					codes["transport: "+err.Error()]++
				case len(res.Errors) == 0:
					ok++
				default:
					codes[res.Errors[0].Code()]++
				}
			}()
		}
		close(start)
		wg.Wait()
		t.Logf("%s: %d booked, refusals %v", name, ok, codes)
		return ok, codes
	}
	ten := tomorrowAt(10, 0)
	ok, codes := race("one slot", func(i int) map[string]any { return bookVars(prID, type20, ten, fmt.Sprintf("race-%d", i)) })
	if ok != 1 || codes["SLOT_UNAVAILABLE"] != racers-1 {
		t.Fatalf("one slot, %d racers: %d booked, refusals %v", racers, ok, codes)
	}

	// Overlapping but unequal intervals: 30 min at 11:00 vs 30 min at 11:15.
	ok, codes = race("overlapping", func(i int) map[string]any {
		at := tomorrowAt(11, 0)
		if i%2 == 1 {
			at = tomorrowAt(11, 15)
		}
		return bookVars(prID, type30, at, fmt.Sprintf("overlap-%d", i))
	})
	if ok != 1 || codes["SLOT_UNAVAILABLE"] != racers-1 {
		t.Fatalf("overlapping intervals: %d booked, refusals %v", ok, codes)
	}

	// A start the schedule would not offer is refused with its reason.
	res, err := s.client.Do(context.Background(), tokens[1], s.op(t, "BookAppointment"), bookVars(prID, type20, tomorrowAt(7, 0), "early"))
	if err != nil || len(res.Errors) == 0 || res.Errors[0].Code() != "INVALID_INPUT" || res.Errors[0].Extensions["reason"] != "OUTSIDE_OPENING_HOURS" {
		t.Fatalf("07:00: %v %+v", err, res)
	}
	res, _ = s.client.Do(context.Background(), tokens[1], s.op(t, "BookAppointment"), bookVars(prID, type20, tomorrowAt(9, 10), "offstep"))
	if len(res.Errors) == 0 || res.Errors[0].Extensions["reason"] != "NOT_ON_STEP" {
		t.Fatalf("09:10: %+v", res)
	}

	// Hold then book with the hold, by a patient who took no part in the
	// races (so their own list is known).
	_, holder := registerPatient(t, s, "Holder")
	var hold struct {
		HoldSlot struct{ Hold struct{ ID string } }
	}
	s.run(t, holder, s.op(t, "HoldSlot"), map[string]any{"input": map[string]any{"practitionerId": prID, "appointmentTypeId": type20, "startsAt": tomorrowAt(12, 0).Format(time.RFC3339)}}, &hold)
	if codes := s.errorCodes(t, tokens[3], s.op(t, "BookAppointment"), bookVars(prID, type20, tomorrowAt(12, 0), "steal")); !slices.Contains(codes, "SLOT_UNAVAILABLE") {
		t.Fatalf("booking a held slot: %v", codes)
	}
	held := bookVars(prID, type20, tomorrowAt(12, 0), "with-hold")
	held["input"].(map[string]any)["holdId"] = hold.HoldSlot.Hold.ID
	var fromHold bookResult
	s.run(t, holder, s.op(t, "BookAppointment"), held, &fromHold)

	// Move onto a taken slot: refused, nothing changes; then onto a free one.
	move := func(tok, id string, at time.Time, key string) []string {
		return s.errorCodes(t, tok, s.op(t, "RescheduleAppointment"), map[string]any{"input": map[string]any{"appointmentId": id, "startsAt": at.Format(time.RFC3339), "idempotencyKey": key}})
	}
	if codes := move(holder, fromHold.BookAppointment.Appointment.ID, ten, "move-1"); !slices.Contains(codes, "SLOT_UNAVAILABLE") {
		t.Fatalf("move onto 10:00: %v", codes)
	}
	var moved struct {
		RescheduleAppointment struct {
			Appointment struct {
				ID       string
				StartsAt time.Time
			}
			Previous struct{ ID, Status string }
		}
	}
	s.run(t, holder, s.op(t, "RescheduleAppointment"), map[string]any{"input": map[string]any{
		"appointmentId": fromHold.BookAppointment.Appointment.ID, "startsAt": tomorrowAt(15, 30).Format(time.RFC3339), "idempotencyKey": "move-2"}}, &moved)
	if !moved.RescheduleAppointment.Appointment.StartsAt.Equal(tomorrowAt(15, 30)) {
		t.Fatalf("moved %+v", moved)
	}

	// The patient's list and the practitioner's agenda.
	var mine struct {
		Me struct {
			Appointments struct {
				Edges []struct {
					Node struct {
						ID           string
						Practitioner struct{ DisplayName string }
						Location     struct{ Name, TimeZone string }
					}
				}
			}
		}
	}
	s.run(t, holder, s.op(t, "MyAppointments"), map[string]any{"upcoming": true, "first": 10}, &mine)
	if n := len(mine.Me.Appointments.Edges); n != 1 || mine.Me.Appointments.Edges[0].Node.Practitioner.DisplayName != "Dr Inès Moreau" || mine.Me.Appointments.Edges[0].Node.Location.TimeZone != "Europe/Paris" {
		t.Fatalf("my appointments %+v", mine)
	}
	var agenda struct {
		MyPractice struct {
			Agenda []struct{ ID, Status, PatientName string }
		}
	}
	day := tomorrowAt(0, 0).Format(time.DateOnly)
	s.run(t, prTok, s.op(t, "MyAgenda"), map[string]any{"from": day, "to": day}, &agenda)
	if len(agenda.MyPractice.Agenda) != 4 {
		t.Fatalf("agenda: %+v", agenda.MyPractice.Agenda)
	}

	// No-show before the start is refused; the practitioner cancels with a reason.
	if codes := s.errorCodes(t, prTok, s.op(t, "MarkNoShow"), map[string]any{"appointmentId": firstBooking.BookAppointment.Appointment.ID}); len(codes) == 0 {
		t.Fatal("no-show before the start was accepted")
	}
	var cancelled struct {
		CancelAppointment struct {
			Appointment struct{ ID, Status, CancellationReason string }
		}
	}
	s.run(t, prTok, s.op(t, "PractitionerCancelAppointment"), map[string]any{"input": map[string]any{"appointmentId": firstBooking.BookAppointment.Appointment.ID, "reason": "Urgence"}}, &cancelled)
	if cancelled.CancelAppointment.Appointment.Status != "CANCELLED" {
		t.Fatalf("cancel %+v", cancelled)
	}
	// Another patient's appointment is not yours to cancel.
	if codes := s.errorCodes(t, tokens[5], s.op(t, "CancelAppointment"), map[string]any{"input": map[string]any{"appointmentId": moved.RescheduleAppointment.Appointment.ID, "reason": "x"}}); len(codes) == 0 {
		t.Fatal("a stranger cancelled an appointment")
	}

	assertNoOverlaps(t, s)
}

// assertNoOverlaps checks the booking database directly: no two occupying
// rows of one practitioner overlap, no person has overlapping confirmed rows.
func assertNoOverlaps(t *testing.T, s *stack) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.cfg.DatabaseURLs["booking"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM appointments a JOIN appointments b
		ON a.practitioner_id = b.practitioner_id AND a.id < b.id AND a.blocked && b.blocked
		WHERE a.status IN ('CONFIRMED', 'HELD') AND b.status IN ('CONFIRMED', 'HELD')
		  AND (a.status = 'CONFIRMED' OR a.hold_expires_at > now()) AND (b.status = 'CONFIRMED' OR b.hold_expires_at > now())`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d overlapping occupying appointment pairs", n)
	}
	err = conn.QueryRow(ctx, `SELECT count(*) FROM appointments a JOIN appointments b
		ON a.person_id = b.person_id AND a.id < b.id AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
		WHERE a.status = 'CONFIRMED' AND b.status = 'CONFIRMED'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d overlapping appointments of one person", n)
	}
}

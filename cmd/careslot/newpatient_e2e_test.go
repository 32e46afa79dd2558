package main

import (
	"fmt"
	"testing"
	"time"
)

// TestClosedTypeListedOnlyToReturningPatientsThroughTheRouter: a type closed
// to new patients lists nothing to an anonymous caller or a new patient, and
// booking it as one is refused. Once the patient has a first appointment
// (of an open type), availability learns it from booking's events and lists
// the closed type's starts after it to that patient only, and the first one
// listed is booked at once: what is shown is what may be booked.
func TestClosedTypeListedOnlyToReturningPatientsThroughTheRouter(t *testing.T) {
	s := startStack(t)
	prID, locID, openID, prTok := registerPractice(t, s, "Suivi", "Fidèle")
	var closed struct {
		SaveAppointmentType struct{ AppointmentType struct{ ID string } }
	}
	s.run(t, prTok, s.op(t, "SaveAppointmentType"), map[string]any{"input": map[string]any{
		"name": "Suivi", "durationMinutes": 20, "visitMode": "IN_PERSON", "newPatientsAllowed": false,
		"onlineBookable": true, "minNoticeMinutes": 60, "bookingHorizonDays": 60,
	}}, &closed)
	closedID := closed.SaveAppointmentType.AppointmentType.ID
	openEveryDay(t, s, prTok, locID, openID, closedID)
	day := tomorrowAt(0, 0).Format(time.DateOnly)
	_, newTok := registerPatient(t, s, "Nouvelle")
	_, regTok := registerPatient(t, s, "Fidele")

	list := func(token, typeID string) (slotsResult, error) {
		var out slotsResult
		res, err := s.client.Do(t.Context(), token, s.op(t, "PractitionerSlots"), map[string]any{"id": prID, "appointmentTypeId": typeID, "from": day, "to": day})
		if err == nil {
			err = res.Err()
		}
		if err == nil {
			err = res.Decode(&out)
		}
		return out, err
	}
	eventually(t, "the open type listed", func() string {
		r, err := list("", openID)
		if err != nil || len(r.Practitioner.AvailableSlots) == 0 {
			return fmt.Sprintf("%v %d", err, len(r.Practitioner.AvailableSlots))
		}
		return ""
	})
	for name, tok := range map[string]string{"anonymous": "", "new patient": newTok, "patient before a first visit": regTok} {
		r, err := list(tok, closedID)
		if err != nil || len(r.Practitioner.AvailableSlots) != 0 {
			t.Fatalf("%s: the closed type listed %d slots (%v)", name, len(r.Practitioner.AvailableSlots), err)
		}
	}
	if codes := s.errorCodes(t, newTok, s.op(t, "BookAppointment"), bookVars(prID, closedID, tomorrowAt(12, 0), "closed-new")); len(codes) == 0 {
		t.Fatal("a new patient booked a type closed to new patients")
	}

	first := tomorrowAt(8, 0)
	bookThrough(t, s, regTok, prID, openID, first, "first-visit")
	var shown slotsResult
	eventually(t, "the closed type listed to the returning patient", func() string {
		var err error
		if shown, err = list(regTok, closedID); err != nil || len(shown.Practitioner.AvailableSlots) == 0 {
			return fmt.Sprintf("%v %d", err, len(shown.Practitioner.AvailableSlots))
		}
		return ""
	})
	for _, sl := range shown.Practitioner.AvailableSlots {
		if !sl.StartsAt.After(first) {
			t.Fatalf("listed %s, not after the first visit at %s", sl.StartsAt, first)
		}
	}
	if r, err := list(newTok, closedID); err != nil || len(r.Practitioner.AvailableSlots) != 0 {
		t.Fatalf("another patient's visit opened the closed type to a new patient (%d, %v)", len(r.Practitioner.AvailableSlots), err)
	}
	res, err := s.client.Do(t.Context(), regTok, s.op(t, "BookAppointment"),
		bookVars(prID, closedID, shown.Practitioner.AvailableSlots[0].StartsAt, "closed-returning"))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("the first slot listed to the returning patient was refused: %v %v", res.Codes(), err)
	}
}

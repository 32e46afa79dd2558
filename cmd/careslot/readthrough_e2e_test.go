package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/uid"
)

// TestListedSlotIsBookableAtOnceThroughTheRouter: a practice is created
// (registered, a location, a type, opening hours) and the first slot
// availability lists for it is booked the moment it is listed, 100 times;
// none is refused. Booking learns practices from practitioner-events on its
// own consumer, so its replica may still lack the practice (or its hours)
// when availability lists them: it then reads the practice from its owner
// (ADR 8) rather than refusing.
func TestListedSlotIsBookableAtOnceThroughTheRouter(t *testing.T) {
	s := startStack(t)
	// The contract's operations, resolved here: the workers are goroutines.
	ops := map[string]string{}
	for _, name := range []string{"RegisterPatient", "RegisterPractitioner", "AddLocation", "SaveAppointmentType",
		"SetOpeningHours", "PractitionerSlots", "BookAppointment"} {
		ops[name] = s.op(t, name)
	}
	const practices, workers = 100, 4
	var (
		mu      sync.Mutex
		refused = map[string]int{}
		booked  int
		wg      sync.WaitGroup
		failed  = make(chan error, workers)
	)
	next := make(chan int, practices)
	for i := range practices {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				code, err := bookFirstListedSlot(t, s, ops, i)
				if err != nil {
					failed <- err
					return
				}
				mu.Lock()
				if code == "" {
					booked++
				} else {
					refused[code]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Fatal(err)
	}
	t.Logf("%d practices: %d booked at once, refusals %v", practices, booked, refused)
	if booked != practices {
		t.Fatalf("%d of %d first listed slots refused at once: %v", practices-booked, practices, refused)
	}
}

// bookFirstListedSlot creates practice i and a patient, waits until
// availability lists the practice's slots of tomorrow, and books the first
// at once: the booking's error code, "" when it was booked. The error is for
// anything else going wrong (the test's setup, transport).
func bookFirstListedSlot(t *testing.T, s *stack, ops map[string]string, i int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mint := func(role auth.Role, sub string) (string, error) {
		return s.key.Mint(auth.TokenClaims{Subject: sub, Role: role, Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience}, time.Hour)
	}
	patient, err := mint(auth.RolePatient, "pa-"+uid.New())
	if err != nil {
		return "", err
	}
	pr, err := mint(auth.RolePractitioner, "pr-"+uid.New())
	if err != nil {
		return "", err
	}
	if err := s.client.Run(ctx, patient, ops["RegisterPatient"], map[string]any{"input": map[string]any{
		"firstName": "Prompt", "lastName": fmt.Sprintf("Patient %d", i), "email": fmt.Sprintf("prompt.%s@example.org", uid.New()),
		"birthDate": "1990-01-01", "country": "fr",
	}}, nil); err != nil {
		return "", fmt.Errorf("register patient: %w", err)
	}

	var reg struct {
		RegisterPractitioner struct{ Practitioner struct{ ID string } }
	}
	var loc struct {
		AddLocation struct{ Location struct{ ID string } }
	}
	var typ struct {
		SaveAppointmentType struct{ AppointmentType struct{ ID string } }
	}
	if err := s.client.Run(ctx, pr, ops["RegisterPractitioner"], map[string]any{"input": map[string]any{
		"firstName": "Prompt", "lastName": fmt.Sprintf("Practice %d", i), "country": "fr", "specialties": []string{"general-practice"},
		"languages": []string{"fr"},
	}}, &reg); err != nil {
		return "", fmt.Errorf("register practitioner: %w", err)
	}
	if err := s.client.Run(ctx, pr, ops["AddLocation"], map[string]any{"input": map[string]any{
		"name": "Cabinet", "timeZone": "Europe/Paris",
		"address":     map[string]any{"line1": "1 rue de Rivoli", "postalCode": "75001", "city": "Paris", "country": "fr"},
		"coordinates": map[string]any{"lat": 48.8606, "lon": 2.3376},
	}}, &loc); err != nil {
		return "", fmt.Errorf("add location: %w", err)
	}
	if err := s.client.Run(ctx, pr, ops["SaveAppointmentType"], map[string]any{"input": map[string]any{
		"name": "Consultation", "durationMinutes": 20, "visitMode": "IN_PERSON", "newPatientsAllowed": true,
		"onlineBookable": true, "minNoticeMinutes": 60, "bookingHorizonDays": 60,
	}}, &typ); err != nil {
		return "", fmt.Errorf("save type: %w", err)
	}
	prID, typeID := reg.RegisterPractitioner.Practitioner.ID, typ.SaveAppointmentType.AppointmentType.ID
	var rules []map[string]any
	for _, d := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"} {
		rules = append(rules, map[string]any{"weekday": d, "startTime": "08:00", "endTime": "20:00", "stepMinutes": 15,
			"appointmentTypeIds": []string{typeID}})
	}
	if err := s.client.Run(ctx, pr, ops["SetOpeningHours"], map[string]any{"input": map[string]any{
		"locationId": loc.AddLocation.Location.ID, "rules": rules}}, nil); err != nil {
		return "", fmt.Errorf("set opening hours: %w", err)
	}

	// Availability lists the slots once its own consumer has the hours; the
	// first listed one is booked the moment it shows.
	day := tomorrowAt(0, 0).Format(time.DateOnly)
	var first time.Time
	for first.IsZero() {
		var out slotsResult
		res, err := s.client.Do(ctx, "", ops["PractitionerSlots"], map[string]any{"id": prID, "appointmentTypeId": typeID, "from": day, "to": day})
		if err != nil {
			return "", fmt.Errorf("list slots: %w", err)
		}
		// Until availability has the type, the listing is INVALID_INPUT.
		if len(res.Errors) == 0 && res.Decode(&out) == nil && len(out.Practitioner.AvailableSlots) > 0 {
			first = out.Practitioner.AvailableSlots[0].StartsAt
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("practice %d: availability never listed its slots", i)
		case <-time.After(5 * time.Millisecond):
		}
	}
	res, err := s.client.Do(ctx, patient, ops["BookAppointment"], bookVars(prID, typeID, first, "first-"+uid.New()))
	if err != nil {
		return "", fmt.Errorf("book: %w", err)
	}
	if len(res.Errors) > 0 {
		t.Logf("practice %d: first listed slot %s refused: %v", i, first.Format(time.RFC3339), res.Err())
		return res.Errors[0].Code(), nil
	}
	return "", nil
}

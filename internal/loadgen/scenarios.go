package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/internal/gqlclient"
)

// Minter makes tokens the system under test accepts (role, subject).
type Minter func(role, subject string) (string, error)

// Practice is a bookable practice created for a run.
type Practice struct {
	ID, TypeID string
}

var weekdays = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}

// SetupPractices imports n practices open every day 08:00–20:00 (step 15,
// 20-minute consultations) through the router's importPractitioners, as an
// operator would, and returns their ids and type ids.
func SetupPractices(ctx context.Context, c *gqlclient.Client, mint Minter, run string, n int) ([]Practice, error) {
	admin, err := mint("admin", "loadgen")
	if err != nil {
		return nil, err
	}
	rows := make([]map[string]any, n)
	for i := range rows {
		var hours []map[string]any
		for _, d := range weekdays {
			hours = append(hours, map[string]any{"locationIndex": 0, "weekday": d, "startTime": "08:00", "endTime": "20:00",
				"stepMinutes": 15, "appointmentTypeKeys": []string{"c"}})
		}
		rows[i] = map[string]any{
			"externalId": fmt.Sprintf("loadgen-%s-%d", run, i), "country": "fr", "firstName": "Load", "lastName": fmt.Sprintf("Gen %d", i),
			"specialties": []string{"general-practice"}, "languages": []string{"fr"}, "acceptsNewPatients": true,
			"locations": []map[string]any{{"name": "Cabinet", "timeZone": "Europe/Paris",
				"address":     map[string]any{"line1": "1 rue de la Paix", "postalCode": "75002", "city": "Paris", "country": "fr"},
				"coordinates": map[string]any{"lat": 48.8686 + float64(i)*0.001, "lon": 2.3314}}},
			"appointmentTypes": []map[string]any{{"key": "c", "name": "Consultation", "durationMinutes": 20, "visitMode": "IN_PERSON",
				"newPatientsAllowed": true, "onlineBookable": true, "minNoticeMinutes": 0, "bookingHorizonDays": 90}},
			"openingHours": hours,
		}
	}
	var imp struct {
		ImportPractitioners struct {
			Imported        int
			Failed          []struct{ Message string }
			PractitionerIDs []string `json:"practitionerIds"`
		}
	}
	if err := c.Run(ctx, admin, `mutation($input: [ImportPractitionerInput!]!) { importPractitioners(input: $input) { imported failed { message } practitionerIds } }`,
		map[string]any{"input": rows}, &imp); err != nil {
		return nil, err
	}
	if len(imp.ImportPractitioners.Failed) > 0 {
		return nil, fmt.Errorf("import refused: %s", imp.ImportPractitioners.Failed[0].Message)
	}
	out := make([]Practice, 0, n)
	for _, id := range imp.ImportPractitioners.PractitionerIDs {
		var p struct {
			Practitioner struct{ AppointmentTypes []struct{ ID string } }
		}
		if err := c.Run(ctx, "", `query($id: ID!) { practitioner(id: $id) { appointmentTypes { id } } }`, map[string]any{"id": id}, &p); err != nil {
			return nil, err
		}
		out = append(out, Practice{ID: id, TypeID: p.Practitioner.AppointmentTypes[0].ID})
	}
	return out, nil
}

// SetupPatients registers n patients through the router, each a new
// identity (a token minted for a new subject, which registration binds the
// account to), and returns their tokens.
func SetupPatients(ctx context.Context, c *gqlclient.Client, mint Minter, run string, n int) ([]string, error) {
	tokens := make([]string, n)
	var next atomic.Int64
	r := Run(ctx, Config{Name: "register patients", Clients: 8, Requests: int64(n)}, func(ctx context.Context, _, _ int) (Outcome, error) {
		i := int(next.Add(1) - 1)
		var reg struct {
			RegisterPatient struct{ Patient struct{ ID string } }
		}
		tok, err := mint("patient", fmt.Sprintf("load-%s-%d", run, i))
		if err != nil {
			return "", err
		}
		err = c.Run(ctx, tok, `mutation($input: RegisterPatientInput!) { registerPatient(input: $input) { patient { id } } }`,
			map[string]any{"input": map[string]any{"firstName": "Load", "lastName": "Patient", "email": fmt.Sprintf("load-%s-%d@example.org", run, i),
				"birthDate": "1980-01-01", "country": "fr"}}, &reg)
		if err != nil {
			return "", err
		}
		tokens[i] = tok
		return "registered", nil
	})
	if r.Outcomes["error"] > 0 {
		return nil, fmt.Errorf("register patients: %s", r)
	}
	return tokens, nil
}

// WaitBookable waits until the booking service knows each practice's schedule
// (it learns it from practitioner events).
func WaitBookable(ctx context.Context, c *gqlclient.Client, practices []Practice, patientToken string) error {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, p := range practices {
		for {
			// A hold is a cheap probe that leaves no booking behind for long.
			start := dayStart(time.Now().In(paris).AddDate(0, 0, 100), paris) // beyond the horizon: refused, but not NOT_FOUND
			res, err := c.Do(ctx, patientToken, `mutation($input: HoldSlotInput!) { holdSlot(input: $input) { hold { id } } }`,
				map[string]any{"input": map[string]any{"practitionerId": p.ID, "appointmentTypeId": p.TypeID, "startsAt": start.Add(10 * time.Hour).Format(time.RFC3339)}})
			if err != nil {
				return err
			}
			if !res.HasCode("NOT_FOUND") {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func dayStart(t time.Time, loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// BookOp books random starts (days 1..days ahead, 08:00–19:40 on the 15-minute
// step) at random practices, so clients contend for the same slots. Each
// request has its own idempotency key and a random patient.
func BookOp(c *gqlclient.Client, practices []Practice, tokens []string, days int, run string) Op {
	paris, _ := time.LoadLocation("Europe/Paris")
	today := dayStart(time.Now().In(paris), paris)
	return func(ctx context.Context, client, i int) (Outcome, error) {
		p := practices[rand.IntN(len(practices))]
		d := today.AddDate(0, 0, 1+rand.IntN(days))
		start := time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, paris).Add(time.Duration(rand.IntN(47)) * 15 * time.Minute)
		res, err := c.Do(ctx, tokens[rand.IntN(len(tokens))], `mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) { appointment { id status } } }`,
			map[string]any{"input": map[string]any{"practitionerId": p.ID, "appointmentTypeId": p.TypeID, "startsAt": start.Format(time.RFC3339),
				"idempotencyKey": fmt.Sprintf("%s-%d-%d", run, client, i)}})
		if err != nil {
			return "", err
		}
		if len(res.Errors) == 0 {
			return "booked", nil
		}
		code := res.Errors[0].Code()
		switch code {
		case "SLOT_UNAVAILABLE":
			return "slot_unavailable", nil
		case "BOOKING_LIMIT_REACHED":
			// Few patients booking many starts at few practices meet the
			// per-day limit: an answer the domain gives, not a failure.
			return "booking_limit", nil
		}
		return "", fmt.Errorf("%s: %s", code, res.Errors[0].Message)
	}
}

// SlotsOp lists a practice's slots over the given number of days.
func SlotsOp(c *gqlclient.Client, practices []Practice, days int) Op {
	paris, _ := time.LoadLocation("Europe/Paris")
	return func(ctx context.Context, _, _ int) (Outcome, error) {
		p := practices[rand.IntN(len(practices))]
		from := time.Now().In(paris).AddDate(0, 0, rand.IntN(3))
		res, err := c.Do(ctx, "", `query($id: ID!, $t: ID!, $from: Date!, $to: Date!) { practitioner(id: $id) { id availableSlots(appointmentTypeId: $t, from: $from, to: $to) { startsAt endsAt location { id } } } }`,
			map[string]any{"id": p.ID, "t": p.TypeID, "from": from.Format(time.DateOnly), "to": from.AddDate(0, 0, days-1).Format(time.DateOnly)})
		if err != nil {
			return "", err
		}
		if err := res.Err(); err != nil {
			return "", err
		}
		return "listed", nil
	}
}

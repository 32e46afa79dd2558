package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/config"
	"github.com/careslot/careslot/internal/gqlclient"
	"github.com/careslot/careslot/internal/platform"
)

// demoData is what `dev` creates once and remembers in the data directory.
type demoData struct {
	PractitionerID string `json:"practitionerId"`
	PatientID      string `json:"patientId,omitempty"`
	// The development identities the demo accounts are bound to (tokens are
	// minted for these subjects; the ids are their account ids).
	PractitionerSubject string `json:"practitionerSubject"`
	PatientSubject      string `json:"patientSubject,omitempty"`
}

func demoPath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "demo.json") }

// ensureDemo creates a demo practice (and patient) through the router, as a
// client would, unless the ones recorded by an earlier run still exist.
func ensureDemo(ctx context.Context, cfg config.Config, key *auth.DevKey, routerURL string) (*demoData, error) {
	c := gqlclient.New(routerURL)
	var d demoData
	if b, err := os.ReadFile(demoPath(cfg)); err == nil && json.Unmarshal(b, &d) == nil && d.PractitionerID != "" && d.PractitionerSubject != "" {
		var out struct {
			Practitioner *struct{ ID string } `json:"practitioner"`
		}
		if err := c.Run(ctx, "", `query($id: ID!) { practitioner(id: $id) { id } }`, map[string]any{"id": d.PractitionerID}, &out); err == nil && out.Practitioner != nil {
			if d.PatientID != "" || !serviceEnabled("patient") {
				return &d, nil
			}
		} else {
			d = demoData{}
		}
	}
	if d.PractitionerID == "" {
		d.PractitionerSubject = fmt.Sprintf("demo-practitioner-%d", time.Now().Unix())
		id, err := createDemoPractice(ctx, c, cfg, key, d.PractitionerSubject)
		if err != nil {
			return nil, err
		}
		d.PractitionerID = id
	}
	if serviceEnabled("patient") && d.PatientID == "" {
		var out struct {
			RegisterPatient struct{ Patient struct{ ID string } } `json:"registerPatient"`
		}
		d.PatientSubject = fmt.Sprintf("demo-patient-%d", time.Now().Unix())
		tok, err := key.Mint(auth.TokenClaims{Subject: d.PatientSubject, Role: auth.RolePatient, Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience}, time.Hour)
		if err != nil {
			return nil, err
		}
		err = c.Run(ctx, tok, `mutation($input: RegisterPatientInput!) { registerPatient(input: $input) { patient { id } } }`,
			map[string]any{"input": map[string]any{
				"firstName": "Camille", "lastName": "Martin", "email": fmt.Sprintf("camille.martin+%d@example.org", time.Now().Unix()),
				"phone": "+33612345678", "birthDate": "1988-04-12", "locale": "fr-FR", "country": "fr",
			}}, &out)
		if err != nil {
			return nil, fmt.Errorf("register demo patient: %w", err)
		}
		d.PatientID = out.RegisterPatient.Patient.ID
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	return &d, os.WriteFile(demoPath(cfg), b, 0o644)
}

func createDemoPractice(ctx context.Context, c *gqlclient.Client, cfg config.Config, key *auth.DevKey, subject string) (string, error) {
	var reg struct {
		RegisterPractitioner struct{ Practitioner struct{ ID string } } `json:"registerPractitioner"`
	}
	tok, err := key.Mint(auth.TokenClaims{Subject: subject, Role: auth.RolePractitioner, Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience}, time.Hour)
	if err != nil {
		return "", err
	}
	err = c.Run(ctx, tok, `mutation($input: RegisterPractitionerInput!) { registerPractitioner(input: $input) { practitioner { id } } }`,
		map[string]any{"input": map[string]any{
			"firstName": "Claire", "lastName": "Dubois", "country": "fr", "specialties": []string{"general-practice"},
			"languages": []string{"fr", "en"}, "registrationNumber": "10101010101", "bio": "Médecin généraliste à Paris 11e.",
		}}, &reg)
	if err != nil {
		return "", fmt.Errorf("register demo practitioner: %w", err)
	}
	id := reg.RegisterPractitioner.Practitioner.ID
	if id == "" {
		return "", errors.New("register demo practitioner: no id")
	}
	if err := c.Run(ctx, tok, `mutation($input: AddLocationInput!) { addLocation(input: $input) { location { id } } }`,
		map[string]any{"input": map[string]any{
			"name": "Cabinet Oberkampf", "timeZone": "Europe/Paris",
			"address":     map[string]any{"line1": "12 rue Oberkampf", "postalCode": "75011", "city": "Paris", "country": "fr"},
			"coordinates": map[string]any{"lat": 48.8649, "lon": 2.3738},
		}}, nil); err != nil {
		return "", fmt.Errorf("demo location: %w", err)
	}
	if err := c.Run(ctx, tok, `mutation($input: SaveAppointmentTypeInput!) { saveAppointmentType(input: $input) { appointmentType { id } } }`,
		map[string]any{"input": map[string]any{
			"name": "Consultation", "durationMinutes": 20, "visitMode": "IN_PERSON",
			"newPatientsAllowed": true, "onlineBookable": true, "minNoticeMinutes": 60, "bookingHorizonDays": 60,
		}}, nil); err != nil {
		return "", fmt.Errorf("demo appointment type: %w", err)
	}
	return id, nil
}

func serviceEnabled(name string) bool { return slices.Contains(platform.Services(), name) }

func printWelcome(cfg config.Config, key *auth.DevKey, routerURL string, d *demoData) {
	mint := func(sub string, role auth.Role) string {
		tok, err := key.Mint(auth.TokenClaims{Subject: sub, Role: role, Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience}, 12*time.Hour)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return tok
	}
	fmt.Printf("\nCareslot is running.\n\n  GraphQL (HTTP and WebSocket): %s\n  Playground:                   http://%s/\n\n", routerURL, cfg.RouterAddr)
	if d != nil {
		fmt.Printf("Demo practitioner %s — practitioner token:\n  %s\n\n", d.PractitionerID, mint(d.PractitionerSubject, auth.RolePractitioner))
		if d.PatientID != "" {
			fmt.Printf("Demo patient %s — patient token:\n  %s\n\n", d.PatientID, mint(d.PatientSubject, auth.RolePatient))
		}
	}
	fmt.Printf("Admin token:\n  %s\n\n", mint("admin", auth.RoleAdmin))
	fmt.Printf("More tokens: go run ./cmd/careslot token --role patient --sub <id>\n")
	fmt.Printf("Try: curl -s %s -H 'Content-Type: application/json' -d '{\"query\":\"{ countries { code name } }\"}'\n\nCtrl-C stops everything.\n", routerURL)
}

package main

import (
	"testing"

	"github.com/careslot/careslot/internal/auth"
)

// TestDemoIdentities: `dev`'s demo practice and patient are registered by
// development identities, and the tokens it prints (minted for those
// subjects) reach them; a second start reuses them.
func TestDemoIdentities(t *testing.T) {
	s := startStack(t)
	url := "http://" + s.cfg.RouterAddr + "/graphql"
	cfg := s.cfg
	cfg.DataDir = t.TempDir() // where dev keeps demo.json
	d, err := ensureDemo(t.Context(), cfg, s.key, url)
	if err != nil {
		t.Fatal(err)
	}
	if d.PractitionerID != auth.AccountID(s.cfg.OIDCIssuer, d.PractitionerSubject) || d.PatientID != auth.AccountID(s.cfg.OIDCIssuer, d.PatientSubject) {
		t.Fatalf("demo accounts not bound to their identities: %+v", d)
	}
	var practice struct{ MyPractice struct{ ID string } }
	s.run(t, s.token(t, auth.RolePractitioner, d.PractitionerSubject), `{ myPractice { id } }`, nil, &practice)
	var me struct{ Me struct{ ID string } }
	s.run(t, s.token(t, auth.RolePatient, d.PatientSubject), s.op(t, "MyAccount"), nil, &me)
	if practice.MyPractice.ID != d.PractitionerID || me.Me.ID != d.PatientID {
		t.Fatalf("demo tokens reach %s and %s, want %+v", practice.MyPractice.ID, me.Me.ID, d)
	}
	again, err := ensureDemo(t.Context(), cfg, s.key, url)
	if err != nil || *again != *d {
		t.Fatalf("second start: %+v, %v", again, err)
	}
}

package business_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/practitioner/business"
)

// TestNoShowPolicy: a practice starts with its country's policy; the
// practitioner or their secretary sets its own (limit 0 allowed: never
// restrict), which its snapshot event carries; bad bounds and strangers are
// refused and change nothing; null gives the country's back.
func TestNoShowPolicy(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	id := register(t, svc)
	p, err := svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := countries.MustDefault().Get("fr")
	if got, own := svc.NoShowPolicy(p.Country, nil); got != fr.NoShowPolicy || own || p.NoShowPolicy != nil {
		t.Fatalf("new practice: %+v own %v (%+v)", got, own, p.NoShowPolicy)
	}

	mine := countries.NoShowPolicy{Limit: 2, PeriodDays: 180, RestrictionDays: 30}
	p, err = svc.SetNoShowPolicy(as(uuid.NewString(), auth.RoleSecretary, id), business.NoShowPolicyInput{PractitionerID: id, Policy: &mine})
	if err != nil {
		t.Fatal(err)
	}
	if p.NoShowPolicy == nil || p.NoShowPolicy.Limit != 2 || p.NoShowPolicy.PeriodDays != 180 || p.NoShowPolicy.RestrictionDays != 30 {
		t.Fatalf("set: %+v", p.NoShowPolicy)
	}
	var data []byte
	if err := pool.QueryRow(context.Background(), `SELECT convert_from(payload, 'UTF8')::jsonb->'data' FROM outbox
		WHERE key = $1 AND type = $2`, id, eventdata.NoShowPolicySet).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var snap eventdata.Practitioner
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.NoShowPolicy == nil || *snap.NoShowPolicy != (eventdata.NoShowPolicy{Limit: 2, PeriodDays: 180, RestrictionDays: 30}) ||
		snap.Version != p.Version {
		t.Fatalf("snapshot %+v at version %d, practice at %d", snap.NoShowPolicy, snap.Version, p.Version)
	}

	for _, c := range []struct {
		policy countries.NoShowPolicy
		field  string
	}{
		{countries.NoShowPolicy{Limit: 21, PeriodDays: 30, RestrictionDays: 30}, "policy.limit"},
		{countries.NoShowPolicy{Limit: -1, PeriodDays: 30, RestrictionDays: 30}, "policy.limit"},
		{countries.NoShowPolicy{Limit: 3, PeriodDays: 0, RestrictionDays: 30}, "policy.periodDays"},
		{countries.NoShowPolicy{Limit: 3, PeriodDays: 30, RestrictionDays: 366}, "policy.restrictionDays"},
	} {
		_, err := svc.SetNoShowPolicy(as(id, auth.RolePractitioner), business.NoShowPolicyInput{Policy: &c.policy})
		if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != c.field {
			t.Errorf("%+v: %v", c.policy, err)
		}
	}
	_, err = svc.SetNoShowPolicy(as(uuid.NewString(), auth.RolePractitioner), business.NoShowPolicyInput{PractitionerID: id, Policy: &mine})
	wantCode(t, err, apperr.Forbidden)
	_, err = svc.SetNoShowPolicy(as(uuid.NewString(), auth.RolePatient), business.NoShowPolicyInput{PractitionerID: id})
	wantCode(t, err, apperr.Forbidden)

	off := countries.NoShowPolicy{Limit: 0, PeriodDays: 1, RestrictionDays: 1}
	if p, err = svc.SetNoShowPolicy(as(id, auth.RolePractitioner), business.NoShowPolicyInput{Policy: &off}); err != nil || p.NoShowPolicy.Limit != 0 {
		t.Fatalf("off: %+v, %v", p.NoShowPolicy, err)
	}
	if p, err = svc.SetNoShowPolicy(as(id, auth.RolePractitioner), business.NoShowPolicyInput{}); err != nil || p.NoShowPolicy != nil {
		t.Fatalf("back to the country's: %+v, %v", p.NoShowPolicy, err)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE key = $1 AND type = $2`, id, eventdata.NoShowPolicySet); n != 3 {
		t.Fatalf("%d NoShowPolicySet events, want 3 (refusals emit nothing)", n)
	}
}

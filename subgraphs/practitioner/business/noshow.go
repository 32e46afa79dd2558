package business

import (
	"context"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/eventdata"
	"github.com/careslot/careslot/subgraphs/practitioner/store"
)

// NoShowPolicyInput sets a practice's own policy against repeat no-shows, or
// (Policy nil) gives the practice its country's back.
type NoShowPolicyInput struct {
	PractitionerID string // optional for a practitioner; a secretary's choice
	Policy         *countries.NoShowPolicy
}

// SetNoShowPolicy sets the policy of the caller's practice (the practitioner
// or a secretary acting for them): after Limit no-shows in PeriodDays, a
// patient account may not book it online for RestrictionDays (Limit 0: the
// practice never restricts). The policy travels in the practice's snapshot:
// booking applies it from its replica.
func (s *Service) SetNoShowPolicy(ctx context.Context, in NoShowPolicyInput) (store.Practitioner, error) {
	id, err := s.acting(ctx, in.PractitionerID)
	if err != nil {
		return store.Practitioner{}, err
	}
	var own *store.NoShowPolicy
	if in.Policy != nil {
		if field, err := in.Policy.Validate(); err != nil {
			return store.Practitioner{}, apperr.Invalid("policy."+field, "%s", err.Error())
		}
		own = &store.NoShowPolicy{Limit: in.Policy.Limit, PeriodDays: in.Policy.PeriodDays, RestrictionDays: in.Policy.RestrictionDays}
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPractitioner(ctx, id)
		if err != nil {
			return notFound(err, "practitioner")
		}
		if _, err := tx.SetNoShowPolicy(ctx, p.Country, id, own); err != nil {
			return err
		}
		return s.emit(ctx, tx, id, eventdata.NoShowPolicySet)
	})
	if err != nil {
		return store.Practitioner{}, err
	}
	return s.Get(ctx, id)
}

// NoShowPolicy is the policy that applies to a practice of country with its
// own policy (nil when none): that one, or its country's (own false).
func (s *Service) NoShowPolicy(country string, practice *countries.NoShowPolicy) (policy countries.NoShowPolicy, own bool) {
	if practice != nil {
		return *practice, true
	}
	if c, ok := s.countries.Get(country); ok {
		return c.NoShowPolicy, false
	}
	return countries.DefaultNoShowPolicy, false
}

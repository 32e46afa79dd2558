// Package auth authenticates bearer JWTs and answers authorisation questions
// for every subgraph. The router validates tokens too, but each subgraph checks
// again (defence in depth): a subgraph reachable without the router must not
// trust its callers.
package auth

import (
	"context"
	"slices"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/uid"
)

// Role is the caller's role, carried in the token's "role" claim.
type Role string

const (
	RolePatient      Role = "patient"
	RolePractitioner Role = "practitioner"
	RoleSecretary    Role = "secretary" // acts for the practitioners named in the token
	RoleAdmin        Role = "admin"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RolePatient, RolePractitioner, RoleSecretary, RoleAdmin:
		return true
	}
	return false
}

// Principal is an authenticated caller: the OIDC identity (Issuer, Subject)
// and the Careslot account bound to it (Account = AccountID(Issuer,
// Subject): a patient's or a practitioner's id). Verifiers make it with
// NewPrincipal.
type Principal struct {
	Issuer  string
	Subject string
	Account string
	Role    Role
	// Practitioners lists, for a secretary or a practitioner, the practices
	// (practitioner ids) they are members of and act for, from the
	// memberships claim.
	Practitioners []string
	// Contact is what the identity provider says of the caller's e-mail and
	// phone (the standard OIDC claims), verified or not.
	Contact Contact
}

// Contact is the e-mail address and phone number of the token's standard
// OIDC claims (email, email_verified, phone_number, phone_number_verified),
// as the identity provider sent them.
type Contact struct {
	Email         string
	EmailVerified bool
	Phone         string
	PhoneVerified bool
}

// VerifiedEmail is the e-mail address the identity provider vouches for
// ("" when it does not).
func (c Contact) VerifiedEmail() string {
	if !c.EmailVerified {
		return ""
	}
	return c.Email
}

// VerifiedPhone is the phone number the identity provider vouches for ("" when it does not).
func (c Contact) VerifiedPhone() string {
	if !c.PhoneVerified {
		return ""
	}
	return c.Phone
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the authenticated caller, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// RequireRole returns the caller if they hold one of roles (any authenticated
// caller when roles is empty): UNAUTHENTICATED when anonymous, FORBIDDEN otherwise.
func RequireRole(ctx context.Context, roles ...Role) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, apperr.E(apperr.Unauthenticated, "authentication required")
	}
	if len(roles) > 0 && !slices.Contains(roles, p.Role) {
		return Principal{}, apperr.Forbiddenf("role %q may not do this", p.Role)
	}
	return p, nil
}

// RequirePatient returns the caller if they are a patient.
func RequirePatient(ctx context.Context) (Principal, error) {
	return RequireRole(ctx, RolePatient)
}

// RequireAdmin returns the caller if they are an admin.
func RequireAdmin(ctx context.Context) (Principal, error) {
	return RequireRole(ctx, RoleAdmin)
}

// ActingPractitioner resolves which practitioner the caller acts for.
// requested is the practitionerId argument, possibly empty:
//   - practitioner: their own account, or a practice they are a member of;
//     when empty, their own account; any other id is FORBIDDEN;
//   - secretary: a requested id they are named for; when empty, their only
//     practitioner, or INVALID_INPUT if they act for several (or none);
//   - admin: any requested id (INVALID_INPUT when empty: there is no default);
//   - anyone else: FORBIDDEN.
func ActingPractitioner(ctx context.Context, requested string) (string, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return "", apperr.E(apperr.Unauthenticated, "authentication required")
	}
	switch p.Role {
	case RolePractitioner:
		if requested == "" || requested == p.Account {
			return p.Account, nil
		}
		if slices.Contains(p.Practitioners, requested) {
			return requested, nil
		}
		return "", apperr.Forbiddenf("a practitioner may only act for themselves and their practices")
	case RoleSecretary:
		if requested == "" {
			if len(p.Practitioners) == 1 {
				return p.Practitioners[0], nil
			}
			return "", apperr.Invalid("practitionerId", "practitionerId is required: you act for %d practitioners", len(p.Practitioners))
		}
		if slices.Contains(p.Practitioners, requested) {
			return requested, nil
		}
		return "", apperr.Forbiddenf("you do not act for practitioner %q", requested)
	case RoleAdmin:
		if requested == "" {
			return "", apperr.Invalid("practitionerId", "practitionerId is required")
		}
		return requested, nil
	}
	return "", apperr.Forbiddenf("role %q may not act for a practitioner", p.Role)
}

// CanActForPractitioner reports whether p may act for practitionerID (the
// same rules as ActingPractitioner, for checks on an existing entity).
func CanActForPractitioner(p Principal, practitionerID string) bool {
	if practitionerID == "" {
		return false
	}
	switch p.Role {
	case RolePractitioner:
		return p.Account == practitionerID || slices.Contains(p.Practitioners, practitionerID)
	case RoleSecretary:
		return slices.Contains(p.Practitioners, practitionerID)
	case RoleAdmin:
		return true
	}
	return false
}

// PatientAccount returns the calling patient's account id, the one bound to
// their identity (AccountID of the token's issuer and subject):
// UNAUTHENTICATED when anonymous, FORBIDDEN for another role.
func PatientAccount(ctx context.Context) (string, error) {
	p, err := RequirePatient(ctx)
	if err != nil {
		return "", err
	}
	if !uid.Valid(p.Account) {
		return "", apperr.Forbiddenf("the caller has no account")
	}
	return p.Account, nil
}

package auth

import (
	"context"
	"testing"
)

func TestAccountID(t *testing.T) {
	a := AccountID("https://id.example", "alice")
	if a != AccountID("https://id.example", "alice") || a == AccountID("https://other.example", "alice") ||
		AccountID("ab", "c") == AccountID("a", "bc") {
		t.Fatal("AccountID must be stable and tell identities apart")
	}
	// A subject that is someone's account id names another account.
	if AccountID("https://id.example", a) == a {
		t.Fatal("a subject equal to an account id reaches that account")
	}
}

// TestClaimsFromPaths: roles and memberships from configured claims, as
// providers send them (a list, an object of roles, a nested claim, a URN).
func TestClaimsFromPaths(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"iss": "https://id.example", "sub": "s-1"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		claims Claims
		in     map[string]any
		role   Role
		pracs  int
		refuse bool
	}{
		{"dev tokens", DefaultClaims, base(map[string]any{"role": "secretary", "practitioners": []any{"p1", "p2"}}), RoleSecretary, 2, false},
		{"a list with other applications' roles", Claims{Role: "realm_access.roles"}, base(map[string]any{"realm_access": map[string]any{"roles": []any{"offline_access", "patient"}}}), RolePatient, 0, false},
		{"an object of roles under a URN", Claims{Role: "urn:zitadel:iam:org:project:roles"}, base(map[string]any{"urn:zitadel:iam:org:project:roles": map[string]any{"practitioner": map[string]any{}}}), RolePractitioner, 0, false},
		{"no role, a default", Claims{Role: "role", DefaultRole: RolePatient}, base(nil), RolePatient, 0, false},
		{"no role", DefaultClaims, base(nil), "", 0, true},
		{"an unknown role", DefaultClaims, base(map[string]any{"role": "root"}), "", 0, true},
		{"two roles", DefaultClaims, base(map[string]any{"role": []any{"patient", "admin"}}), "", 0, true},
		{"no issuer", DefaultClaims, map[string]any{"sub": "s-1", "role": "patient"}, "", 0, true},
	}
	for _, c := range cases {
		p, err := c.claims.principal(c.in)
		if c.refuse != (err != nil) || (err == nil && (p.Role != c.role || len(p.Practitioners) != c.pracs || p.Account != AccountID("https://id.example", "s-1"))) {
			t.Errorf("%s: %+v, %v", c.name, p, err)
		}
	}
}

// TestVerifiedPrincipalIsBoundToTheIdentity: a verified token's principal
// carries the identity and its account.
func TestVerifiedPrincipalIsBoundToTheIdentity(t *testing.T) {
	key := newKey(t)
	v := newVerifier(t, key)
	tok := mint(t, key, TokenClaims{Subject: "pat-1", Role: RolePatient})
	p, err := v.Verify(context.Background(), tok)
	if err != nil || p.Issuer != testIssuer || p.Subject != "pat-1" || p.Account != AccountID(testIssuer, "pat-1") {
		t.Fatalf("%+v, %v", p, err)
	}
	acc, err := PatientAccount(WithPrincipal(context.Background(), p))
	if err != nil || acc != p.Account {
		t.Fatalf("PatientAccount = %q, %v", acc, err)
	}
}

// TestContactClaims: the standard OIDC contact claims are read, and only a
// verified claim (true, or "true" as some providers send it) vouches for one.
func TestContactClaims(t *testing.T) {
	base := map[string]any{"iss": "https://id.example", "sub": "s-1", "role": "patient"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name         string
		in           map[string]any
		email, phone string
	}{
		{"none", base, "", ""},
		{"verified e-mail", with(map[string]any{"email": "ana@example.org", "email_verified": true}), "ana@example.org", ""},
		{"verified as a string", with(map[string]any{"email": "ana@example.org", "email_verified": "true"}), "ana@example.org", ""},
		{"unverified e-mail", with(map[string]any{"email": "ana@example.org", "email_verified": false}), "", ""},
		{"e-mail without the claim", with(map[string]any{"email": "ana@example.org"}), "", ""},
		{"verified phone", with(map[string]any{"phone_number": "+33612345678", "phone_number_verified": true}), "", "+33612345678"},
		{"phone verified by a number", with(map[string]any{"phone_number": "+33612345678", "phone_number_verified": 1}), "", ""},
	}
	for _, c := range cases {
		p, err := DefaultClaims.principal(c.in)
		if err != nil || p.Contact.VerifiedEmail() != c.email || p.Contact.VerifiedPhone() != c.phone {
			t.Errorf("%s: %+v, %v", c.name, p.Contact, err)
		}
	}

	// A development token carries them through the verifier.
	key := newKey(t)
	v := newVerifier(t, key)
	p, err := v.Verify(context.Background(), mint(t, key, TokenClaims{Subject: "pat-2", Role: RolePatient,
		Email: "ana@example.org", EmailVerified: true, Phone: "+33612345678"}))
	if err != nil || p.Contact.VerifiedEmail() != "ana@example.org" || p.Contact.Phone != "+33612345678" || p.Contact.VerifiedPhone() != "" {
		t.Fatalf("%+v, %v", p.Contact, err)
	}
}

package auth

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/careslot/careslot/internal/apperr"
)

// accountNamespace is the name-based UUID namespace of account ids (ADR 17).
var accountNamespace = uuid.MustParse("6f1b6a4e-2c55-4b8e-9a43-2f0d7c1e5b90")

// AccountID is the Careslot account of the OIDC identity (issuer, subject):
// a name-based (SHA-1, version 5) UUID of the pair, so every service derives
// it alike, without a lookup, and a token whose subject happens to be
// someone's account id names another account altogether. The issuer's
// length comes first, so no two pairs share a name.
func AccountID(issuer, subject string) string {
	return uuid.NewSHA1(accountNamespace, []byte(strconv.Itoa(len(issuer))+":"+issuer+subject)).String()
}

// NewPrincipal is the caller an identity's verified claims describe: the one
// way every verifier makes a Principal, so that Account is always
// AccountID(issuer, subject).
func NewPrincipal(issuer, subject string, role Role, practitioners []string) Principal {
	p := Principal{Issuer: issuer, Subject: subject, Account: AccountID(issuer, subject), Role: role}
	if role == RoleSecretary || role == RolePractitioner {
		p.Practitioners = practitioners
	}
	return p
}

// Claims says where a token carries the caller's role and practice
// memberships: claim names, or dotted paths into nested claims
// ("realm_access.roles"); a name is tried whole first, so a claim named
// with dots (a URN) works too. A claim may hold a string, a list of strings,
// or an object whose keys are the values (as some providers send roles).
type Claims struct {
	Role          string
	Practitioners string
	// DefaultRole is the role of a token without the role claim ("": such a
	// token is refused).
	DefaultRole Role
}

// DefaultClaims are the development tokens' claims: "role" and "practitioners".
var DefaultClaims = Claims{Role: "role", Practitioners: "practitioners"}

// ClaimsFromEnv reads OIDC_ROLE_CLAIM, OIDC_PRACTITIONERS_CLAIM and
// OIDC_DEFAULT_ROLE (DefaultClaims for those unset).
func ClaimsFromEnv() (Claims, error) {
	c := DefaultClaims
	if v := os.Getenv("OIDC_ROLE_CLAIM"); v != "" {
		c.Role = v
	}
	if v := os.Getenv("OIDC_PRACTITIONERS_CLAIM"); v != "" {
		c.Practitioners = v
	}
	if v := os.Getenv("OIDC_DEFAULT_ROLE"); v != "" {
		c.DefaultRole = Role(v)
		if !c.DefaultRole.Valid() {
			return c, fmt.Errorf("auth: OIDC_DEFAULT_ROLE %q is not a role", v)
		}
	}
	return c, nil
}

// principal reads the caller from verified claims: issuer and subject (both
// required), one known role (unknown values in a list or object are another
// application's and ignored; a plain value that is no role, or two roles, is
// refused), and the practice memberships.
func (c Claims) principal(claims map[string]any) (Principal, error) {
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Principal{}, apperr.E(apperr.Unauthenticated, "token has no subject")
	}
	if iss == "" {
		return Principal{}, apperr.E(apperr.Unauthenticated, "token has no issuer")
	}
	raw, present := lookup(claims, c.Role)
	values, plain := strings_(raw)
	var roles []Role
	for _, v := range values {
		if r := Role(v); r.Valid() && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	var role Role
	switch {
	case !present && c.DefaultRole != "":
		role = c.DefaultRole
	case len(roles) == 1:
		role = roles[0]
	case len(roles) > 1:
		return Principal{}, apperr.E(apperr.Unauthenticated, "token has several roles %v: one identity, one role", roles)
	case plain && len(values) == 1:
		return Principal{}, apperr.E(apperr.Unauthenticated, "token has unknown role %q", values[0])
	default:
		return Principal{}, apperr.E(apperr.Unauthenticated, "token has no role")
	}
	var practitioners []string
	if raw, ok := lookup(claims, c.Practitioners); ok {
		practitioners, _ = strings_(raw)
	}
	p := NewPrincipal(iss, sub, role, practitioners)
	p.Contact = contactOf(claims)
	return p, nil
}

// contactOf reads the standard OIDC contact claims. A *_verified claim is
// true only as the JSON boolean true or the string "true" (some providers
// send strings); anything else, or none, is unverified.
func contactOf(claims map[string]any) Contact {
	email, _ := claims["email"].(string)
	phone, _ := claims["phone_number"].(string)
	return Contact{Email: strings.TrimSpace(email), EmailVerified: isTrue(claims["email_verified"]),
		Phone: strings.TrimSpace(phone), PhoneVerified: isTrue(claims["phone_number_verified"])}
}

func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// lookup finds a claim by its whole name, then by a dotted path.
func lookup(claims map[string]any, name string) (any, bool) {
	if name == "" {
		return nil, false
	}
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// strings_ reads a claim's values: a string (plain), a list's strings, or an
// object's keys (sorted).
func strings_(v any) (values []string, plain bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	case []string:
		values = x
	case map[string]any:
		for k := range x {
			values = append(values, k)
		}
		slices.Sort(values)
	}
	return values, false
}

// Package authtest gives subgraph tests a token verifier without keys: a
// token is "role:subject" or, for a secretary (or a practitioner's practice
// memberships), "role:subject:pid1,pid2". The identity is (Issuer, subject),
// and its account, as with real tokens, auth.AccountID of the pair: see
// Account.
package authtest

import (
	"context"
	"strings"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
)

// Issuer is the issuer of every test token.
const Issuer = "authtest"

// Account is the account id of the test identity subject.
func Account(subject string) string { return auth.AccountID(Issuer, subject) }

// Verifier accepts the plain test tokens described above.
type Verifier struct{}

// Verify turns a test token into its principal.
func (Verifier) Verify(_ context.Context, raw string) (auth.Principal, error) {
	parts := strings.SplitN(raw, ":", 3)
	if len(parts) < 2 || !auth.Role(parts[0]).Valid() || parts[1] == "" {
		return auth.Principal{}, apperr.E(apperr.Unauthenticated, "bad test token")
	}
	var practitioners []string
	if len(parts) == 3 {
		practitioners = strings.Split(parts[2], ",")
	}
	return auth.NewPrincipal(Issuer, parts[1], auth.Role(parts[0]), practitioners), nil
}

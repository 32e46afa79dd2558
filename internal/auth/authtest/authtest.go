// Package authtest gives subgraph tests a token verifier without keys: a
// token is "role:subject" or, for a secretary, "role:subject:pid1,pid2".
package authtest

import (
	"context"
	"strings"

	"github.com/careslot/careslot/internal/apperr"
	"github.com/careslot/careslot/internal/auth"
)

// Verifier accepts the plain test tokens described above.
type Verifier struct{}

// Verify turns a test token into its principal.
func (Verifier) Verify(_ context.Context, raw string) (auth.Principal, error) {
	parts := strings.SplitN(raw, ":", 3)
	if len(parts) < 2 || !auth.Role(parts[0]).Valid() {
		return auth.Principal{}, apperr.E(apperr.Unauthenticated, "bad test token")
	}
	p := auth.Principal{Role: auth.Role(parts[0]), Subject: parts[1]}
	if len(parts) == 3 {
		p.Practitioners = strings.Split(parts[2], ",")
	}
	return p, nil
}

// Package gqltest is the GraphQL client of the subgraphs' tests: gqlclient's,
// failing the test on anything that is not a GraphQL answer, so that a test
// reads as the operation it sends and what it checks of the answer.
package gqltest

import (
	"testing"

	"github.com/careslot/careslot/internal/gqlclient"
)

// Do posts one operation to url (a /graphql endpoint) with a bearer token
// (empty: none) and returns the answer, GraphQL errors included; a transport
// failure or a body that is not a GraphQL response fails the test.
func Do(tb testing.TB, url, token, query string, vars map[string]any) *gqlclient.Response {
	tb.Helper()
	res, err := gqlclient.New(url).Do(tb.Context(), token, query, vars)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

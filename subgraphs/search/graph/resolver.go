// Package graph is the search subgraph's GraphQL edge: gqlgen's generated
// executor plus thin resolvers that map inputs to the business layer and
// index documents to models.
package graph

import (
	"github.com/careslot/careslot/subgraphs/search/business"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
}

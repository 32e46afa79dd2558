// Package graph is the notification subgraph's GraphQL edge: gqlgen's
// generated executor plus thin resolvers that map inputs to the business layer
// and its results to models.
package graph

import (
	"github.com/careslot/careslot/subgraphs/notification/business"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
}

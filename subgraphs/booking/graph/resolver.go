// Package graph is the booking subgraph's GraphQL edge: gqlgen's generated
// executor plus thin resolvers that map inputs to the business layer and its
// results to models.
package graph

import (
	"github.com/careslot/careslot/subgraphs/booking/business"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
	// Live streams agenda changes; nil without Redis.
	Live *business.Live
}

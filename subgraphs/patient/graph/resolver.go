// Package graph is the patient subgraph's GraphQL edge: gqlgen's generated
// executor plus thin resolvers that map inputs to the business layer and its
// results to models.
package graph

import (
	"context"

	"github.com/careslot/careslot/dataloaders"
	"github.com/careslot/careslot/subgraphs/patient/business"
)

// Resolver is the root resolver; it holds the business service.
type Resolver struct {
	Service *business.Service
}

// Loaders are the per-request batch loaders of this subgraph.
type Loaders struct {
	Relatives *dataloaders.Loader[string, []business.Relative]
}

// WithLoaders attaches a fresh loader set to a request's context.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	s := r.Service
	return dataloaders.Attach(ctx, &Loaders{
		Relatives: dataloaders.Grouped(s.RelativesOfPatients, func(x business.Relative) string { return x.GuardianID }),
	})
}

func loaders(ctx context.Context) *Loaders { return dataloaders.From[Loaders](ctx) }

// Package patient is the patient subgraph: patient accounts, their relatives
// and notification preferences.
package patient

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careslot/careslot/internal/auth"
	"github.com/careslot/careslot/internal/countries"
	"github.com/careslot/careslot/internal/gqlserver"
	"github.com/careslot/careslot/subgraphs/patient/business"
	"github.com/careslot/careslot/subgraphs/patient/graph"
	"github.com/careslot/careslot/subgraphs/patient/store"
)

// Name is the service's name in configuration, routing and events.
const Name = "patient"

// Deps are what the subgraph needs from the platform.
type Deps struct {
	Pool      *pgxpool.Pool
	Countries *countries.Catalog
	Verifier  auth.Verifier
	Logger    *slog.Logger
}

// Subgraph is a ready patient service.
type Subgraph struct {
	Service  *business.Service
	resolver *graph.Resolver
	deps     Deps
}

// New builds the subgraph. The patient store is not partitioned, so there is
// nothing to prepare; ctx is kept for symmetry with the other subgraphs.
func New(_ context.Context, deps Deps) (*Subgraph, error) {
	svc := business.New(store.New(deps.Pool), deps.Countries)
	return &Subgraph{Service: svc, resolver: &graph.Resolver{Service: svc}, deps: deps}, nil
}

// NewSchema returns the executable schema.
func (s *Subgraph) NewSchema() graphql.ExecutableSchema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: s.resolver})
}

// Handler serves the subgraph's /graphql endpoint.
func (s *Subgraph) Handler() http.Handler {
	return gqlserver.New(s.NewSchema(), gqlserver.Options{
		Logger:     s.deps.Logger,
		Verifier:   s.deps.Verifier,
		PerRequest: s.resolver.WithLoaders,
	})
}
